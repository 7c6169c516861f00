import type { GitType } from "@procode/contracts";
import { all, iso, one, run, S, type Db } from "./sql.js";

export type DeliveryStatus = "RECEIVED" | "PROCESSED" | "IGNORED" | "FAILED" | "REJECTED";

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
export async function insertReceived(em: Db, d: NewDelivery): Promise<number | null> {
  const row = await one<{ id: string }>(
    em,
    `insert into ${S}.webhook_delivery (app_id, git_type, delivery_id, event, status, headers, payload, body_sha256,
       body_bytes, remote_addr, next_attempt_at)
     values (?, ?, ?, ?, 'RECEIVED', ?::jsonb, ?::jsonb, ?, ?, ?, now())
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
  );
  return row ? Number(row.id) : null;
}

/** Records a refused delivery with its reason (no payload: it was not authenticated). */
export async function insertRejected(em: Db, d: Omit<NewDelivery, "payload">, reason: string): Promise<void> {
  await run(
    em,
    `insert into ${S}.webhook_delivery (app_id, git_type, delivery_id, event, status, reason, headers, body_sha256,
       body_bytes, remote_addr, processed_at)
     values (?, ?, ?, ?, 'REJECTED', ?, ?::jsonb, ?, ?, ?, now())`,
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
}

/** The queued deliveries that are due, oldest first, locked for this transaction. */
export async function lockDueDeliveries(em: Db, limit: number): Promise<DeliveryRecord[]> {
  return (
    await all<Row>(
      em,
      `select * from ${S}.webhook_delivery where status = 'RECEIVED' and next_attempt_at <= now()
       order by id limit ? for update skip locked`,
      [limit],
    )
  ).map(toRecord);
}

export async function finishDelivery(
  em: Db,
  seq: number,
  status: "PROCESSED" | "IGNORED" | "FAILED",
  reason: string | null,
): Promise<void> {
  await run(
    em,
    `update ${S}.webhook_delivery set status = ?, reason = ?, processed_at = now(), next_attempt_at = null,
       attempts = attempts + 1 where id = ?`,
    [status, reason, seq],
  );
}

export async function retryDelivery(em: Db, seq: number, reason: string, delayMs: number): Promise<void> {
  await run(
    em,
    `update ${S}.webhook_delivery set reason = ?, attempts = attempts + 1,
       next_attempt_at = now() + (? || ' milliseconds')::interval where id = ?`,
    [reason, String(delayMs), seq],
  );
}

export async function findDelivery(
  em: Db,
  appId: number,
  gitType: GitType,
  deliveryId: string,
): Promise<DeliveryRecord | null> {
  const r = await one<Row>(
    em,
    `select * from ${S}.webhook_delivery where app_id = ? and git_type = ? and delivery_id = ? and status <> 'REJECTED'`,
    [appId, gitType, deliveryId],
  );
  return r ? toRecord(r) : null;
}

/** A page of an app's deliveries, newest first, with the total. */
export async function listDeliveries(
  em: Db,
  appId: number,
  page: { limit: number; offset: number },
): Promise<{ items: DeliveryRecord[]; total: number }> {
  const rows = await all<Row>(
    em,
    `select * from ${S}.webhook_delivery where app_id = ? order by id desc limit ? offset ?`,
    [appId, page.limit, page.offset],
  );
  const total = await one<{ n: string }>(
    em,
    `select count(*) as n from ${S}.webhook_delivery where app_id = ?`,
    [appId],
  );
  return { items: rows.map(toRecord), total: Number(total?.n ?? 0) };
}

export async function purgeDeliveries(em: Db, olderThanDays: number): Promise<number> {
  return run(
    em,
    `delete from ${S}.webhook_delivery where status <> 'RECEIVED' and received_at < now() - (? || ' days')::interval`,
    [String(olderThanDays)],
  );
}
