import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppCreated, messageSubject, streamName } from "@procode/contracts";
import {
  consumerIdle,
  createTestInfra,
  eventually,
  expectHandled,
  outboxDrained,
  serviceEnv,
  sql,
  TcpProxy,
  type TestInfra,
} from "@procode/test-kit";
import { signToken, startRuntime, type ServiceRuntime, type SqlTxContext } from "../src/index.js";
import { consumer, producer, snapshot } from "./kit-services.js";

let infra: TestInfra;
let natsProxy: TcpProxy;
let prod: ServiceRuntime<any>;
let cons: ServiceRuntime<any>;
let token: string;

/** The consumer service's durable consumer of app.created (kit-services.ts). */
const CONSUMER = "kit-consumer-app-created";

beforeAll(async () => {
  infra = await createTestInfra("kit");
  natsProxy = TcpProxy.forUrl(infra.natsUrl);
  await natsProxy.start();
  prod = await startRuntime(producer, {
    env: serviceEnv(infra, { NATS_URL: natsProxy.url(infra.natsUrl), OUTBOX_STREAM_CHECK_MS: "500" }),
  });
  cons = await startRuntime(consumer, { env: serviceEnv(infra) });
  token = await signToken({ sub: "alice", team: "t1" }, infra.jwtSecret);
});

afterAll(async () => {
  await prod?.close();
  await cons?.close();
  await natsProxy?.stop();
  await infra?.cleanup();
});

const seen = (name: string) =>
  sql<{ n: string }>(infra.databaseUrl, `select count(*)::text as n from kit_consumer.seen where name = $1`, [
    name,
  ]).then((r) => Number(r[0]!.n));

describe("HTTP conventions of every service", () => {
  it("answers a bad body with 400 and code 1001 naming the field", async () => {
    const res = await prod.deps.app.inject({
      method: "POST",
      url: "/notes",
      headers: { authorization: `Bearer ${token}` },
      payload: { name: "ok", count: "three" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 1001, data: { fields: [{ field: "count" }] } });
    expect(res.json().message).toMatch(/^count: /);
  });

  it("answers malformed JSON with 1001 naming the body", async () => {
    const res = await prod.deps.app.inject({
      method: "POST",
      url: "/notes",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: "{not json",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 1001, message: "body: is not valid JSON" });
  });

  it("answers an unknown route with 404 in the envelope", async () => {
    const res = await prod.deps.app.inject({ method: "GET", url: "/nowhere" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 9002, message: "no route GET /nowhere", data: null });
  });

  it("answers a missing or forged token with 401 in the envelope", async () => {
    const missing = await prod.deps.app.inject({
      method: "POST",
      url: "/notes",
      payload: { name: "a", count: 1 },
    });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 5001, data: null });
    const forged = await signToken({ sub: "mallory", team: "t1" }, "another-secret-0123456789");
    const bad = await prod.deps.app.inject({
      method: "POST",
      url: "/notes",
      headers: { authorization: `Bearer ${forged}` },
      payload: { name: "a", count: 1 },
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().code).toBe(5001);
  });

  it("serves health, readiness, metrics and OpenAPI without a token", async () => {
    const app = prod.deps.app;
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/readyz" })).json()).toMatchObject({
      code: 0,
      data: { status: "ready" },
    });
    expect((await app.inject({ url: "/metrics" })).body).toMatch(/http_request_duration_seconds/);
    const spec = (await app.inject({ url: "/openapi.json" })).json();
    expect(
      spec.paths["/notes"].post.requestBody.content["application/json"].schema.properties.count.type,
    ).toBe("integer");
  });
});

describe("a database that goes away", () => {
  it("answers 503 with code 9003 naming the database, and works again when it is back", async () => {
    const dbProxy = TcpProxy.forUrl(infra.databaseUrl);
    await dbProxy.start();
    const rt = await startRuntime(producer, {
      env: serviceEnv(infra, { DATABASE_URL: dbProxy.url(infra.databaseUrl) }),
    });
    try {
      const post = () =>
        rt.deps.app.inject({
          method: "POST",
          url: "/notes",
          headers: { authorization: `Bearer ${token}` },
          payload: { name: "db", count: 1 },
        });
      expect((await post()).json().code).toBe(0);
      dbProxy.cut();
      const down = await post();
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({
        code: 9003,
        message: "the database is unavailable; retry later",
        data: null,
      });
      expect((await rt.deps.app.inject({ url: "/readyz" })).statusCode).toBe(503);
      dbProxy.restore();
      await eventually(async () => (await post()).json().code === 0, "writes to work again", 15000);
    } finally {
      await rt.close();
      await dbProxy.stop();
    }
  });
});

describe("start", () => {
  it("warns when PostgreSQL's autovacuum is off, and only then", async () => {
    const lines: { level: number; msg: string }[] = [];
    const logDestination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    // At warn whatever the test run's level (npm test logs errors only).
    const rt = await startRuntime(producer, {
      env: serviceEnv(infra, { LOG_LEVEL: "warn" }),
      logDestination,
    });
    await rt.close();
    const setting = (await sql<{ autovacuum: string }>(infra.databaseUrl, `show autovacuum`))[0]!.autovacuum;
    const warned = lines.filter((l) => l.level === 40 && l.msg.startsWith("PostgreSQL's autovacuum is off"));
    expect({ setting, warned: warned.length }).toEqual({ setting, warned: setting === "off" ? 1 : 0 });
  });
});

describe("sends at the end of the turn", () => {
  it("a send the client refuses neither stops the turn's other sends nor the process", async () => {
    const sent: string[] = [];
    prod.deps.nats.atTurnEnd(() => sent.push("before"));
    prod.deps.nats.atTurnEnd(() => {
      throw new Error("CONNECTION_CLOSED");
    });
    prod.deps.nats.atTurnEnd(() => sent.push("after"));
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual(["before", "after"]);
  });
});

describe("outbox and idempotent consumers", () => {
  it("delivers an event written while NATS is unreachable exactly once, after NATS is back", async () => {
    natsProxy.cut();
    await eventually(
      async () => (await prod.deps.app.inject({ url: "/readyz" })).statusCode === 503,
      "readyz 503",
      5000,
    );

    const res = await prod.deps.app.inject({
      method: "POST",
      url: "/notes",
      headers: { authorization: `Bearer ${token}` },
      payload: { name: "offline", count: 1 },
    });
    expect(res.json()).toMatchObject({ code: 0 });
    const pending = await sql(
      infra.databaseUrl,
      `select id from kit_producer.outbox where published_at is null and payload->'data'->>'name' = 'offline'`,
    );
    // Held in the outbox: nothing reached NATS, so nothing could reach the consumer either.
    expect(pending).toHaveLength(1);
    expect(await seen("offline")).toBe(0);

    natsProxy.restore();
    await eventually(
      async () => (await prod.deps.app.inject({ url: "/readyz" })).statusCode === 200,
      "readyz 200",
      10000,
    );
    await eventually(async () => (await seen("offline")) === 1, "the consumer's effect", 15000);
    await eventually(
      async () =>
        (
          await sql(
            infra.databaseUrl,
            `select id from kit_producer.outbox where published_at is null and payload->'data'->>'name' = 'offline'`,
          )
        ).length === 0,
      "the outbox row marked published",
    );
    // Every copy the fast path and the poller may both have published has been handled by now.
    await consumerIdle(infra.natsUrl, streamName(infra.envName, "APP"), CONSUMER);
    expect(await seen("offline")).toBe(1);
  });

  it("applies a message delivered twice only once", async () => {
    const nc = await connect({ servers: infra.natsUrl });
    const js = jetstream(nc);
    const message = {
      id: randomUUID(),
      type: AppCreated.type,
      version: 1,
      occurredAt: new Date().toISOString(),
      correlationId: "dup-test",
      data: snapshot(4242, "twice"),
    };
    const subject = messageSubject(infra.envName, AppCreated.type);
    // Different Nats-Msg-Ids so JetStream stores both: the consumer's inbox must catch the repeat.
    const repeatCaught = await expectHandled(cons.deps.metrics, CONSUMER, "duplicate");
    await js.publish(subject, JSON.stringify(message), { msgID: randomUUID() });
    await js.publish(subject, JSON.stringify(message), { msgID: randomUUID() });
    await nc.close();
    await repeatCaught();
    expect(await seen("twice")).toBe(1);
  });

  it("terminates a message that breaks its contract without stopping the consumer", async () => {
    const terminated = await expectHandled(cons.deps.metrics, CONSUMER, "term", 2);
    const nc = await connect({ servers: infra.natsUrl });
    const js = jetstream(nc);
    const subject = messageSubject(infra.envName, AppCreated.type);
    await js.publish(subject, JSON.stringify({ id: "nope", type: AppCreated.type, data: {} }));
    await js.publish(subject, "not json at all");
    const good = {
      id: randomUUID(),
      type: AppCreated.type,
      version: 1,
      occurredAt: new Date().toISOString(),
      correlationId: "c",
      data: snapshot(7, "after-bad"),
    };
    await js.publish(subject, JSON.stringify(good));
    await nc.close();
    await eventually(async () => (await seen("after-bad")) === 1, "the good message after two bad ones");
    await terminated();
    // Terminated, not left for redelivery: the consumer has nothing pending or unacknowledged.
    await consumerIdle(infra.natsUrl, streamName(infra.envName, "APP"), CONSUMER);
  });
});

describe("a stream that JetStream loses", () => {
  it("publishes the events of the lost stream again from the outbox, and they are applied once", async () => {
    // The consumer is down, so the event waits unread in the stream when the stream is lost.
    await cons.close();
    const posted = await prod.deps.app.inject({
      method: "POST",
      url: "/notes",
      headers: { authorization: `Bearer ${token}` },
      payload: { name: "wiped", count: 1 },
    });
    expect(posted.json()).toMatchObject({ code: 0 });
    const published = () =>
      sql<{ published: boolean }>(
        infra.databaseUrl,
        `select published_at is not null as published from kit_producer.outbox where payload->'data'->>'name' = 'wiped'`,
      ).then((r) => r[0]?.published === true);
    await eventually(published, "the event published to the stream");
    const stream = streamName(infra.envName, "APP");
    await eventually(
      async () =>
        (await sql(infra.databaseUrl, `select 1 from kit_producer.outbox_stream where stream = $1`, [stream]))
          .length === 1,
      "the producer's first sight of the stream",
    );

    const nc = await connect({ servers: infra.natsUrl });
    await (await jetstreamManager(nc)).streams.delete(stream);
    await nc.close();

    cons = await startRuntime(consumer, { env: serviceEnv(infra) });
    await eventually(async () => (await seen("wiped")) === 1, "the event applied after the loss", 20000);
    await eventually(published, "the event marked published again");
    // Events the consumer had already applied before the loss are published again too: still once.
    await outboxDrained(infra.databaseUrl, "kit_producer");
    await consumerIdle(infra.natsUrl, stream, CONSUMER, 20_000);
    expect(await seen("wiped")).toBe(1);
    expect(await seen("offline")).toBe(1);
  });
});

describe("outbox rows written by the use case's own statement", () => {
  it("inserts the rows it took once, the rows emitted after by itself, and publishes them all", async () => {
    const names = ["taken-1", "taken-2", "after-take"];
    const appCreated = (appId: number, name: string) => ({
      ...snapshot(appId, name),
      team: "t1",
      createdBy: "alice",
    });
    await prod.deps.outbox.sqlTransaction(randomUUID(), async (tx: SqlTxContext) => {
      tx.emit(AppCreated, appCreated(9101, names[0]!));
      tx.emit(AppCreated, appCreated(9102, names[1]!));
      const part = tx.takeOutboxInsert(2)!;
      expect(part.params).toHaveLength(4);
      await tx.sql.query(`with ob as (${part.text}) select $1::int as one`, [1, ...part.params]);
      // Nothing waits any more until the next emit.
      expect(tx.takeOutboxInsert(1)).toBeNull();
      tx.emit(AppCreated, appCreated(9103, names[2]!));
    });
    const rows = await sql<{ name: string }>(
      infra.databaseUrl,
      `select payload->'data'->>'name' as name from kit_producer.outbox
       where payload->'data'->>'name' = any($1) order by created_at, name`,
      [names],
    );
    expect(rows.map((r) => r.name).sort()).toEqual([...names].sort());
    for (const name of names) await eventually(async () => (await seen(name)) === 1, `${name} applied`);
  });

  it("goes with COMMIT when the use case calls its statement the last, and refuses what would be lost", async () => {
    const appCreated = (appId: number, name: string) => ({
      ...snapshot(appId, name),
      team: "t1",
      createdBy: "alice",
    });
    const names = ["last-taken", "last-left"];
    const outbox = prod.deps.outbox;
    // The last statement takes the rows: they commit with it.
    await outbox.sqlTransaction(randomUUID(), async (tx: SqlTxContext) => {
      tx.emit(AppCreated, appCreated(9111, names[0]!));
      const part = tx.takeOutboxInsert(2)!;
      await tx.sql.last.query(`with ob as (${part.text}) select $1::int as one`, [1, ...part.params]);
      // Nothing may be emitted after it: it would never be written.
      expect(() => tx.emit(AppCreated, appCreated(9112, "never"))).toThrow(
        /after the transaction's last statement/,
      );
    });
    // A last statement that leaves rows behind is refused before it is sent: nothing commits.
    await expect(
      outbox.sqlTransaction(randomUUID(), async (tx: SqlTxContext) => {
        tx.emit(AppCreated, appCreated(9113, "refused"));
        await tx.sql.last.query(`select $1::int as one`, [1]);
      }),
    ).rejects.toThrow(/leaves messages to insert/);
    // Rows no statement took go in with COMMIT.
    await outbox.sqlTransaction(randomUUID(), async (tx: SqlTxContext) => {
      tx.emit(AppCreated, appCreated(9114, names[1]!));
    });
    const rows = await sql<{ name: string }>(
      infra.databaseUrl,
      `select payload->'data'->>'name' as name from kit_producer.outbox
       where payload->'data'->>'name' = any($1) order by name`,
      [[...names, "never", "refused"]],
    );
    expect(rows.map((r) => r.name).sort()).toEqual([...names].sort());
    for (const name of names) await eventually(async () => (await seen(name)) === 1, `${name} applied`);
  });
});
