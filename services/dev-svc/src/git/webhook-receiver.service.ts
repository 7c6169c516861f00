import { randomUUID } from "node:crypto";
import { type WebhookParams, type GitType, type WebhookAck } from "@procode/contracts";
import {
  DomainError,
  invalidParameter,
  isDomainError,
  refuseHostileJson,
  type Database,
  type Logger,
  type Outbox,
} from "@procode/service-kit";
import type { z } from "zod";
import { redactPayload } from "../domain/push-event.js";
import { findRepo } from "../store/git-repo.repository.js";
import { findDelivery, insertReceived, insertRejected } from "../store/webhook-delivery.repository.js";
import type { Secrets } from "./secrets.js";
import { emitWebhookDeliveryChanged } from "./webhook-delivery-live.js";
import { keptHeaders, sha256Hex, verifyDelivery, type Headers } from "./webhook-signatures.js";

export interface ReceiverOptions {
  maxAgeSec: number;
  giteeMaxAgeSec: number;
}

/**
 * The one answer to every refused delivery, whatever the reason (docs/services/dev-svc.md,
 * "Webhooks"): a stranger learns nothing about which apps exist, which are bound, or to which
 * provider. The reason is logged and, for a bound app, stored where its team reads its deliveries.
 */
const REFUSED = "webhook refused: not signed for this app's webhook";

/**
 * Receives a provider's webhook: verifies it against the app's secret over the raw body, stores it
 * (refused ones too, with the reason, when the app has a binding), deduplicates by delivery id, and
 * answers at once; the webhook worker processes it afterwards. A delivery for an app without a
 * binding leaves nothing behind but a log line.
 */
export class WebhookReceiver {
  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
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
    if (!repo || !repo.webhookSecret) {
      this.log.info(
        { appId, gitType, remoteAddr },
        "webhook delivery refused: the app has no repository binding",
      );
      throw new DomainError("BAD_SIGNATURE", REFUSED);
    }
    let secret: string | null = null;
    let refusal: string | null = null;
    if (repo.gitType !== gitType) refusal = `the app's repository is ${repo.gitType}, not ${gitType}`;
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
    // Each delivery stored is announced with it (live.webhook_delivery.v1).
    const rejected = (reason: string) =>
      this.outbox.sqlTransaction(randomUUID(), async (tx) => {
        await emitWebhookDeliveryChanged(tx, await insertRejected(tx.sql, base, reason));
      });
    if (!verdict.ok) {
      await rejected(verdict.reason);
      this.log.warn(
        { appId, gitType, reason: verdict.reason, deliveryId: verdict.deliveryId },
        "webhook delivery refused",
      );
      throw new DomainError("BAD_SIGNATURE", REFUSED);
    }
    // Signed by the provider from here on: what is wrong with the body is said, naming the field.
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
      refuseHostileJson(payload);
    } catch (err) {
      const refused = isDomainError(err) ? err : invalidParameter("body", "is not valid JSON");
      await rejected(refused.message);
      throw refused;
    }
    const seq = await this.outbox.sqlTransaction(randomUUID(), async (tx) => {
      const received = await insertReceived(tx.sql, { ...base, payload: redactPayload(payload) });
      if (received !== null) await emitWebhookDeliveryChanged(tx, received);
      return received;
    });
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
