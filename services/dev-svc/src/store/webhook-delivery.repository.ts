import type { GitType } from "@procode/contracts";
import { nowPlusMs, type Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

type DeliveryStatus = "RECEIVED" | "PROCESSED" | "IGNORED" | "FAILED" | "REJECTED";

export interface DeliveryRecord {
  seq: number;
  appId: number;
  gitType: GitType;
  deliveryId: string;
  event: string | null;
  status: DeliveryStatus;
  reason: string | null;
  headers: Record<string, string>;
  payload: unknown;
  bodySha256: string;
  attempts: number;
  receivedAt: string;
}

interface Row {
  id: string;
  app_id: string;
  git_type: GitType;
  delivery_id: string;
  event: string | null;
  status: DeliveryStatus;
  reason: string | null;
  headers: Record<string, string>;
  payload: unknown;
  body_sha256: string;
  attempts: number;
  received_at: Date;
}

const toRecord = (r: Row): DeliveryRecord => ({
  seq: Number(r.id),
  appId: Number(r.app_id),
  gitType: r.git_type,
  deliveryId: r.delivery_id,
  event: r.event,
  status: r.status,
  reason: r.reason,
  headers: r.headers,
  payload: r.payload,
  bodySha256: r.body_sha256,
  attempts: r.attempts,
  receivedAt: iso(r.received_at)!,
});

export interface NewDelivery {
  appId: number;
  gitType: GitType;
  deliveryId: string;
  event: string | null;
  headers: Record<string, string>;
  payload: unknown;
  bodySha256: string;
  bodyBytes: number;
  remoteAddr: string | null;
}

/** Queues a verified delivery; null when the same delivery id was already received (a replay). */
export async function insertReceived(db: Sql, d: NewDelivery): Promise<number | null> {
  const row =
    (
      await db.query<{ id: string }>(
        `insert into ${S}.webhook_delivery (app_id, git_type, delivery_id, event, status, headers, payload, body_sha256,
       body_bytes, remote_addr, next_attempt_at)
     values ($1, $2, $3, $4, 'RECEIVED', $5::jsonb, $6::jsonb, $7, $8, $9, now())
     on conflict (app_id, git_type, delivery_id) where status <> 'REJECTED' do nothing
     returning id`,
        [
          d.appId,
          d.gitType,
          d.deliveryId,
          d.event,
          JSON.stringify(d.headers),
          JSON.stringify(d.payload),
          d.bodySha256,
          d.bodyBytes,
          d.remoteAddr,
        ],
      )
    ).rows[0] ?? null;
  return row ? Number(row.id) : null;
}

/** Records a refused delivery with its reason (no payload: it was not authenticated); its id. */
export async function insertRejected(
  db: Sql,
  d: Omit<NewDelivery, "payload">,
  reason: string,
): Promise<number> {
  const res = await db.query<{ id: string }>(
    `insert into ${S}.webhook_delivery (app_id, git_type, delivery_id, event, status, reason, headers, body_sha256,
       body_bytes, remote_addr, processed_at)
     values ($1, $2, $3, $4, 'REJECTED', $5, $6::jsonb, $7, $8, $9, now())
     returning id`,
    [
      d.appId,
      d.gitType,
      d.deliveryId,
      d.event,
      reason,
      JSON.stringify(d.headers),
      d.bodySha256,
      d.bodyBytes,
      d.remoteAddr,
    ],
  );
  return Number(res.rows[0]!.id);
}

/** A delivery by its id (any status). */
export async function findDeliveryBySeq(db: Sql, seq: number): Promise<DeliveryRecord | null> {
  const r = (await db.query<Row>(`select * from ${S}.webhook_delivery where id = $1`, [seq])).rows[0];
  return r ? toRecord(r) : null;
}

/** The queued deliveries that are due, oldest first, locked for this transaction. */
export async function lockDueDeliveries(db: Sql, limit: number): Promise<DeliveryRecord[]> {
  return (
    await db.query<Row>(
      `select * from ${S}.webhook_delivery where status = 'RECEIVED' and next_attempt_at <= now()
       order by id limit $1 for update skip locked`,
      [limit],
    )
  ).rows.map(toRecord);
}

export async function finishDelivery(
  db: Sql,
  seq: number,
  status: "PROCESSED" | "IGNORED" | "FAILED",
  reason: string | null,
): Promise<void> {
  await db.query(
    `update ${S}.webhook_delivery set status = $1, reason = $2, processed_at = now(), next_attempt_at = null,
       attempts = attempts + 1 where id = $3`,
    [status, reason, seq],
  );
}

export async function retryDelivery(db: Sql, seq: number, reason: string, delayMs: number): Promise<void> {
  await db.query(
    `update ${S}.webhook_delivery set reason = $1, attempts = attempts + 1,
       next_attempt_at = ${nowPlusMs("$2")} where id = $3`,
    [reason, delayMs, seq],
  );
}

export async function findDelivery(
  db: Sql,
  appId: number,
  gitType: GitType,
  deliveryId: string,
): Promise<DeliveryRecord | null> {
  const r =
    (
      await db.query<Row>(
        `select * from ${S}.webhook_delivery where app_id = $1 and git_type = $2 and delivery_id = $3 and status <> 'REJECTED'`,
        [appId, gitType, deliveryId],
      )
    ).rows[0] ?? null;
  return r ? toRecord(r) : null;
}

/** A page of an app's deliveries, newest first, with the total. */
export async function listDeliveries(
  db: Sql,
  appId: number,
  page: { limit: number; offset: number },
): Promise<{ items: DeliveryRecord[]; total: number }> {
  const rows = (
    await db.query<Row>(
      `select * from ${S}.webhook_delivery where app_id = $1 order by id desc limit $2 offset $3`,
      [appId, page.limit, page.offset],
    )
  ).rows;
  const total =
    (
      await db.query<{ n: string }>(`select count(*) as n from ${S}.webhook_delivery where app_id = $1`, [
        appId,
      ])
    ).rows[0] ?? null;
  return { items: rows.map(toRecord), total: Number(total?.n ?? 0) };
}

export async function purgeDeliveries(db: Sql, olderThanDays: number): Promise<number> {
  const res = await db.query(
    `delete from ${S}.webhook_delivery where status <> 'RECEIVED' and received_at < now() - ($1 || ' days')::interval`,
    [String(olderThanDays)],
  );
  return res.rowCount;
}
