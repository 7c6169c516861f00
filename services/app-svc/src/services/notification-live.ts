import { NotificationDeliveryChanged } from "@procode/contracts";
import type { OutboxContext, Sql } from "@procode/service-kit";
import { deliveriesLive } from "../store/notification.repository.js";

/**
 * Publishes notification deliveries as they now stand (the live event
 * `live.notification_delivery.v1`, docs/api.md "Live events"), in the transaction that wrote or
 * attempted them. Only ids, state and attempt count travel: no target URL, body or secret.
 */
export async function emitDeliveriesChanged(
  tx: Pick<OutboxContext, "emit"> & { sql: Sql },
  ids: number[],
): Promise<void> {
  for (const { team, ...data } of await deliveriesLive(tx.sql, ids)) {
    tx.emit(NotificationDeliveryChanged, data, { team });
  }
}
