import type { Actor, WebhookDelivery } from "@procode/contracts";
import type { Orm } from "@procode/service-kit";
import { listDeliveries } from "../store/webhook-delivery.repository.js";
import { requireTeamApp } from "./app-access.js";

/** The latest webhook deliveries of an app, for people checking why a push did (not) arrive. */
export class WebhookDeliveries {
  constructor(private readonly orm: Orm) {}

  async latest(actor: Actor, appId: number): Promise<WebhookDelivery[]> {
    const em = this.orm.em.fork();
    await requireTeamApp(em, actor, appId);
    return (await listDeliveries(em, appId, 50)).map((d) => ({
      deliveryId: d.deliveryId,
      gitType: d.gitType,
      event: d.event,
      status: d.status,
      reason: d.reason,
      receivedAt: d.receivedAt,
    }));
  }
}
