import type { EntityManager } from "@procode/service-kit";

/** Thin helpers over the entity manager's raw SQL (`?` placeholders), used by the repositories. */
export type Db = EntityManager;

export async function all<T>(em: Db, sql: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(sql, params, "all");
}

export async function one<T>(em: Db, sql: string, params: unknown[] = []): Promise<T | null> {
  const rows = await all<T>(em, sql, params);
  return rows[0] ?? null;
}

export async function run(em: Db, sql: string, params: unknown[] = []): Promise<number> {
  const res = await em.execute<{ affectedRows: number }>(sql, params, "run");
  return res.affectedRows;
}

export const iso = (v: Date | string | null): string | null =>
  v === null ? null : v instanceof Date ? v.toISOString() : new Date(v).toISOString();

/** Where dev-svc's tables live. */
export const S = `"dev"`;
