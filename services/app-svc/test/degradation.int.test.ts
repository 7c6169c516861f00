import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestInfra, eventually, sql, TcpProxy, type TestInfra } from "@procode/test-kit";
import { call, EventTap, startAppSvc, tokenFor, type AppRuntime } from "./support/harness.js";

let infra: TestInfra;
let dbProxy: TcpProxy;
let natsProxy: TcpProxy;
let svc: AppRuntime;
let tap: EventTap;
let token: string;

beforeAll(async () => {
  infra = await createTestInfra("app-svc-degrade");
  dbProxy = TcpProxy.forUrl(infra.databaseUrl);
  natsProxy = TcpProxy.forUrl(infra.natsUrl);
  await dbProxy.start();
  await natsProxy.start();
  ({ runtime: svc } = await startAppSvc(infra, {
    DATABASE_URL: dbProxy.url(infra.databaseUrl),
    NATS_URL: natsProxy.url(infra.natsUrl),
  }));
  tap = await EventTap.start(infra, "test-degrade-events");
  token = await tokenFor(infra, "t1");
});

afterAll(async () => {
  await tap?.stop();
  await svc?.close();
  await dbProxy?.stop();
  await natsProxy?.stop();
  await infra?.cleanup();
});

describe("degradation", () => {
  it("answers 503/9003 naming the database while it is unreachable, and works again after", async () => {
    dbProxy.cut();
    try {
      const started = Date.now();
      const create = await call(svc, token, "POST", "/apps", { name: "db-down", devMode: "low-code" });
      expect(create.status).toBe(503);
      expect(create.body).toEqual({
        code: 9003,
        message: "the database is unavailable; retry later",
        data: null,
      });
      const list = await call(svc, token, "GET", "/apps");
      expect(list.status).toBe(503);
      expect(list.body.code).toBe(9003);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      dbProxy.restore();
    }
    const again = await eventually(async () => {
      const res = await call(svc, token, "POST", "/apps", { name: "db-down", devMode: "low-code" });
      return res.body.code === 0 ? res : null;
    }, "a create after the database is back");
    expect(again.body.data.name).toBe("db-down");
  });

  it("creates an app while NATS is unreachable and delivers its event once NATS is back", async () => {
    natsProxy.cut();
    let appId: number;
    try {
      await eventually(
        async () => (await svc.deps.app.inject({ url: "/readyz" })).statusCode === 503,
        "readyz to notice NATS is gone",
      );
      const res = await call(svc, token, "POST", "/apps", { name: "nats-down", devMode: "low-code" });
      expect(res.body.code).toBe(0);
      appId = res.body.data.id;
      // The write committed with its events (and the live one) held in the outbox: nothing could reach NATS.
      const held = await sql<{ type: string; published: boolean }>(
        infra.databaseUrl,
        `select type, published_at is not null as published from app.outbox where payload->'data'->>'appId' = $1
         order by type`,
        [String(appId)],
      );
      expect(held).toEqual([
        { type: "app.created.v1", published: false },
        { type: "live.app.v1", published: false },
      ]);
      expect(tap.forApp(appId)).toEqual([]);
    } finally {
      natsProxy.restore();
    }
    await eventually(() => tap.forApp(appId).length === 1, "the event after NATS is back", 20000);
    await tap.settle();
    expect(tap.forApp(appId)).toHaveLength(1);
    expect(tap.forApp(appId)[0]!.type).toBe("app.created.v1");
  });
});
