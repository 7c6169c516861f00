import { createHmac, randomBytes } from "node:crypto";
import { NOTIFICATION_SECRET_PREFIX } from "@procode/contracts";
import { errorMessage, guardedRequest, UrlRefusedError, type UrlPolicy } from "@procode/service-kit";

/** A new signing secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks). */
export function generateWebhookSecret(): string {
  return `${NOTIFICATION_SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

/**
 * The `webhook-signature` header of Standard Webhooks: `v1,` and the base64 HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the secret's bytes (the base64 after `whsec_`).
 */
export function signWebhook(secret: string, webhookId: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.slice(NOTIFICATION_SECRET_PREFIX.length), "base64");
  const mac = createHmac("sha256", key).update(`${webhookId}.${timestampSec}.${body}`).digest("base64");
  return `v1,${mac}`;
}

/** What one attempt came to: the receiver's HTTP status, or why there was none. */
type AttemptResult = { status: number } | { error: string };

export interface WebhookSender {
  send(d: { url: string; secret: string; webhookId: string; body: string }): Promise<AttemptResult>;
}

/**
 * Sends deliveries under the SSRF rules (checked again at each send: the name may resolve elsewhere
 * now), with a bounded time per attempt, redirects answered but never followed.
 */
export function createWebhookSender(opts: {
  policy: UrlPolicy;
  timeoutMs: number;
  now?: () => number;
}): WebhookSender {
  const now = opts.now ?? Date.now;
  return {
    async send({ url, secret, webhookId, body }) {
      const timestamp = Math.floor(now() / 1000);
      try {
        const res = await guardedRequest(url, opts.policy, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "procode-notifications/1",
            "webhook-id": webhookId,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": signWebhook(secret, webhookId, timestamp, body),
          },
          body,
          timeoutMs: opts.timeoutMs,
          followRedirects: false,
          maxBodyBytes: 4096,
        });
        return { status: res.status };
      } catch (err) {
        const refused = [err, (err as { cause?: unknown }).cause].find((e) => e instanceof UrlRefusedError);
        if (refused) return { error: `refused: ${errorMessage(refused)}` };
        const name = (err as Error).name;
        if (name === "AbortError" || name === "TimeoutError" || /timeout/i.test(name)) {
          return { error: `no answer within ${opts.timeoutMs} ms` };
        }
        const cause = (err as { cause?: unknown }).cause;
        return { error: cause ? `${errorMessage(err)}: ${errorMessage(cause)}` : errorMessage(err) };
      }
    },
  };
}
