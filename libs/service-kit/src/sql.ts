import type { EntityManager } from "@mikro-orm/postgresql";

/** What a parameterized statement returns. */
export interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

interface PgConnection {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number | null }>;
}

/**
 * Runs a parameterized statement (`$1`, `$2`, ...) straight on the PostgreSQL connection: the one of
 * `em`'s transaction when there is one (so it joins that transaction, outbox rows included), else a
 * pooled one. Values travel as protocol parameters rather than being escaped into the SQL text,
 * which keeps large JSON payloads cheap; meant for hot paths that the query builder slows down.
 */
export async function sqlQuery<T = Record<string, unknown>>(
  em: EntityManager,
  text: string,
  params: unknown[] = [],
): Promise<SqlResult<T>> {
  const trx = em.getTransactionContext<{ client: { acquireConnection(): Promise<PgConnection> } }>();
  if (trx) {
    const conn = await trx.client.acquireConnection();
    const res = await conn.query<T>(text, params);
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  }
  const client = em.getConnection().getKnex().client as unknown as {
    acquireConnection(): Promise<PgConnection>;
    releaseConnection(conn: PgConnection): Promise<unknown>;
  };
  const conn = await client.acquireConnection();
  try {
    const res = await conn.query<T>(text, params);
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  } finally {
    await client.releaseConnection(conn);
  }
}
