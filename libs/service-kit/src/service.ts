import type { DestinationStream } from "pino";
import type { z } from "zod";
import type { ServiceName } from "@procode/contracts";
import { createTokenVerifier, type TokenVerifier } from "./auth.js";
import { ConfigError, loadConfig, type BaseConfig } from "./config.js";
import { ConsumerGroup } from "./consumer.js";
import { createHttpServer, type HttpServer } from "./http.js";
import { Idempotency } from "./idempotency.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { NatsHandle } from "./nats.js";
import { migrateDatabase, type MigrationEntry } from "./migrate.js";
import { Outbox } from "./outbox.js";
import { Database } from "./sql.js";
import { StreamWatch } from "./stream-watch.js";
import { errorMessage, withTimeout } from "./util.js";

/** Everything a service's use cases, routes and consumers are built from (no DI container). */
export interface ServiceDeps<C extends BaseConfig = BaseConfig> {
  service: ServiceName;
  config: C;
  log: Logger;
  metrics: Metrics;
  /** The service's PostgreSQL connections (plain SQL, sql.ts). */
  db: Database;
  nats: NatsHandle;
  outbox: Outbox;
  consumers: ConsumerGroup;
  app: HttpServer;
  verifyToken: TokenVerifier;
  /** Idempotency-Keys of the service's creates (in its own schema). */
  idempotency: Idempotency;
  /**
   * Aborted first when the service stops: long work in hand (a stage attempt waiting on an outside
   * system) is abandoned for redelivery instead of being held through the shutdown (docs/reliability.md).
   */
  stopping: AbortSignal;
}

/** Background work a service runs beside its routes and consumers (pollers, sweepers, RPC). */
export interface ServiceParts {
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export interface ServiceDefinition<C extends BaseConfig> {
  name: ServiceName;
  /** The service's PostgreSQL schema. */
  schema: string;
  configSchema: z.ZodType<C>;
  /** The schema's migrations, in order (MikroORM's migrator runs them at start). */
  migrations: MigrationEntry[];
  /** Registers routes, consumers and background parts; never listens. */
  build(deps: ServiceDeps<C>): Promise<ServiceParts>;
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  /** Listen on PORT (false in tests that use app.inject). */
  listen?: boolean;
  logDestination?: DestinationStream;
}

export interface ServiceRuntime<C extends BaseConfig> {
  deps: ServiceDeps<C>;
  parts: ServiceParts;
  /** Where the HTTP API listens, when it does. */
  url: string | null;
  close(): Promise<void>;
}

/**
 * load config -> migrate the schema -> open the database pool -> connect NATS (streams) -> build app -> start consumers,
 * outbox relay and background parts -> listen. `close()` undoes it in reverse: stop taking requests
 * and messages, finish what is in flight, publish what is pending, drain NATS, close the database.
 */
export async function startRuntime<C extends BaseConfig>(
  def: ServiceDefinition<C>,
  opts: RuntimeOptions = {},
): Promise<ServiceRuntime<C>> {
  const config = loadConfig(def.configSchema, opts.env ?? process.env);
  const log = createLogger({
    name: def.name,
    level: config.LOG_LEVEL,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const metrics = createMetrics(def.name);
  const verifyToken = createTokenVerifier({
    ...(config.AUTH_JWT_SECRET ? { jwtSecret: config.AUTH_JWT_SECRET } : {}),
    ...(config.AUTH_JWKS_URL ? { jwksUrl: config.AUTH_JWKS_URL } : {}),
    ...(config.AUTH_ISSUER ? { issuer: config.AUTH_ISSUER } : {}),
    ...(config.AUTH_AUDIENCE ? { audience: config.AUTH_AUDIENCE } : {}),
  });
  await migrateDatabase({ url: config.DATABASE_URL, schema: def.schema, migrations: def.migrations, log });
  const db = new Database({ url: config.DATABASE_URL, poolMax: config.DB_POOL_MAX, log });
  await warnWithoutAutovacuum(db, log);
  let nats: NatsHandle;
  try {
    nats = await NatsHandle.connect({
      url: config.NATS_URL,
      name: def.name,
      env: config.ENV_NAME,
      log,
      ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
      ...(config.NATS_USER ? { user: config.NATS_USER, password: config.NATS_PASSWORD ?? "" } : {}),
    });
  } catch (err) {
    await db.close();
    throw err;
  }
  const outbox = new Outbox({ db, nats, schema: def.schema, log, metrics, pollMs: config.OUTBOX_POLL_MS });
  const streamWatch = new StreamWatch({
    db,
    nats,
    schema: def.schema,
    log,
    intervalMs: config.OUTBOX_STREAM_CHECK_MS,
  });
  const consumers = new ConsumerGroup(nats, log, metrics);
  const app = await createHttpServer({
    service: def.name,
    log,
    verifyToken,
    metrics,
    readiness: { database: () => db.ping(), nats: () => nats.ping() },
    trustProxy: config.TRUST_PROXY,
  });
  const stopping = new AbortController();
  const deps: ServiceDeps<C> = {
    service: def.name,
    config,
    log,
    metrics,
    db,
    nats,
    outbox,
    consumers,
    app,
    verifyToken,
    idempotency: new Idempotency({ db, schema: def.schema, log }),
    stopping: stopping.signal,
  };
  const parts = await def.build(deps);
  await app.ready();
  outbox.start();
  streamWatch.start();
  await consumers.start();
  await parts.start?.();
  let url: string | null = null;
  if (opts.listen) {
    url = await app.listen({ port: config.PORT, host: config.HOST });
    log.info({ url }, `${def.name} listening`);
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const step = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          log.warn({ err: errorMessage(err) }, `shutdown: ${what} failed`);
        }
      };
      stopping.abort(new Error(`${def.name} is stopping`));
      await step("http", () => app.close());
      await step("consumers", () => consumers.stop());
      await step("background work", async () => parts.stop?.());
      await step("stream watch", () => streamWatch.stop());
      await step("outbox", () => outbox.stop());
      await step("nats", () => nats.close());
      await step("database", () => db.close());
      log.info(`${def.name} stopped`);
    })());
  return { deps, parts, url, close };
}

/** main.ts of every service: start, and stop cleanly on SIGINT/SIGTERM within SHUTDOWN_TIMEOUT_MS. */
/**
 * A PostgreSQL server with autovacuum off never gathers statistics of the tables nor cleans them:
 * its plans keep guessing as the tables grow (a scan of a whole table for one row), and the tables
 * that change most bloat. Nothing depends on it for being correct, so it is a warning at start
 * (docs/operations.md, "PostgreSQL").
 */
async function warnWithoutAutovacuum(db: Database, log: Logger): Promise<void> {
  try {
    const { rows } = await db.sql.query<{ setting: string }>(
      `select current_setting('autovacuum') as setting`,
    );
    if (rows[0]?.setting === "off")
      log.warn(
        "PostgreSQL's autovacuum is off: tables are never analyzed nor vacuumed unless an operator does it, so queries slow down as they grow (docs/operations.md)",
      );
  } catch (err) {
    log.debug({ err: errorMessage(err) }, "could not read PostgreSQL's autovacuum setting");
  }
}

export async function runService<C extends BaseConfig>(def: ServiceDefinition<C>): Promise<void> {
  let runtime: ServiceRuntime<C>;
  try {
    runtime = await startRuntime(def, { listen: true });
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`${def.name}: ${err.message}\n`);
    else process.stderr.write(`${def.name}: failed to start: ${errorMessage(err)}\n`);
    process.exit(1);
  }
  const { log, config } = runtime.deps;
  let signalled = false;
  const onSignal = (signal: string) => {
    if (signalled) return;
    signalled = true;
    log.info({ signal }, "shutting down");
    withTimeout(runtime.close(), config.SHUTDOWN_TIMEOUT_MS, "shutdown")
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err: errorMessage(err) }, "shutdown did not finish in time; exiting");
        process.exit(1);
      });
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
}
