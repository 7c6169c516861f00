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

/**
 * The `Sql` of a transaction (`Database.transaction`). Its `last` runs the statement the use case
 * calls the transaction's last, in one round trip with COMMIT: when that resolves the transaction
 * has committed, and a statement after it is refused. A use case calls `last` only where nothing
 * after that statement writes, emits or fails; what it leaves undone then is the at-least-once
 * path's to redo, as after a crash.
 */
export interface TxSql extends Sql {
  readonly last: Sql;
}

/**
 * A data-modifying `with` part a statement takes along (the outbox's rows, a stage log's lines): its
 * text, and its parameters, numbered from where the statement's own end.
 */
export interface WithPart {
  text: string;
  params: unknown[];
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

/** BEGIN and COMMIT as statements prepared once per connection (named: later sends carry no Parse). */
const BEGIN = { name: "procode-begin", text: "begin" };
const COMMIT = { name: "procode-commit", text: "commit" };

/**
 * A transaction's first statement sent in one write with its BEGIN, and a statement the use case
 * calls the transaction's last (`TxSql.last`) in one write with its COMMIT, so the transaction costs
 * a round trip fewer at either end (each statement's write and the answer's read cost CPU on both
 * sides: docs/performance.md, "BEGIN with the first statement" and "COMMIT with the last").
 *
 * BEGIN goes ahead of the statement, COMMIT after its Execute, each as Bind and Execute of the
 * prepared statement, without a Sync of its own: PostgreSQL answers BEGIN's CommandComplete, the
 * statement's messages, COMMIT's CommandComplete, then one ReadyForQuery, which `pg` takes for the
 * end of one query. BEGIN's and COMMIT's CommandComplete are not the statement's result and are
 * passed over. Both must be prepared on the connection already: their own Parse would answer a
 * ParseComplete that `pg` files under the statement's name. The statement goes by the extended
 * protocol (it has a name or parameters), with its own Parse when it needs one. A statement that
 * fails fails as it would alone: PostgreSQL skips what follows it up to the Sync (COMMIT included),
 * and the transaction is rolled back; a COMMIT that fails fails the statement's query.
 */
/** A statement as `pg` takes it. */
interface QueryConfig {
  text: string;
  values: unknown[];
  name?: string;
}

const along = {
  /** Which of the ends wanted can go with `config` on this connection. */
  fitting(
    client: pg.PoolClient,
    config: QueryConfig,
    wanted: { begin: boolean; commit: boolean },
  ): { begin: boolean; commit: boolean } {
    const parsed = (client as unknown as PgInternals).connection.parsedStatements;
    // A name prepared for another text is refused by `pg` before it writes: that goes the plain way.
    const extended =
      config.name !== undefined
        ? (parsed[config.name] ?? config.text) === config.text
        : config.values.length > 0;
    return {
      begin: extended && wanted.begin && parsed[BEGIN.name] === BEGIN.text,
      commit: extended && wanted.commit && parsed[COMMIT.name] === COMMIT.text,
    };
  },

  run(client: pg.PoolClient, config: QueryConfig, ends: { begin: boolean; commit: boolean }) {
    return new Promise<pg.QueryResult>((resolve, reject) => {
      const query = new pg.Query(config) as unknown as PgQuery;
      let refused: Error | null = null;
      query.callback = (err, res) => (err ? reject(err) : refused ? reject(refused) : resolve(res));
      if (ends.begin) {
        const submit = query.submit.bind(query);
        query.submit = (connection) => {
          connection.stream.cork();
          try {
            connection.bind({ statement: BEGIN.name, values: [] });
            connection.execute({});
            return submit(connection);
          } finally {
            connection.stream.uncork();
          }
        };
      }
      if (ends.commit) {
        // Called inside `pg`'s corked submit: the statement's Execute, then COMMIT's, then the Sync.
        query._getRows = (connection) => {
          connection.execute({ portal: query.portal });
          connection.bind({ statement: COMMIT.name, values: [] });
          connection.execute({});
          connection.sync();
        };
      }
      const complete = query.handleCommandComplete.bind(query);
      // BEGIN's answer (when sent) comes first, the statement's next, then COMMIT's (when sent).
      let answers = 0;
      query.handleCommandComplete = (msg, connection) => {
        const n = answers++ - (ends.begin ? 1 : 0);
        if (n === 0) return complete(msg, connection);
        if (n > 0 && msg.text !== "COMMIT")
          refused = new TransactionRolledBackError(`COMMIT answered ${msg.text}`);
      };
      void client.query(query as unknown as pg.Query);
    });
  },
};

/** The parts of `pg`'s connection and query that `along` works with (not in its typings). */
interface PgConnection {
  stream: { cork(): void; uncork(): void };
  parsedStatements: Record<string, string | undefined>;
  bind(config: { statement: string; values: unknown[] }): void;
  execute(config: { portal?: string }): void;
  sync(): void;
}
interface PgInternals {
  connection: PgConnection;
}
interface PgQuery {
  portal: string;
  callback: (err: Error | null, res: pg.QueryResult) => void;
  submit(connection: PgConnection): Error | null;
  _getRows(connection: PgConnection, rows?: number): void;
  handleCommandComplete(msg: { text: string }, connection: PgConnection): void;
}

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
   * Runs `fn` in a transaction on one connection. BEGIN goes with the transaction's first statement
   * (`along`), COMMIT with the statement `fn` sends through `sql.last` or after `fn` returns; a
   * transaction that ran no statement sends neither. When `fn` throws before the transaction has
   * committed, the transaction is rolled back (and the connection discarded if even the rollback
   * fails) and the error is rethrown; a COMMIT that fails, or that PostgreSQL turns into a ROLLBACK
   * because a statement had failed, rejects likewise.
   */
  async transaction<T>(fn: (sql: TxSql) => Promise<T>): Promise<T> {
    // A connection that breaks mid-transaction fails the statement in flight; this keeps the
    // client's own error event from being an unhandled one.
    const onError = (err: Error) =>
      this.opts.log.debug({ err: errorMessage(err) }, "database connection failed in a transaction");
    const client = await this.connect(onError);
    let broken: Error | undefined;
    let begun = false;
    /** The last statement was sent (no other may follow), and it succeeded with its COMMIT. */
    let ended = false;
    let committed = false;
    try {
      const run = async <R>(text: string, params: unknown[], name: string | undefined, commit: boolean) => {
        if (ended) throw new Error("the transaction has committed: its last statement went with COMMIT");
        const config = { text, values: params, ...(name ? { name } : {}) };
        const wanted = { begin: !begun, commit };
        begun = true;
        ended = commit;
        // Each end goes with the statement where it can, on its own where it cannot.
        const ends = along.fitting(client, config, wanted);
        if (wanted.begin && !ends.begin) await client.query(BEGIN);
        const result =
          ends.begin || ends.commit ? await along.run(client, config, ends) : await client.query(config);
        if (wanted.commit && !ends.commit) await this.commit(client);
        committed = commit;
        return resultOf<R>(result);
      };
      const sql: TxSql = {
        query: (text, params = [], name) => run(text, params, name, false),
        last: { query: (text, params = [], name) => run(text, params, name, true) },
      };
      try {
        const result = await fn(sql);
        if (begun && !ended) await this.commit(client);
        return result;
      } catch (err) {
        if (!begun || committed) throw err;
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

  /**
   * A connection of the pool with `onError` listening from the moment the pool hands it over. The
   * pool stops listening for errors then, and a connection it has just opened is handed over while
   * `pg` reads the server's first answers: an error in the same read (a FATAL from a server shutting
   * down) would come before an `await` could add a listener, and end the process as an unhandled
   * error event (docs/reliability.md, "PostgreSQL restarts").
   */
  private connect(onError: (err: Error) => void): Promise<pg.PoolClient> {
    return new Promise((resolve, reject) =>
      this.pool.connect((err, client) => {
        if (err || !client) return reject(err ?? new Error("the pool gave no connection"));
        client.on("error", onError);
        resolve(client);
      }),
    );
  }

  private async commit(client: pg.PoolClient): Promise<void> {
    const commit = await client.query(COMMIT);
    if (commit.command !== "COMMIT")
      throw new TransactionRolledBackError("the transaction was rolled back (a statement in it had failed)");
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
