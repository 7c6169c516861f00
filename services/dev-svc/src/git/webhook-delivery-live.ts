import { WebhookDeliveryChanged } from "@procode/contracts";
import type { OutboxContext, Sql } from "@procode/service-kit";
import { findRepo } from "../store/git-repo.repository.js";
import { findDeliveryBySeq } from "../store/webhook-delivery.repository.js";

/**
 * Publishes a webhook delivery as it now stands (the live event `live.webhook_delivery.v1`,
 * docs/api.md "Live events"), in the transaction that recorded or processed it: its id, status and
 * reason, as the deliveries list shows them; never its headers, payload or signature.
 */
export async function emitWebhookDeliveryChanged(
  tx: Pick<OutboxContext, "emit"> & { sql: Sql },
  seq: number,
): Promise<void> {
  const d = await findDeliveryBySeq(tx.sql, seq);
  const repo = d && (await findRepo(tx.sql, d.appId));
  if (!d || !repo) return;
  tx.emit(
    WebhookDeliveryChanged,
    { appId: d.appId, deliveryId: d.deliveryId, status: d.status, reason: d.reason },
    { team: repo.team },
  );
}
