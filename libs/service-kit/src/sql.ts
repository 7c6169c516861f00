import pg from "pg";
import type { Logger } from "./logger.js";
import { errorMessage } from "./util.js";

/** What a parameterized statement returns. */
interface SqlResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * Runs parameterized statements (`$1`, `$2`, ...): on the connection of a transaction
 * (`Database.transaction`, `outbox.sqlTransaction`), or on the pool, one statement at a time (`pooledSql`). Values travel as
 * protocol parameters, never escaped into the text, so JSON payloads stay cheap and jsonb's `?`
 * operators mean what they say. A `name` makes the statement a prepared one, parsed and planned once
 * per connection.
 *
 * Every repository of every service takes the `Sql` it runs on as its first argument: the caller
 * decides whether a statement joins a transaction (outbox rows and inbox claims included) or runs
 * on its own.
 */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<SqlResult<T>>;
}

/** COMMIT of a transaction in which a statement failed answers ROLLBACK, without an error. */
class TransactionRolledBackError extends Error {
  override name = "TransactionRolledBackError";
}

export interface DatabaseOptions {
  url: string;
  /** Connections of the service's pool (DB_POOL_MAX). */
  poolMax: number;
  log: Logger;
}

/**
 * Dates, timestamps and intervals are handed over as PostgreSQL writes them (text), not as `Date`:
 * repositories turn them into what their records carry, and a hot path that only passes a timestamp
 * on never pays for parsing it.
 */
function textTimeTypes(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  for (const oid of [1082, 1114, 1184, 1186]) types.setTypeParser(oid, (text: string) => text);
  return types;
}

/** A pool with bounded waits: a database that drops packets gives a clear error, not a hang. */
function createPool(url: string, max: number, log: Logger, what: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types: textTimeTypes(),
  });
  // An idle connection that breaks (database restarted) is dropped by the pool; it must not crash us.
  pool.on("error", (err) =>
    log.warn({ err: errorMessage(err), pool: what }, "idle database connection failed"),
  );
  return pool;
}

const resultOf = <T>(res: pg.QueryResult): SqlResult<T> => ({
  rows: res.rows as T[],
  rowCount: res.rowCount ?? 0,
});

/**
 * The service's PostgreSQL connections, on `pg`'s public API: one pool sized by DB_POOL_MAX for
 * statements and transactions, and any further pools a service sizes on its own (`extraPool`, e.g.
 * reads that must not wait behind writes). Migrations are MikroORM's (`migrateDatabase`); nothing at
 * run time goes through the ORM.
 */
export class Database {
  private readonly pool: pg.Pool;
  private readonly extraPools: pg.Pool[] = [];

  /** Statements on pooled connections, each on its own (autocommit). */
  readonly sql: Sql;

  constructor(private readonly opts: DatabaseOptions) {
    this.pool = createPool(opts.url, opts.poolMax, opts.log, "main");
    this.sql = {
      query: async <T>(text: string, params: unknown[] = [], name?: string) =>
        resultOf<T>(await this.pool.query({ text, values: params, ...(name ? { name } : {}) })),
    };
  }

  /**
   * Runs `fn` in a transaction on one connection with plain BEGIN and COMMIT. When `fn` throws, the
   * transaction is rolled back (and the connection discarded if even the rollback fails) and the
   * error is rethrown; a COMMIT that fails, or that PostgreSQL turns into a ROLLBACK because a
   * statement had failed, rejects likewise.
   */
  async transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection that breaks mid-transaction fails the statement in flight; this keeps the
    // client's own error event from being an unhandled one.
    const onError = (err: Error) =>
      this.opts.log.debug({ err: errorMessage(err) }, "database connection failed in a transaction");
    client.on("error", onError);
    let broken: Error | undefined;
    try {
      const run = async <R>(text: string, params: unknown[] = [], name?: string) =>
        resultOf<R>(await client.query({ text, values: params, ...(name ? { name } : {}) }));
      await run("begin");
      try {
        const result = await fn({ query: run });
        const commit = await client.query("commit");
        if (commit.command !== "COMMIT")
          throw new TransactionRolledBackError(
            "the transaction was rolled back (a statement in it had failed)",
          );
        return result;
      } catch (err) {
        try {
          await client.query("rollback");
        } catch {
          broken = err instanceof Error ? err : new Error(errorMessage(err));
        }
        throw err;
      }
    } finally {
      client.removeListener("error", onError);
      // A connection whose rollback failed is closed rather than handed out again.
      client.release(broken);
    }
  }

  /** A further pool of `max` connections on the same database, closed with this one. */
  extraPool(max: number, what: string): pg.Pool {
    const pool = createPool(this.opts.url, max, this.opts.log, what);
    this.extraPools.push(pool);
    return pool;
  }

  /** `select 1` (readiness). */
  async ping(): Promise<void> {
    await this.pool.query("select 1");
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pool.end(), ...this.extraPools.map((p) => p.end())]);
  }
}

/**
 * The name pipeline-engine's code still gives the service's `Database` (it predates the move off
 * the ORM at run time).
 */
export type Orm = Database;

/** Statements on pooled connections of the service's pool, each one on its own (autocommit). */
export function pooledSql(db: Database): Sql {
  return db.sql;
}
