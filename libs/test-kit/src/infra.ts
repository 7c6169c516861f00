import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { inject } from "vitest";
import "./provided.js";

/** What a test file gets: its own database and its own NATS environment name (subject prefix). */
export interface TestInfra {
  /** Admin URL of the server (database `postgres`). */
  adminUrl: string;
  /** URL of this file's own database. */
  databaseUrl: string;
  natsUrl: string;
  /** Prefix of every subject and stream this file uses. */
  envName: string;
  /** A fresh random secret for HS256 tokens. */
  jwtSecret: string;
  /** Drops the database and deletes the file's streams. */
  cleanup(): Promise<void>;
}

function urls(): { adminUrl: string; natsUrl: string } {
  const adminUrl = process.env["TEST_DATABASE_URL"] ?? inject("testDatabaseUrl");
  const natsUrl = process.env["TEST_NATS_URL"] ?? inject("testNatsUrl");
  if (!adminUrl || !natsUrl)
    throw new Error("no test PostgreSQL/NATS: set TEST_DATABASE_URL and TEST_NATS_URL");
  return { adminUrl, natsUrl };
}

function uniqueName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .slice(0, 30);
  return `t_${clean}_${randomBytes(4).toString("hex")}`;
}

export async function createTestInfra(label: string): Promise<TestInfra> {
  const { adminUrl, natsUrl } = urls();
  const name = uniqueName(label);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${name}`;
  const envName = name.replace(/_/g, "-");
  return {
    adminUrl,
    databaseUrl: dbUrl.toString(),
    natsUrl,
    envName,
    jwtSecret: randomBytes(24).toString("hex"),
    cleanup: async () => {
      await deleteStreams(natsUrl, envName).catch(() => {});
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Deletes every stream of an environment name. */
export async function deleteStreams(natsUrl: string, envName: string): Promise<void> {
  const nc = await connect({ servers: natsUrl, timeout: 3000 });
  try {
    const jsm = await jetstreamManager(nc);
    const prefix = `${envName.toUpperCase().replace(/-/g, "_")}_`;
    for await (const s of jsm.streams.list()) {
      if (s.config.name.startsWith(prefix)) await jsm.streams.delete(s.config.name);
    }
  } finally {
    await nc.close();
  }
}

/** A plain PostgreSQL client on a test database, for assertions straight from the tables. */
export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  databaseUrl: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Environment variables for a service under test, pointed at this file's infrastructure. */
export function serviceEnv(infra: TestInfra, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env["TEST_LOG_LEVEL"] ?? "warn",
    DATABASE_URL: infra.databaseUrl,
    NATS_URL: infra.natsUrl,
    ENV_NAME: infra.envName,
    AUTH_JWT_SECRET: infra.jwtSecret,
    OUTBOX_POLL_MS: "200",
    SHUTDOWN_TIMEOUT_MS: "5000",
    ...extra,
  };
}

/**
 * Opens a transaction on its own connection, runs `statements` in it (a table lock, say) and keeps
 * it open until the returned function rolls it back: what holds background work still while a test
 * checks that an answer does not wait for it.
 */
export async function holdTransaction(
  databaseUrl: string,
  statements: string[],
): Promise<() => Promise<void>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query("begin");
    for (const s of statements) await c.query(s);
  } catch (err) {
    await c.end();
    throw err;
  }
  return async () => {
    try {
      await c.query("rollback");
    } finally {
      await c.end();
    }
  };
}
