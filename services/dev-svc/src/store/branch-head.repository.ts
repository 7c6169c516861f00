import type { Sql } from "@procode/service-kit";
import { S } from "./sql.js";

/**
 * Heads of branches and tag pushes learnt from webhook deliveries. `seq` is the delivery's sequence
 * number (order of receipt): a delivery processed late never moves a head back past a newer one.
 */

/** Moves (or creates) a branch head; a null commit deletes it. */
export async function applyBranchPush(
  db: Sql,
  u: { appId: number; branch: string; before: string | null; after: string | null; seq: number },
): Promise<"applied" | "stale"> {
  if (u.after === null) {
    const n = (
      await db.query(`delete from ${S}.branch_head where app_id = $1 and branch = $2 and delivery_seq < $3`, [
        u.appId,
        u.branch,
        u.seq,
      ])
    ).rowCount;
    return n === 1 ? "applied" : "stale";
  }
  const row =
    (
      await db.query<{ app_id: string }>(
        `insert into ${S}.branch_head (app_id, branch, commit_id, before_commit_id, delivery_seq)
     values ($1, $2, $3, $4, $5)
     on conflict (app_id, branch) do update set commit_id = excluded.commit_id,
       before_commit_id = excluded.before_commit_id, delivery_seq = excluded.delivery_seq, updated_at = now()
     where ${S}.branch_head.delivery_seq < excluded.delivery_seq
     returning app_id`,
        [u.appId, u.branch, u.after, u.before, u.seq],
      )
    ).rows[0] ?? null;
  return row ? "applied" : "stale";
}

export async function recordTagPush(
  db: Sql,
  u: { appId: number; tag: string; before: string | null; after: string | null; seq: number },
): Promise<void> {
  await db.query(
    `insert into ${S}.tag_push (app_id, tag, commit_id, before_commit_id, deleted, delivery_seq)
     values ($1, $2, $3, $4, $5, $6) on conflict (delivery_seq) do nothing`,
    [u.appId, u.tag, u.after, u.before, u.after === null, u.seq],
  );
}

/** Forgets what was learnt about the app's repository (it was replaced by another one). */
export async function forgetRepositoryRefs(db: Sql, appId: number): Promise<void> {
  await db.query(`delete from ${S}.branch_head where app_id = $1`, [appId]);
  await db.query(`delete from ${S}.ref_cache where app_id = $1`, [appId]);
}
