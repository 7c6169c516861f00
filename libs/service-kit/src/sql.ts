import type { EntityManager } from "@mikro-orm/postgresql";

/** What a parameterized statement returns. */
export interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

interface PgConnection {
  query<T>(config: {
    text: string;
    values: unknown[];
    name?: string;
  }): Promise<{ rows: T[]; rowCount: number | null }>;
}

/**
 * Runs a parameterized statement (`$1`, `$2`, ...) straight on the PostgreSQL connection: the one of
 * `em`'s transaction when there is one (so it joins that transaction, outbox rows included), else a
 * pooled one. Values travel as protocol parameters rather than being escaped into the SQL text,
 * which keeps large JSON payloads cheap; meant for hot paths that the query builder slows down.
 * A `name` makes it a prepared statement, parsed and planned once per connection.
 */
export async function sqlQuery<T = Record<string, unknown>>(
  em: EntityManager,
  text: string,
  params: unknown[] = [],
  name?: string,
): Promise<SqlResult<T>> {
  const query = { text, values: params, ...(name ? { name } : {}) };
  const trx = em.getTransactionContext<{ client: { acquireConnection(): Promise<PgConnection> } }>();
  if (trx) {
    const conn = await trx.client.acquireConnection();
    const res = await conn.query<T>(query);
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  }
  const client = em.getConnection().getKnex().client as unknown as {
    acquireConnection(): Promise<PgConnection>;
    releaseConnection(conn: PgConnection): Promise<unknown>;
  };
  const conn = await client.acquireConnection();
  try {
    const res = await conn.query<T>(query);
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  } finally {
    await client.releaseConnection(conn);
  }
}
