import { createHash, createHmac } from "node:crypto";
import type { GitType } from "@procode/contracts";
import { safeEqual } from "@procode/service-kit";

/**
 * Verification of webhook deliveries, over the raw bytes received and in constant
 * time. A delivery that passes yields its delivery id (for deduplication) and event name.
 */
export type Headers = Record<string, string | string[] | undefined>;

export type Verdict =
  | { ok: true; deliveryId: string; event: string | null }
  | { ok: false; reason: string; deliveryId: string; event: string | null };

export interface VerifyOptions {
  /** Unix time in ms (tests pass their own clock). */
  now: number;
  /** Window for LOCAL and GitLab signing-token deliveries (seconds). */
  maxAgeSec: number;
  /** Window for Gitee's X-Gitee-Timestamp (seconds). */
  giteeMaxAgeSec: number;
}

function header(headers: Headers, name: string): string | null {
  const v = headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" && s.length > 0 ? s : null;
}

export const sha256Hex = (body: Buffer | string) => createHash("sha256").update(body).digest("hex");

/** A provider's delivery id when it is usable as a key, else one derived from the body. */
function deliveryIdOf(candidate: string | null, body: Buffer): string {
  if (candidate && /^[A-Za-z0-9._:-]{1,200}$/.test(candidate)) return candidate;
  return `sha256:${sha256Hex(body)}`;
}

function withinWindow(tsSec: number, now: number, maxAgeSec: number): boolean {
  return Number.isFinite(tsSec) && Math.abs(now / 1000 - tsSec) <= maxAgeSec;
}

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. */
export function githubSignatureValid(
  secret: string,
  body: Buffer | string,
  signatureHeader: string | null,
): boolean {
  if (!signatureHeader?.startsWith("sha256=")) return false;
  const expected = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  return safeEqual(signatureHeader.toLowerCase(), expected);
}

/** GitLab signing token: `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`. */
export function gitlabSignatureValid(
  secret: string,
  id: string,
  timestamp: string,
  body: Buffer,
  signatures: string,
): boolean {
  const key = secret.startsWith("whsec_")
    ? Buffer.from(secret.slice(6), "base64")
    : Buffer.from(secret, "utf8");
  const expected = `v1,${createHmac("sha256", key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
    .digest("base64")}`;
  let match = false;
  // Several space-separated signatures may be sent (key rotation); each is compared, none short-circuits.
  for (const candidate of signatures.split(" ").filter(Boolean))
    match = safeEqual(candidate, expected) || match;
  return match;
}

/** Gitee signature mode: `X-Gitee-Token = base64(HMAC-SHA256(secret, "<timestamp ms>\n<secret>"))`. */
export function giteeSignature(secret: string, timestampMs: string): string {
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64");
}

/** LOCAL: `X-Procode-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>` (the post-receive hook). */
export function localSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function verifyDelivery(
  gitType: GitType,
  secret: string,
  body: Buffer,
  headers: Headers,
  o: VerifyOptions,
): Verdict {
  switch (gitType) {
    case "GITHUB": {
      const event = header(headers, "x-github-event");
      const deliveryId = deliveryIdOf(header(headers, "x-github-delivery"), body);
      const sig = header(headers, "x-hub-signature-256");
      if (!sig) return { ok: false, reason: "X-Hub-Signature-256 is missing", deliveryId, event };
      if (!githubSignatureValid(secret, body, sig))
        return { ok: false, reason: "X-Hub-Signature-256 does not match the body", deliveryId, event };
      return { ok: true, deliveryId, event };
    }
    case "GITLAB": {
      const event = header(headers, "x-gitlab-event");
      const id = header(headers, "webhook-id");
      const deliveryId = deliveryIdOf(
        header(headers, "idempotency-key") ?? header(headers, "x-gitlab-event-uuid") ?? id,
        body,
      );
      const signature = header(headers, "webhook-signature");
      if (signature) {
        const ts = header(headers, "webhook-timestamp");
        if (!id || !ts)
          return { ok: false, reason: "webhook-id or webhook-timestamp is missing", deliveryId, event };
        if (!withinWindow(Number(ts), o.now, o.maxAgeSec))
          return {
            ok: false,
            reason: `webhook-timestamp is outside the ${o.maxAgeSec} s window`,
            deliveryId,
            event,
          };
        if (!gitlabSignatureValid(secret, id, ts, body, signature))
          return { ok: false, reason: "webhook-signature does not match the body", deliveryId, event };
        return { ok: true, deliveryId, event };
      }
      const token = header(headers, "x-gitlab-token");
      if (!token) return { ok: false, reason: "X-Gitlab-Token is missing", deliveryId, event };
      if (!safeEqual(token, secret))
        return { ok: false, reason: "X-Gitlab-Token does not match", deliveryId, event };
      return { ok: true, deliveryId, event };
    }
    case "GITEE": {
      const event = header(headers, "x-gitee-event");
      const deliveryId = `sha256:${sha256Hex(body)}`;
      const token = header(headers, "x-gitee-token");
      const ts = header(headers, "x-gitee-timestamp");
      if (!token || !ts)
        return { ok: false, reason: "X-Gitee-Token or X-Gitee-Timestamp is missing", deliveryId, event };
      if (!/^\d{10,16}$/.test(ts) || !withinWindow(Number(ts) / 1000, o.now, o.giteeMaxAgeSec))
        return {
          ok: false,
          reason: `X-Gitee-Timestamp is outside the ${o.giteeMaxAgeSec} s window`,
          deliveryId,
          event,
        };
      // Signature mode (what dev-svc installs) or password mode; both compared in full.
      const signed = safeEqual(token, giteeSignature(secret, ts));
      const password = safeEqual(token, secret);
      if (!signed && !password)
        return { ok: false, reason: "X-Gitee-Token does not match", deliveryId, event };
      return { ok: true, deliveryId, event };
    }
    case "LOCAL": {
      const event = header(headers, "x-procode-event");
      const deliveryId = deliveryIdOf(header(headers, "x-procode-delivery"), body);
      const sig = header(headers, "x-procode-signature-256");
      const ts = header(headers, "x-procode-timestamp");
      if (!sig || !ts || !header(headers, "x-procode-delivery"))
        return {
          ok: false,
          reason: "X-Procode-Signature-256, -Timestamp or -Delivery is missing",
          deliveryId,
          event,
        };
      if (!withinWindow(Number(ts), o.now, o.maxAgeSec))
        return {
          ok: false,
          reason: `X-Procode-Timestamp is outside the ${o.maxAgeSec} s window`,
          deliveryId,
          event,
        };
      if (!safeEqual(sig.toLowerCase(), localSignature(secret, body)))
        return { ok: false, reason: "X-Procode-Signature-256 does not match the body", deliveryId, event };
      // The signed body repeats the timestamp and delivery id, so neither header can be swapped.
      let signed: { timestamp?: unknown; deliveryId?: unknown } = {};
      try {
        signed = JSON.parse(body.toString("utf8")) as typeof signed;
      } catch {
        return { ok: false, reason: "the body is not JSON", deliveryId, event };
      }
      if (String(signed.timestamp) !== ts || signed.deliveryId !== header(headers, "x-procode-delivery"))
        return {
          ok: false,
          reason: "the timestamp or delivery id headers differ from the signed body",
          deliveryId,
          event,
        };
      return { ok: true, deliveryId, event };
    }
  }
}

/** Headers kept with a stored delivery: identification only, never tokens or signatures. */
const KEPT_HEADERS = [
  "content-type",
  "user-agent",
  "x-github-event",
  "x-github-delivery",
  "x-github-hook-id",
  "x-gitlab-event",
  "x-gitlab-event-uuid",
  "x-gitlab-webhook-uuid",
  "x-gitlab-instance",
  "idempotency-key",
  "webhook-id",
  "webhook-timestamp",
  "x-gitee-event",
  "x-gitee-timestamp",
  "x-gitee-ping",
  "x-procode-event",
  "x-procode-delivery",
  "x-procode-timestamp",
];

export function keptHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = header(headers, name);
    if (v) out[name] = v.slice(0, 300);
  }
  return out;
}
