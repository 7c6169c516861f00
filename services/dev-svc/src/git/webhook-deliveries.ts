import type { Actor, Page, PageQuery, WebhookDelivery } from "@procode/contracts";
import type { Database } from "@procode/service-kit";
import { listDeliveries } from "../store/webhook-delivery.repository.js";
import { requireTeamApp } from "./app-access.js";

/** The webhook deliveries of an app, newest first, for people checking why a push did (not) arrive. */
export class WebhookDeliveries {
  constructor(private readonly db: Database) {}

  async latest(actor: Actor, appId: number, q: PageQuery): Promise<Page<WebhookDelivery>> {
    const sql = this.db.sql;
    await requireTeamApp(sql, actor, appId);
    const { items, total } = await listDeliveries(sql, appId, {
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    });
    const views = items.map((d) => ({
      deliveryId: d.deliveryId,
      gitType: d.gitType,
      event: d.event,
      status: d.status,
      reason: d.reason,
      receivedAt: d.receivedAt,
    }));
    return { items: views, total, page: q.page, pageSize: q.pageSize };
  }
}
