import { Leases, type Sql } from "@procode/service-kit";
import type {
  NotificationDelivery,
  NotificationDeliveryStatus,
  NotificationEventType,
  SealedSecret,
} from "@procode/contracts";

/**
 * The `app.notification_subscription` and `app.notification_delivery` tables. Subscriptions are read
 * through their app (the caller checks the app is the team's); deliveries are claimed with leases so
 * two replicas never send the same one at once. Each function runs on the `Sql` it is given.
 */

const SUBSCRIPTION = "app.notification_subscription";
const DELIVERY = "app.notification_delivery";

interface SubscriptionRow {
  id: string;
  app_id: string;
  url: string;
  event_types: NotificationEventType[];
  secret: string;
  secret_key_id: string;
  created_by: string;
  created_at: Date;
}

export interface SubscriptionState {
  id: number;
  appId: number;
  url: string;
  eventTypes: NotificationEventType[];
  secret: SealedSecret;
  createdBy: string;
  createdAt: Date;
}

const toSubscription = (r: SubscriptionRow): SubscriptionState => ({
  id: Number(r.id),
  appId: Number(r.app_id),
  url: r.url,
  eventTypes: r.event_types,
  secret: { keyId: r.secret_key_id, ciphertext: r.secret },
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
});

export async function insertSubscription(
  sql: Sql,
  s: {
    appId: number;
    url: string;
    eventTypes: NotificationEventType[];
    secret: SealedSecret;
    createdBy: string;
  },
): Promise<SubscriptionState> {
  const { rows } = await sql.query<SubscriptionRow>(
    `insert into ${SUBSCRIPTION} (app_id, url, event_types, secret, secret_key_id, created_by)
     values ($1, $2, $3, $4, $5, $6) returning *`,
    [s.appId, s.url, s.eventTypes, s.secret.ciphertext, s.secret.keyId, s.createdBy],
  );
  return toSubscription(rows[0]!);
}

export async function countSubscriptions(sql: Sql, appId: number): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(
    `select count(*) as n from ${SUBSCRIPTION} where app_id = $1`,
    [appId],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The app's subscriptions, oldest first. */
export async function listSubscriptions(sql: Sql, appId: number): Promise<SubscriptionState[]> {
  const { rows } = await sql.query<SubscriptionRow>(
    `select * from ${SUBSCRIPTION} where app_id = $1 order by id`,
    [appId],
  );
  return rows.map(toSubscription);
}

export async function findSubscription(
  sql: Sql,
  appId: number,
  id: number,
): Promise<SubscriptionState | null> {
  const { rows } = await sql.query<SubscriptionRow>(
    `select * from ${SUBSCRIPTION} where app_id = $1 and id = $2`,
    [appId, id],
  );
  return rows[0] ? toSubscription(rows[0]) : null;
}

/** Deletes a subscription with its delivery log; false when the app has no such subscription. */
export async function deleteSubscription(sql: Sql, appId: number, id: number): Promise<boolean> {
  const res = await sql.query(`delete from ${SUBSCRIPTION} where app_id = $1 and id = $2`, [appId, id]);
  return res.rowCount === 1;
}

/** One delivery to write for an event: for each subscription of the app that asked for `eventType`. */
export interface NewDeliveries {
  appId: number;
  eventId: string;
  eventType: NotificationEventType;
  /** When the event happened: subscriptions made later are not told about it. */
  occurredAt: string;
  /** The JSON body every attempt sends. */
  body: string;
  retryWindowMs: number;
}

/**
 * Writes a PENDING delivery, due now, for every subscription of the app that asks for the event's
 * type and existed when it happened; a delivery already written for (subscription, event, type) is
 * kept as it is. Returns the ids of those written.
 */
export async function insertDeliveries(sql: Sql, d: NewDeliveries): Promise<number[]> {
  const res = await sql.query<{ id: string }>(
    `insert into ${DELIVERY} (webhook_id, subscription_id, event_id, event_type, body, give_up_at)
     select 'msg_' || replace(gen_random_uuid()::text, '-', ''), s.id, $2::uuid, $3::text, $4::text,
            now() + $5::bigint * interval '1 millisecond'
     from ${SUBSCRIPTION} s
     where s.app_id = $1 and $3::text = any(s.event_types) and s.created_at <= $6::timestamptz
     on conflict (subscription_id, event_id, event_type) do nothing
     returning id`,
    [d.appId, d.eventId, d.eventType, d.body, d.retryWindowMs, d.occurredAt],
    // Named: it runs for every event of the engine, and PostgreSQL then plans it once per connection.
    "app_notification_deliveries_insert",
  );
  return res.rows.map((r) => Number(r.id));
}

/** A delivery as its live event tells it (docs/api.md "Live events"), with its app's team. */
export interface DeliveryLive {
  team: string;
  appId: number;
  subscriptionId: number;
  deliveryId: string;
  status: NotificationDeliveryStatus;
  attempts: number;
}

/** The deliveries `ids` as their live events tell them, in id order. */
export async function deliveriesLive(sql: Sql, ids: number[]): Promise<DeliveryLive[]> {
  if (!ids.length) return [];
  const { rows } = await sql.query<{
    team: string;
    app_id: string;
    subscription_id: string;
    webhook_id: string;
    status: NotificationDeliveryStatus;
    attempts: number;
  }>(
    `select a.team, s.app_id, d.subscription_id, d.webhook_id, d.status, d.attempts
     from ${DELIVERY} d join ${SUBSCRIPTION} s on s.id = d.subscription_id join app.agent_app a on a.id = s.app_id
     where d.id = any($1::bigint[]) order by d.id`,
    [ids],
  );
  return rows.map((r) => ({
    team: r.team,
    appId: Number(r.app_id),
    subscriptionId: Number(r.subscription_id),
    deliveryId: r.webhook_id,
    status: r.status,
    attempts: r.attempts,
  }));
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  subscription_id: string;
  event_id: string;
  event_type: NotificationEventType;
  body: string;
  status: NotificationDeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  next_attempt_at: Date | null;
  give_up_at: Date;
  delivered_at: Date | null;
  created_at: Date;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

const toDeliveryView = (r: DeliveryRow): NotificationDelivery => ({
  id: r.webhook_id,
  eventType: r.event_type,
  eventId: r.event_id,
  status: r.status,
  attempts: r.attempts,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  lastAttemptAt: iso(r.last_attempt_at),
  nextAttemptAt: r.status === "PENDING" ? iso(r.next_attempt_at) : null,
  deliveredAt: iso(r.delivered_at),
  createdAt: new Date(r.created_at).toISOString(),
});

/** A page of a subscription's deliveries, newest first, with the total. */
export async function listDeliveries(
  sql: Sql,
  q: {
    subscriptionId: number;
    status?: NotificationDeliveryStatus | undefined;
    page: number;
    pageSize: number;
  },
): Promise<{ items: NotificationDelivery[]; total: number }> {
  const params: unknown[] = [q.subscriptionId];
  let filter = "subscription_id = $1";
  if (q.status) {
    params.push(q.status);
    filter += ` and status = $2`;
  }
  const [page, count] = await Promise.all([
    sql.query<DeliveryRow>(
      `select * from ${DELIVERY} where ${filter} order by id desc limit $${params.length + 1} offset $${params.length + 2}`,
      [...params, q.pageSize, (q.page - 1) * q.pageSize],
    ),
    sql.query<{ n: string }>(`select count(*) as n from ${DELIVERY} where ${filter}`, params),
  ]);
  return { items: page.rows.map(toDeliveryView), total: Number(count.rows[0]?.n ?? 0) };
}

/** A delivery claimed for an attempt, with what sending it needs. */
export interface DueDelivery {
  id: number;
  webhookId: string;
  url: string;
  secret: SealedSecret;
  body: string;
  attempts: number;
  giveUpAt: Date;
}

const leases = new Leases({ table: DELIVERY, key: "id", until: "lease_until", owner: "lease_owner" });

/**
 * Leases up to `limit` PENDING deliveries whose next attempt is due, oldest due first, to `owner`
 * for `ms` (SKIP LOCKED: replicas claiming at once never take the same one).
 */
export async function claimDueDeliveries(
  sql: Sql,
  q: { owner: string; limit: number; ms: number },
): Promise<DueDelivery[]> {
  const claimed = await leases.claimDue<DeliveryRow>(sql, {
    due: `status = 'PENDING' and next_attempt_at <= now() and ${leases.free}`,
    orderBy: "next_attempt_at",
    limit: q.limit,
    ms: q.ms,
    owner: q.owner,
  });
  if (!claimed.length) return [];
  const subs = await sql.query<SubscriptionRow>(
    `select * from ${SUBSCRIPTION} where id = any($1::bigint[])`,
    [[...new Set(claimed.map((c) => c.subscription_id))]],
  );
  const byId = new Map(subs.rows.map((s) => [s.id, toSubscription(s)]));
  return claimed.flatMap((c) => {
    const sub = byId.get(c.subscription_id);
    if (!sub) return [];
    return [
      {
        id: Number(c.id),
        webhookId: c.webhook_id,
        url: sub.url,
        secret: sub.secret,
        body: c.body,
        attempts: c.attempts,
        giveUpAt: new Date(c.give_up_at),
      },
    ];
  });
}

/** An attempt's outcome, recorded only while `owner` still holds the delivery's lease. */
export async function recordAttempt(
  sql: Sql,
  a: {
    id: number;
    owner: string;
    status: NotificationDeliveryStatus;
    statusCode: number | null;
    error: string | null;
    nextAttemptAt: Date | null;
  },
): Promise<boolean> {
  const res = await sql.query(
    `update ${DELIVERY} set attempts = attempts + 1, status = $3::text, last_status_code = $4, last_error = $5,
       last_attempt_at = now(), next_attempt_at = $6,
       delivered_at = case when $3::text = 'DELIVERED' then now() else null end,
       lease_owner = null, lease_until = null
     where id = $1 and lease_owner = $2 and status = 'PENDING'`,
    [a.id, a.owner, a.status, a.statusCode, a.error, a.nextAttemptAt],
  );
  return res.rowCount === 1;
}

/** Gives back every delivery lease `owner` holds (a replica stopping in the middle of its attempts). */
export async function releaseDeliveries(sql: Sql, owner: string): Promise<number> {
  return leases.giveBackAll(sql, owner);
}
