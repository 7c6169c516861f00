import { Migration } from "@mikro-orm/migrations";
import { Migrator } from "@mikro-orm/migrations";
import { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "./logger.js";

/** A migration as MikroORM lists it (static imports, STACK.md). */
export interface MigrationEntry {
  name: string;
  class: new (...args: any[]) => Migration;
}

export interface MigrateOptions {
  url: string;
  /** The service's own PostgreSQL schema (no service reads another's schema). */
  schema: string;
  migrations: MigrationEntry[];
  log: Logger;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A connection of its own for the setup's statements. One that breaks (PostgreSQL restarting while a
 * service starts) fails the statement in flight, or the next one, and the start with it; its error
 * event is logged here rather than left unhandled, which would end the process with a stack trace.
 */
function setupClient(url: string, log: Logger): pg.Client {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on("error", (err) => log.warn({ err: err.message }, "database connection of the setup failed"));
  return client;
}

/** The database of `url`, created when missing (the platform sets itself up from nothing). */
async function ensureDatabase(url: string, log: Logger): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ""));
  if (!name) throw new Error("DATABASE_URL has no database name");
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = setupClient(admin.toString(), log);
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name.replace(/"/g, '""')}"`);
      } catch (err) {
        // Another service created it at the same moment.
        const code = (err as { code?: string }).code;
        if (code !== "42P04" && code !== "23505") throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Creates the service's schema and runs its migrations under an advisory lock, so several replicas
 * starting at once migrate exactly once.
 */
async function migrate(orm: MikroORM, opts: MigrateOptions): Promise<void> {
  const client = setupClient(opts.url, opts.log);
  await client.connect();
  try {
    await client.query("select pg_advisory_lock(hashtext($1))", [`procode:migrate:${opts.schema}`]);
    await client.query(`create schema if not exists "${opts.schema}"`);
    const done = await orm.getMigrator().up();
    if (done.length) opts.log.info({ migrations: done.map((m) => m.name) }, "migrations applied");
  } finally {
    await client
      .query("select pg_advisory_unlock(hashtext($1))", [`procode:migrate:${opts.schema}`])
      .catch(() => {});
    await client.end();
  }
}

/**
 * Creates the database when missing, then the service's schema and its migrations (the kit's tables
 * first). MikroORM runs the migrations and is closed again: at run time every statement goes through
 * the kit's `Database` (sql.ts).
 */
export async function migrateDatabase(opts: MigrateOptions): Promise<void> {
  if (!SCHEMA_PATTERN.test(opts.schema)) throw new Error(`invalid schema name "${opts.schema}"`);
  await ensureDatabase(opts.url, opts.log);
  const orm = await MikroORM.init({
    clientUrl: opts.url,
    schema: opts.schema,
    entities: [],
    extensions: [Migrator],
    migrations: {
      migrationsList: [...kitMigrations(opts.schema), ...opts.migrations],
      tableName: "mikro_orm_migrations",
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: { min: 0, max: 2, acquireTimeoutMillis: 10000 },
    driverOptions: { connection: { connectionTimeoutMillis: 5000 } },
    allowGlobalContext: false,
    debug: false,
    discovery: { warnWhenNoEntities: false },
    logger: (message) => opts.log.debug({ orm: true }, message),
  });
  try {
    await migrate(orm, opts);
  } finally {
    await orm.close();
  }
}

/**
 * Tables the kit itself needs in every service schema: the transactional outbox, the inbox of
 * processed message ids (idempotent consumers), the streams' creation times (StreamWatch) and the
 * Idempotency-Keys of REST creates.
 */
function kitMigrations(schema: string): MigrationEntry[] {
  class KitOutboxInbox extends Migration {
    override async up(): Promise<void> {
      this.addSql(`create table if not exists "${schema}".outbox (
        id uuid primary key,
        type text not null,
        subject text not null,
        payload jsonb not null,
        created_at timestamptz not null default now(),
        published_at timestamptz null,
        attempts int not null default 0,
        last_error text null
      )`);
      this.addSql(
        `create index if not exists outbox_unpublished_idx on "${schema}".outbox (created_at) where published_at is null`,
      );
      this.addSql(`create table if not exists "${schema}".inbox (
        consumer text not null,
        message_id text not null,
        processed_at timestamptz not null default now(),
        primary key (consumer, message_id)
      )`);
      this.addSql(`create index if not exists inbox_processed_at_idx on "${schema}".inbox (processed_at)`);
    }
  }
  /** The creation time of each stream as last seen (StreamWatch: a changed one means a lost stream). */
  class KitOutboxStreams extends Migration {
    override async up(): Promise<void> {
      this.addSql(`create table if not exists "${schema}".outbox_stream (
        stream text primary key,
        created text not null,
        changed_at timestamptz not null default now()
      )`);
    }
  }
  /**
   * Idempotency-Keys of the creates (idempotency.ts): the first request's claim, its body's hash and,
   * once the change committed, its answer; kept for the key's window of 24 hours.
   */
  class KitIdempotency extends Migration {
    override async up(): Promise<void> {
      this.addSql(`create table if not exists "${schema}".idempotency_key (
        team text not null,
        operation text not null,
        key text not null,
        request_hash text not null,
        claim uuid not null,
        claimed_at timestamptz not null default now(),
        answer jsonb null,
        answered_at timestamptz null,
        created_at timestamptz not null default now(),
        primary key (team, operation, key)
      )`);
      this.addSql(
        `create index if not exists idempotency_key_created_at_idx on "${schema}".idempotency_key (created_at)`,
      );
    }
  }
  return [
    { name: "Migration00000000000000_kit_outbox_inbox", class: KitOutboxInbox },
    { name: "Migration00000000000001_kit_outbox_streams", class: KitOutboxStreams },
    { name: "Migration00000000000002_kit_idempotency", class: KitIdempotency },
  ];
}
