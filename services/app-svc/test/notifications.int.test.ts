import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CreatedNotification,
  type Notification,
  type NotificationDelivery,
  type Page,
} from "@procode/contracts";
import {
  createTestInfra,
  eventually,
  expectHandled,
  sql,
  WebhookReceiver,
  type TestInfra,
} from "@procode/test-kit";
import { call, publishPhaseStatus, startAppSvc, tokenFor, type AppRuntime } from "./support/harness.js";

/**
 * Notifications in app-svc over real PostgreSQL and NATS: pipeline events published on JetStream
 * as pipeline-engine does, deliveries to a receiver on 127.0.0.1 (allowlisted as tests are) that
 * verifies every signature with the standardwebhooks library.
 */

let infra: TestInfra;
let svc: AppRuntime;
let receiver: WebhookReceiver;
let red: string;
let blue: string;
let env: Record<string, string>;

beforeAll(async () => {
  infra = await createTestInfra("app-notify");
  receiver = await new WebhookReceiver().start();
  env = {
    NOTIFICATION_ALLOW_HTTP: "true",
    NOTIFICATION_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
    NOTIFICATION_RETRY_BASE_MS: "100",
    NOTIFICATION_RETRY_MAX_MS: "400",
    NOTIFICATION_RETRY_WINDOW_MS: "6000",
    NOTIFICATION_TIMEOUT_MS: "1000",
    NOTIFICATION_POLL_MS: "100",
  };
  const started = await startAppSvc(infra, env);
  svc = started.runtime;
  // A restart opens the secrets sealed before it.
  env["ENCRYPTION_KEYS"] = started.encryptionKeys;
  red = await tokenFor(infra, "red", "rita");
  blue = await tokenFor(infra, "blue", "bert");
});

afterAll(async () => {
  await svc?.close();
  await receiver?.stop();
  await infra?.cleanup();
});

async function createApp(token: string, name: string): Promise<number> {
  const r = await call(svc, token, "POST", "/apps", { name, devMode: "low-code" });
  expect(r.body.code).toBe(0);
  return r.body.data.id as number;
}

async function subscribe(appId: number, path: string, eventTypes: string[]): Promise<CreatedNotification> {
  const r = await call<CreatedNotification>(svc, red, "POST", `/apps/${appId}/notifications`, {
    url: receiver.url(path),
    eventTypes,
  });
  expect(r.body).toMatchObject({ code: 0 });
  receiver.verifyWith(path, r.body.data.secret);
  return r.body.data;
}

/** Publishes a phase pipeline's status change as pipeline-engine does. */
const publishPhase = (
  data: Parameters<typeof publishPhaseStatus>[2],
  opts: Parameters<typeof publishPhaseStatus>[3] = {},
) => publishPhaseStatus(svc, infra, data, opts);

const deliveries = async (appId: number, id: number, token = red) =>
  (await call<Page<NotificationDelivery>>(svc, token, "GET", `/apps/${appId}/notifications/${id}/deliveries`))
    .body;

describe("subscriptions", () => {
  it("creates one with a generated whsec_ secret shown once, lists it without the secret, deletes it", async () => {
    const appId = await createApp(red, "subscribed");
    const created = await subscribe(appId, "/one", ["pipeline.failed", "deployment.succeeded"]);
    expect(created).toMatchObject({
      appId,
      url: receiver.url("/one"),
      eventTypes: ["pipeline.failed", "deployment.succeeded"],
      createdBy: "rita",
    });
    expect(created.secret).toMatch(/^whsec_/);
    const list = await call<Page<Notification>>(svc, red, "GET", `/apps/${appId}/notifications`);
    expect(list.body.data.items).toEqual([
      {
        id: created.id,
        appId,
        url: created.url,
        eventTypes: created.eventTypes,
        createdBy: "rita",
        createdAt: created.createdAt,
      },
    ]);
    expect(JSON.stringify(list.body)).not.toContain(created.secret.slice(6));
    const [row] = await sql<{ secret: string }>(
      infra.databaseUrl,
      "select secret from app.notification_subscription where id = $1",
      [created.id],
    );
    expect(row!.secret).not.toContain(created.secret.slice(6));

    const del = await svc.deps.app.inject({
      method: "DELETE",
      url: `/apps/${appId}/notifications/${created.id}`,
      headers: { authorization: `Bearer ${red}` },
    });
    expect(del.json()).toMatchObject({ code: 0, data: { id: created.id, deleted: true } });
    const again = await svc.deps.app.inject({
      method: "DELETE",
      url: `/apps/${appId}/notifications/${created.id}`,
      headers: { authorization: `Bearer ${red}` },
    });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toMatchObject({ code: 1009 });
  });

  it("keeps a secret the caller gives, and refuses one that is not whsec_ base64 (1001 naming secret)", async () => {
    const appId = await createApp(red, "own-secret");
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const r = await call<CreatedNotification>(svc, red, "POST", `/apps/${appId}/notifications`, {
      url: receiver.url("/own"),
      eventTypes: ["pipeline.started"],
      secret,
    });
    expect(r.body.data.secret).toBe(secret);
    const bad = await call(svc, red, "POST", `/apps/${appId}/notifications`, {
      url: receiver.url("/own"),
      eventTypes: ["pipeline.started"],
      secret: "not-a-secret",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(1001);
    expect(bad.body.message).toContain("secret");
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data", "169.254.169.254"],
    ["https://10.1.2.3/hook", "10.1.2.3"],
    ["https://[::1]:8443/hook", "::1"],
    ["http://127.0.0.1:1/hook", "127.0.0.1"],
    ["https://metadata.internal/hook", "internal"],
    ["ftp://hooks.example.com/x", "scheme"],
  ])("refuses %s at subscribe time with 1001 naming url", async (url, says) => {
    const appId = await createApp(red, `ssrf-${randomUUID().slice(0, 8)}`);
    const r = await call(svc, red, "POST", `/apps/${appId}/notifications`, {
      url,
      eventTypes: ["pipeline.failed"],
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(1001);
    expect(r.body.message).toMatch(/^url: /);
    expect(r.body.message).toContain(says);
    const [n] = await sql<{ n: string }>(
      infra.databaseUrl,
      "select count(*) as n from app.notification_subscription where app_id = $1",
      [appId],
    );
    expect(Number(n!.n)).toBe(0);
  });

  it("refuses unknown event types and an empty list (1001 naming eventTypes)", async () => {
    const appId = await createApp(red, "bad-types");
    for (const eventTypes of [[], ["pipeline.exploded"], ["pipeline.failed", "pipeline.failed"]]) {
      const r = await call(svc, red, "POST", `/apps/${appId}/notifications`, {
        url: receiver.url("/x"),
        eventTypes,
      });
      expect(r.body.code).toBe(1001);
      expect(r.body.message).toContain("eventTypes");
    }
  });

  it("shows another team nothing: its calls on the app answer 404 (1004) as for a missing app", async () => {
    const appId = await createApp(red, "red-only");
    const sub = await subscribe(appId, "/red-only", ["pipeline.failed"]);
    for (const [method, url, payload] of [
      ["GET", `/apps/${appId}/notifications`, undefined],
      [
        "POST",
        `/apps/${appId}/notifications`,
        { url: receiver.url("/blue"), eventTypes: ["pipeline.failed"] },
      ],
      ["GET", `/apps/${appId}/notifications/${sub.id}/deliveries`, undefined],
      ["DELETE", `/apps/${appId}/notifications/${sub.id}`, undefined],
    ] as const) {
      const res = await svc.deps.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${blue}` },
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toMatchObject({ code: 1004, message: `app ${appId} not found` });
    }
    expect(
      (await call<Page<Notification>>(svc, red, "GET", `/apps/${appId}/notifications`)).body.data.total,
    ).toBe(1);
  });
});

describe("deliveries", () => {
  it("reaches a receiver that was down (reset, then 500) once it is back, once per event, signed", async () => {
    const appId = await createApp(red, "down-for-a-while");
    const sub = await subscribe(appId, "/down", ["pipeline.started", "pipeline.failed", "deployment.failed"]);
    let seen = 0;
    receiver.answerWith((path) => {
      if (path !== "/down") return 204;
      seen++;
      return seen <= 2 ? "reset" : seen <= 5 ? 500 : 204;
    });
    const started = await publishPhase({ appId, status: "RUNNING" });
    const failed = await publishPhase({
      appId,
      status: "FAILED",
      state: "FAILED",
      failedStage: "DEPLOY",
      error: "boom",
    });

    await eventually(() => receiver.delivered("/down").length >= 3, "three deliveries", 15_000);
    const got = receiver.delivered("/down");
    const bodies = got.map(
      (r) => r.verified as { type: string; data: { pipelineStatus: string; error: string } },
    );
    expect(bodies.map((b) => b.type).sort()).toEqual([
      "deployment.failed",
      "pipeline.failed",
      "pipeline.started",
    ]);
    expect(bodies.find((b) => b.type === "deployment.failed")!.data).toMatchObject({
      pipelineStatus: "FAILED",
      error: "boom",
    });
    expect(new Set(got.map((r) => r.id)).size).toBe(3);

    const log = await eventually(async () => {
      const page = await deliveries(appId, sub.id);
      return page.data.items.every((d) => d.status === "DELIVERED") ? page.data : null;
    }, "the log to show every delivery delivered");
    expect(log.total).toBe(3);
    expect(log.items.map((d) => d.eventId).sort()).toEqual([started, failed, failed].sort());
    expect(log.items.reduce((n, d) => n + d.attempts, 0)).toBe(seen);
    expect(log.items.some((d) => d.attempts > 1)).toBe(true);
    for (const d of log.items) {
      expect(d).toMatchObject({ lastStatusCode: 204, lastError: null, nextAttemptAt: null });
      expect(d.deliveredAt).not.toBeNull();
      // Every attempt of a delivery carried the same webhook-id.
      expect(receiver.received.filter((r) => r.id === d.id)).toHaveLength(d.attempts);
    }
    receiver.answerWith(204);
  });

  it("makes no second delivery for an event redelivered by JetStream", async () => {
    const appId = await createApp(red, "redelivered");
    const sub = await subscribe(appId, "/dup", ["pipeline.succeeded"]);
    const id = await publishPhase({ appId, status: "SUCCESS", state: "SUCCESS" });
    await eventually(() => receiver.delivered("/dup").length === 1, "the first delivery");
    const duplicate = await expectHandled(
      svc.deps.metrics,
      "app-svc-notify-phase-pipeline-status-changed",
      "duplicate",
    );
    // The same event again, past JetStream's own duplicate window (another Nats-Msg-Id).
    await publishPhase({ appId, status: "SUCCESS", state: "SUCCESS" }, { id, msgId: randomUUID() });
    await duplicate();
    expect((await deliveries(appId, sub.id)).data.total).toBe(1);
  });

  it("does not follow a redirect, records it, and keeps trying", async () => {
    const appId = await createApp(red, "redirected");
    const sub = await subscribe(appId, "/moved", ["pipeline.cancelled"]);
    receiver.answerWith((path) => (path === "/moved" ? 302 : 204));
    await publishPhase({ appId, status: "CANCELLED", state: "CANCELLED", error: "stopped" });
    const d = await eventually(async () => {
      const [item] = (await deliveries(appId, sub.id)).data.items;
      return item && item.attempts >= 2 ? item : null;
    }, "two attempts recorded");
    expect(d).toMatchObject({ status: "PENDING", lastStatusCode: 302 });
    expect(d.lastError).toContain("redirects are not followed");
    expect(receiver.received.some((r) => r.path === "/elsewhere")).toBe(false);
    receiver.answerWith(204);
    await eventually(
      async () => (await deliveries(appId, sub.id)).data.items[0]?.status === "DELIVERED",
      "delivered",
    );
  });

  it("bounds each attempt's time: a receiver that never answers is recorded as a timeout", async () => {
    const appId = await createApp(red, "silent");
    const sub = await subscribe(appId, "/silent", ["pipeline.started"]);
    receiver.answerWith((path) => (path === "/silent" ? "hang" : 204));
    await publishPhase({ appId, status: "RUNNING" });
    const d = await eventually(async () => {
      const [item] = (await deliveries(appId, sub.id)).data.items;
      return item && item.attempts >= 1 ? item : null;
    }, "an attempt recorded");
    expect(d).toMatchObject({ status: "PENDING", lastStatusCode: null });
    expect(d.lastError).toMatch(/within 1000 ms|timeout/i);
    receiver.answerWith(204);
  });

  it("marks a delivery FAILED when no attempt succeeds within the retry window", async () => {
    const appId = await createApp(red, "always-500");
    const sub = await subscribe(appId, "/broken", ["pipeline.failed"]);
    receiver.answerWith((path) => (path === "/broken" ? 500 : 204));
    await publishPhase({ appId, status: "FAILED", state: "FAILED", failedStage: "BUILD", error: "no" });
    const d = await eventually(
      async () => {
        const [item] = (await deliveries(appId, sub.id)).data.items;
        return item?.status === "FAILED" ? item : null;
      },
      "the delivery to fail for good",
      20_000,
      100,
    );
    expect(d).toMatchObject({
      lastStatusCode: 500,
      lastError: "answered 500",
      nextAttemptAt: null,
      deliveredAt: null,
    });
    expect(d.attempts).toBeGreaterThan(2);
    const failed = await call<Page<NotificationDelivery>>(
      svc,
      red,
      "GET",
      `/apps/${appId}/notifications/${sub.id}/deliveries?status=FAILED`,
    );
    expect(failed.body.data.total).toBe(1);
    receiver.answerWith(204);
  });

  it("goes on after a restart: a delivery pending when app-svc stopped is delivered by the next one", async () => {
    const appId = await createApp(red, "restarted");
    const sub = await subscribe(appId, "/restart", ["pipeline.started"]);
    receiver.answerWith((path) => (path === "/restart" ? 503 : 204));
    await publishPhase({ appId, status: "RUNNING" });
    await eventually(
      async () => (await deliveries(appId, sub.id)).data.items[0]?.attempts === 1,
      "a first attempt",
    );
    await svc.close();
    receiver.answerWith(204);
    ({ runtime: svc } = await startAppSvc(infra, env));
    await eventually(
      () => receiver.delivered("/restart").length === 1,
      "the delivery after the restart",
      15_000,
    );
    const [d] = (await deliveries(appId, sub.id)).data.items;
    expect(d).toMatchObject({ status: "DELIVERED", lastStatusCode: 204 });
    expect(d!.attempts).toBeGreaterThanOrEqual(2);
  });
});
