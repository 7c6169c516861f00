import type { GitRef } from "@procode/contracts";
import type { Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

export type RefKind = "branches" | "tags";

export interface CachedRefs {
  items: GitRef[];
  fetchedAt: string;
  /** A push arrived after the fetch: the copy is known to be out of date. */
  invalidated: boolean;
}

export async function getCachedRefs(db: Sql, appId: number, kind: RefKind): Promise<CachedRefs | null> {
  const r =
    (
      await db.query<{ items: GitRef[]; fetched_at: Date; invalidated_at: Date | null }>(
        `select items, fetched_at, invalidated_at from ${S}.ref_cache where app_id = $1 and kind = $2`,
        [appId, kind],
      )
    ).rows[0] ?? null;
  if (!r) return null;
  return {
    items: r.items,
    fetchedAt: iso(r.fetched_at)!,
    invalidated: r.invalidated_at !== null && r.invalidated_at >= r.fetched_at,
  };
}

export async function putCachedRefs(
  db: Sql,
  appId: number,
  kind: RefKind,
  items: GitRef[],
  fetchedAt: Date,
): Promise<void> {
  await db.query(
    `insert into ${S}.ref_cache (app_id, kind, items, fetched_at) values ($1, $2, $3::jsonb, $4)
     on conflict (app_id, kind) do update set items = excluded.items, fetched_at = excluded.fetched_at,
       invalidated_at = null
     where ${S}.ref_cache.fetched_at <= excluded.fetched_at`,
    [appId, kind, JSON.stringify(items), fetchedAt],
  );
}

/** A push changed the repository: the cached lists are refetched at the next read. */
export async function invalidateCachedRefs(db: Sql, appId: number): Promise<void> {
  await db.query(`update ${S}.ref_cache set invalidated_at = now() where app_id = $1`, [appId]);
}
