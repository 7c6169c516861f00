import {
  MAX_NOTIFICATIONS_PER_APP,
  type Actor,
  type CreatedNotification,
  type CreateNotificationRequest,
  type DeletedNotification,
  type ListNotificationDeliveriesQuery,
  type Notification,
  type NotificationBody,
  type NotificationDelivery,
  type Page,
  type PageQuery,
} from "@procode/contracts";
import {
  checkOutboundTarget,
  DomainError,
  invalidParameter,
  UrlRefusedError,
  type Database,
  type KeyRing,
  type Logger,
  type Outbox,
  type UrlPolicy,
} from "@procode/service-kit";
import type { NotificationOf } from "../domain/notification.js";
import { generateWebhookSecret } from "../integrations/webhook-sender.js";
import { findAppForTeam } from "../store/app.repository.js";
import {
  countSubscriptions,
  deleteSubscription,
  findSubscription,
  insertDeliveries,
  insertSubscription,
  listDeliveries,
  listSubscriptions,
  type SubscriptionState,
} from "../store/notification.repository.js";
import { withDatabase } from "./database.js";
import { emitDeliveriesChanged } from "./notification-live.js";

export interface NotificationServiceDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
  /** Seals the subscriptions' signing secrets. */
  keyRing: KeyRing;
  /** The SSRF rules a target must pass (docs/services/app-svc.md "Notifications"). */
  policy: UrlPolicy;
  /** How long after its event a delivery is tried. */
  retryWindowMs: number;
  /** Called after deliveries were written, so the worker sends them now. */
  onDeliveries: () => void;
}

const appNotFound = (id: number) => new DomainError("APP_NOT_FOUND", `app ${id} not found`);
const subscriptionNotFound = (appId: number, id: number) =>
  new DomainError("NOTIFICATION_NOT_FOUND", `app ${appId} has no notification subscription ${id}`);

/** A subscription as the API shows it: never its secret. */
const toView = (s: SubscriptionState): Notification => ({
  id: s.id,
  appId: s.appId,
  url: s.url,
  eventTypes: s.eventTypes,
  createdBy: s.createdBy,
  createdAt: s.createdAt.toISOString(),
});

/**
 * An app's notification subscriptions and their delivery log, and the deliveries the
 * platform's events make. Every call is scoped to the caller's team through the app: another team's
 * app, its subscriptions and deliveries answer exactly as missing ones.
 */
export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  private async requireApp(actor: Actor, appId: number): Promise<void> {
    const found = await withDatabase(this.deps.db, () => findAppForTeam(this.deps.db.sql, appId, actor.team));
    if (!found) throw appNotFound(appId);
  }

  async create(
    actor: Actor,
    appId: number,
    body: CreateNotificationRequest,
    correlationId: string,
  ): Promise<CreatedNotification> {
    await this.requireApp(actor, appId);
    let url: URL;
    try {
      url = await checkOutboundTarget(body.url, this.deps.policy);
    } catch (err) {
      if (err instanceof UrlRefusedError) throw invalidParameter("url", err.message);
      throw err;
    }
    const secret = body.secret ?? generateWebhookSecret();
    const created = await withDatabase(this.deps.db, () =>
      this.deps.db.transaction(async (sql) => {
        // The app's row is held so two creates at once cannot both pass the limit.
        if (!(await findAppForTeam(sql, appId, actor.team, { lock: true }))) throw appNotFound(appId);
        if ((await countSubscriptions(sql, appId)) >= MAX_NOTIFICATIONS_PER_APP) {
          throw new DomainError(
            "NOTIFICATION_LIMIT_REACHED",
            `app ${appId} already has ${MAX_NOTIFICATIONS_PER_APP} notification subscriptions; delete one first`,
          );
        }
        return insertSubscription(sql, {
          appId,
          url: url.toString(),
          eventTypes: body.eventTypes,
          secret: this.deps.keyRing.seal(secret),
          createdBy: actor.sub,
        });
      }),
    );
    this.deps.log.info(
      { correlationId, appId, subscriptionId: created.id, eventTypes: created.eventTypes },
      "notification subscription created",
    );
    return { ...toView(created), secret };
  }

  async list(actor: Actor, appId: number, query: PageQuery): Promise<Page<Notification>> {
    await this.requireApp(actor, appId);
    const all = await withDatabase(this.deps.db, () => listSubscriptions(this.deps.db.sql, appId));
    const start = (query.page - 1) * query.pageSize;
    return {
      items: all.slice(start, start + query.pageSize).map(toView),
      total: all.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  async delete(actor: Actor, appId: number, id: number, correlationId: string): Promise<DeletedNotification> {
    await this.requireApp(actor, appId);
    const deleted = await withDatabase(this.deps.db, () => deleteSubscription(this.deps.db.sql, appId, id));
    if (!deleted) throw subscriptionNotFound(appId, id);
    this.deps.log.info({ correlationId, appId, subscriptionId: id }, "notification subscription deleted");
    return { id, deleted: true };
  }

  async deliveries(
    actor: Actor,
    appId: number,
    id: number,
    query: ListNotificationDeliveriesQuery,
  ): Promise<Page<NotificationDelivery>> {
    await this.requireApp(actor, appId);
    const sub = await withDatabase(this.deps.db, () => findSubscription(this.deps.db.sql, appId, id));
    if (!sub) throw subscriptionNotFound(appId, id);
    const { items, total } = await withDatabase(this.deps.db, () =>
      listDeliveries(this.deps.db.sql, { subscriptionId: id, ...query }),
    );
    return { items, total, page: query.page, pageSize: query.pageSize };
  }

  /**
   * The deliveries one platform event makes, written in the transaction that records the event as
   * processed by `consumer`: a redelivered event finds its claim and writes nothing ("duplicate").
   */
  async onEvent(
    consumer: string,
    event: { id: string; occurredAt: string; correlationId: string },
    notifications: NotificationOf[],
  ): Promise<"done" | "duplicate" | "ignored"> {
    const written = await this.deps.outbox.sqlTransaction(event.correlationId, async (tx) => {
      if (!(await tx.claim(consumer, event.id))) return null;
      let n = 0;
      for (const { type, data } of notifications) {
        const body: NotificationBody = { type, timestamp: event.occurredAt, data };
        const ids = await insertDeliveries(tx.sql, {
          appId: data.appId,
          eventId: event.id,
          eventType: type,
          occurredAt: event.occurredAt,
          body: JSON.stringify(body),
          retryWindowMs: this.deps.retryWindowMs,
        });
        await emitDeliveriesChanged(tx, ids);
        n += ids.length;
      }
      return n;
    });
    if (written === null) return "duplicate";
    if (written === 0) return "ignored";
    this.deps.log.debug({ eventId: event.id, deliveries: written }, "notification deliveries written");
    this.deps.onDeliveries();
    return "done";
  }
}
