import { type WebhookParams, type GitType, type WebhookAck } from "@procode/contracts";
import { DomainError, type Logger, type Database } from "@procode/service-kit";
import type { z } from "zod";
import { redactPayload } from "../domain/push-event.js";
import { findRepo } from "../store/git-repo.repository.js";
import { findDelivery, insertReceived, insertRejected } from "../store/webhook-delivery.repository.js";
import type { Secrets } from "./secrets.js";
import { keptHeaders, sha256Hex, verifyDelivery, type Headers } from "./webhook-signatures.js";

export interface ReceiverOptions {
  maxAgeSec: number;
  giteeMaxAgeSec: number;
}

/**
 * Receives a provider's webhook: verifies it against the app's secret over the raw body, stores it
 * (refused ones too, with the reason), deduplicates by delivery id, and answers at once; the webhook
 * worker processes it afterwards.
 */
export class WebhookReceiver {
  constructor(
    private readonly db: Database,
    private readonly secrets: Secrets,
    private readonly log: Logger,
    private readonly opts: ReceiverOptions,
    private readonly onQueued: () => void,
  ) {}

  async receive(
    params: z.infer<typeof WebhookParams>,
    body: Buffer,
    headers: Headers,
    remoteAddr: string | null,
  ): Promise<WebhookAck> {
    const gitType = params.gitType.toUpperCase() as GitType;
    const appId = params.appId;
    const sql = this.db.sql;
    const repo = await findRepo(sql, appId);
    let secret: string | null = null;
    let refusal: string | null = null;
    if (!repo || !repo.webhookSecret) refusal = "no repository binding for this app";
    else if (repo.gitType !== gitType) refusal = `the app's repository is ${repo.gitType}, not ${gitType}`;
    else {
      try {
        secret = this.secrets.openWebhookSecret(repo.webhookSecret);
      } catch {
        refusal = "the app's webhook secret cannot be opened";
        this.log.error(
          { appId, keyId: repo.webhookSecret.keyId },
          "webhook secret cannot be opened; check ENCRYPTION_KEYS",
        );
      }
    }
    const verdict = secret
      ? verifyDelivery(gitType, secret, body, headers, {
          now: Date.now(),
          maxAgeSec: this.opts.maxAgeSec,
          giteeMaxAgeSec: this.opts.giteeMaxAgeSec,
        })
      : {
          ok: false as const,
          reason: refusal ?? "refused",
          deliveryId: `sha256:${sha256Hex(body)}`,
          event: null,
        };
    const base = {
      appId,
      gitType,
      deliveryId: verdict.deliveryId,
      event: verdict.event?.slice(0, 100) ?? null,
      headers: keptHeaders(headers),
      bodySha256: sha256Hex(body),
      bodyBytes: body.length,
      remoteAddr,
    };
    if (!verdict.ok) {
      await insertRejected(sql, base, verdict.reason);
      this.log.warn(
        { appId, gitType, reason: verdict.reason, deliveryId: verdict.deliveryId },
        "webhook delivery refused",
      );
      throw new DomainError("BAD_SIGNATURE", `webhook refused: ${verdict.reason}`);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      await insertRejected(sql, base, "the body is not JSON");
      throw new DomainError("INVALID_PARAMETER", "body: is not valid JSON", {
        fields: [{ field: "body", message: "is not valid JSON" }],
      });
    }
    const seq = await insertReceived(sql, { ...base, payload: redactPayload(payload) });
    if (seq === null) {
      const first = await findDelivery(sql, appId, gitType, verdict.deliveryId);
      this.log.info(
        { appId, gitType, deliveryId: verdict.deliveryId, status: first?.status },
        "webhook delivery repeated; ignored",
      );
      return { deliveryId: verdict.deliveryId, duplicate: true };
    }
    this.onQueued();
    return { deliveryId: verdict.deliveryId, duplicate: false };
  }
}
