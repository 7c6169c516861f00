import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";

/** What a parameterized statement returns. */
export interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * Runs parameterized statements (`$1`, `$2`, ...): the connection of a transaction
 * (`sqlTransaction`), or the pool, one statement at a time (`pooledSql`). A `name` makes the
 * statement a prepared one, parsed and planned once per connection.
 */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<SqlResult<T>>;
}

interface PgConnection {
  query<T>(config: {
    text: string;
    values: unknown[];
    name?: string;
  }): Promise<{ rows: T[]; rowCount: number | null; command?: string }>;
  /** Set by knex when the connection failed; the pool then discards it instead of reusing it. */
  __knex__disposed?: unknown;
}

interface PooledClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(conn: PgConnection): Promise<unknown>;
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
  const client = em.getConnection().getKnex().client as unknown as PooledClient;
  const conn = await client.acquireConnection();
  try {
    const res = await conn.query<T>(query);
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  } finally {
    await client.releaseConnection(conn);
  }
}

/** The pool behind the ORM (one pool per service, sized by DB_POOL_MAX). */
function poolOf(orm: MikroORM): PooledClient {
  const client: PooledClient = orm.em.getConnection().getKnex().client;
  return client;
}

async function run<T>(conn: PgConnection, text: string, params: unknown[], name?: string) {
  const res = await conn.query<T>({ text, values: params, ...(name ? { name } : {}) });
  return { rows: res.rows, rowCount: res.rowCount ?? 0, command: res.command };
}

/** COMMIT of a transaction in which a statement failed answers ROLLBACK, without an error. */
export class TransactionRolledBackError extends Error {
  override name = "TransactionRolledBackError";
}

/** Statements on pooled connections of the ORM's pool, each one on its own (autocommit). */
export function pooledSql(orm: MikroORM): Sql {
  const pool = poolOf(orm);
  return {
    async query<T>(text: string, params: unknown[] = [], name?: string) {
      const conn = await pool.acquireConnection();
      try {
        return await run<T>(conn, text, params, name);
      } finally {
        await pool.releaseConnection(conn);
      }
    },
  };
}

/**
 * Runs `fn` in a transaction on one connection of the ORM's pool with plain BEGIN and COMMIT: no
 * entity manager, no unit of work, no query builder and no async context, which costs the ORM's
 * `transactional` about a millisecond of CPU per transaction. For paths whose statements are all
 * SQL. When `fn` throws, the transaction is rolled back (and the connection discarded if even the
 * rollback fails) and the error is rethrown; a COMMIT that fails, or that PostgreSQL turns into a
 * ROLLBACK because a statement had failed, rejects likewise.
 */
export async function sqlTransaction<T>(orm: MikroORM, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const pool = poolOf(orm);
  const conn = await pool.acquireConnection();
  try {
    await run(conn, "begin", []);
    let result: T;
    try {
      result = await fn({ query: (text, params = [], name) => run(conn, text, params, name) });
      const commit = await run(conn, "commit", []);
      if (commit.command !== "COMMIT")
        throw new TransactionRolledBackError(
          "the transaction was rolled back (a statement in it had failed)",
        );
    } catch (err) {
      try {
        await run(conn, "rollback", []);
      } catch {
        conn.__knex__disposed ??= err;
      }
      throw err;
    }
    return result;
  } finally {
    await pool.releaseConnection(conn);
  }
}
