import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@procode/test-kit";
import { createOpsModule, type OpsModule } from "../src/index.js";

/**
 * The reference ops module over real HTTP (started in-process from its factory), with a real HTTP
 * receiver for its callbacks that checks their signatures.
 */

const SECRET = "module-callback-secret-0001";
let mod: OpsModule;
let url: string;
let receiver: http.Server;
let receiverUrl: string;
const received: { status: string; deployId: string; verified: boolean; at: number }[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const ts = String(req.headers["x-ops-timestamp"]);
      const expected = `sha256=${createHmac("sha256", SECRET).update(`${ts}.${raw}`).digest("hex")}`;
      const body = JSON.parse(raw) as { status: string; deployId: string };
      received.push({ ...body, verified: req.headers["x-ops-signature"] === expected, at: Date.now() });
      res
        .writeHead(200, { "content-type": "application/json" })
        .end('{"code":0,"message":"success","data":{}}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/deploy/callback`;
  mod = await createOpsModule({ callbackUrl: receiverUrl, callbackSecret: SECRET, logLevel: "silent" });
  url = await mod.listen(0);
});

afterEach(async () => {
  await call("POST", "/_control/reset");
  received.length = 0;
});

afterAll(async () => {
  await mod?.close();
  await new Promise((r) => receiver?.close(r));
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as { code: number; message: string; data: any } };
}

const deployBody = (appId = 1) => ({
  appId,
  image: "registry.local/app:v1.0.0",
  config: { env: { A: "1" }, resources: { cpu: "1", memory: "2Gi" } },
});
const create = async (appId = 1, headers: Record<string, string> = {}) =>
  (await call("POST", "/deploy/create", deployBody(appId), headers)).body.data.deployId as string;
const statusOf = async (id: string) => (await call("GET", `/deploy/${id}/status`)).body;
const controlView = async (id: string) => (await call("GET", `/_control/deployments/${id}`)).body.data;

/** The distinct statuses a deployment or build shows, in order, polled until it shows `last`. */
async function statusesUntil(id: string, last: string, kind: "deploy" | "build" = "deploy") {
  const seen: string[] = [];
  await eventually(
    async () => {
      const status = (await call("GET", `/${kind}/${id}/status`)).body.data.status as string;
      if (seen.at(-1) !== status) seen.push(status);
      return status === last;
    },
    `${kind} ${id} ${last}`,
    10_000,
    20,
  );
  return seen;
}

describe("deployments", () => {
  it("answers a create with a deployId and PENDING, then RUNNING, then the outcome", async () => {
    // PENDING for the first fifth, then RUNNING: long enough that polling sees each.
    await call("PUT", "/_control/defaults", { deploy: { durationMs: 2000, callback: "off" } });
    const created = await call("POST", "/deploy/create", deployBody());
    expect(created).toMatchObject({ status: 200, body: { code: 0, data: { status: "PENDING" } } });
    const id = created.body.data.deployId as string;
    expect(id).toMatch(/^deploy-[0-9a-f]{16}$/);
    expect((await statusOf(id)).data).toMatchObject({
      deployId: id,
      status: "PENDING",
      message: "waiting for a node",
    });
    expect(await statusesUntil(id, "SUCCESS")).toEqual(["PENDING", "RUNNING", "SUCCESS"]);
    expect(await statusOf(id)).toEqual({
      code: 0,
      message: "success",
      data: { deployId: id, status: "SUCCESS", message: "deployment succeeded" },
    });
  });

  it("gives the same deployment for a create repeated with the same idempotency key", async () => {
    const a = await create(1, { "idempotency-key": "k-1" });
    const b = await create(1, { "idempotency-key": "k-1" });
    const c = await create(1, { "idempotency-key": "k-2" });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect((await call("GET", `/_control/deployments/${a}`)).body.data.createCalls).toBe(2);
  });

  it("lists deployments and builds with the idempotency key each was created with", async () => {
    const a = await create(1, { "idempotency-key": "k-1" });
    await create(1, { "idempotency-key": "k-1" });
    const b = await create(2);
    const build = { appId: 3, commitId: "c", dockerfile: "FROM x", image: "r/i:v1" };
    await call("POST", "/build/create", build, { "idempotency-key": "procode-package-7-1" });
    await call("POST", "/build/create", build, { "idempotency-key": "procode-package-7-1" });

    const deployments = (await call("GET", "/_control/deployments")).body.data;
    expect(deployments.total).toBe(2);
    const byId = new Map<string, { idempotencyKey: string | null; createCalls: number }>(
      deployments.items.map((d: { id: string }) => [d.id, d]),
    );
    expect(byId.get(a)).toMatchObject({ idempotencyKey: "k-1", createCalls: 2 });
    expect(byId.get(b)).toMatchObject({ idempotencyKey: null, createCalls: 1 });

    const builds = (await call("GET", "/_control/builds")).body.data;
    expect(builds.total).toBe(1);
    expect(builds.items[0]).toMatchObject({
      kind: "build",
      idempotencyKey: "procode-package-7-1",
      createCalls: 2,
    });
    expect((await call("GET", "/_control/builds?appId=4")).body.data.total).toBe(0);
  });

  it("answers bad input and unknown ids in the envelope", async () => {
    expect(await call("POST", "/deploy/create", { appId: 1 })).toMatchObject({
      status: 400,
      body: { code: 1001, message: expect.stringMatching(/^image: /) },
    });
    expect(await call("POST", "/deploy/create", "{nope")).toMatchObject({
      status: 400,
      body: { code: 1001, message: "body: is not valid JSON" },
    });
    expect(await call("GET", "/deploy/deploy-unknown/status")).toMatchObject({
      status: 404,
      body: { code: 4004, message: "deployment deploy-unknown not found" },
    });
    expect(await call("PUT", "/_control/defaults", { deploy: { durationMs: -1 } })).toMatchObject({
      status: 400,
      body: { code: 1001, message: expect.stringMatching(/^deploy\.durationMs: /) },
    });
  });

  it("cancels a running deployment, and answers 405 where cancel is switched off", async () => {
    await call("PUT", "/_control/defaults", { deploy: { durationMs: 60_000, callback: "off" } });
    const id = await create();
    expect((await call("POST", `/deploy/${id}/cancel`, {})).body.data).toEqual({
      deployId: id,
      status: "CANCELLED",
    });
    expect((await statusOf(id)).data.status).toBe("CANCELLED");
    await call("PUT", "/_control/apps/7", { deploy: { cancelSupported: false } });
    const other = await create(7);
    expect((await call("POST", `/deploy/${other}/cancel`, {})).status).toBe(405);
    expect((await statusOf(other)).data.status).toBe("PENDING");
  });

  it("refuses a create when told to", async () => {
    await call("POST", "/_control/next", { count: 1, behaviour: { rejectCreate: "quota exceeded" } });
    expect(await call("POST", "/deploy/create", deployBody())).toMatchObject({
      status: 400,
      body: { code: 1001, message: "quota exceeded" },
    });
    expect((await call("POST", "/deploy/create", deployBody())).status).toBe(200);
  });

  it("takes next-N overrides before per-app ones before the defaults", async () => {
    await call("PUT", "/_control/defaults", { deploy: { outcome: "SUCCESS", durationMs: 60_000 } });
    await call("PUT", "/_control/apps/5", { deploy: { outcome: "FAILED" } });
    await call("POST", "/_control/next", { count: 2, behaviour: { durationMs: 0 } });
    const ids = [await create(5), await create(5), await create(5), await create(6)];
    const seen = await Promise.all(
      ids.map(async (id) => (await call("GET", `/_control/deployments/${id}`)).body.data),
    );
    expect(seen.map((d) => [d.behaviour.outcome, d.behaviour.durationMs])).toEqual([
      ["FAILED", 0],
      ["FAILED", 0],
      ["FAILED", 60_000],
      ["SUCCESS", 60_000],
    ]);
  });

  it("speaks another dialect when told to: extra fields, its own running status, no message", async () => {
    await call("PUT", "/_control/defaults", {
      deploy: { durationMs: 1000, extraFields: true, runningStatus: "ROLLING_OUT", omitMessage: true },
    });
    const id = await create();
    const answer = await eventually(async () => {
      const a = await statusOf(id);
      return a.data.status === "ROLLING_OUT" ? a : null;
    }, "the running status");
    expect(answer.data).toMatchObject({ deployId: id, status: "ROLLING_OUT", region: "local-1" });
    expect(answer.data).not.toHaveProperty("message");
    expect(answer).toHaveProperty("requestId");
  });

  it("changes running deployments on request: finish now, with a callback", async () => {
    await call("PUT", "/_control/defaults", { deploy: { durationMs: 600_000, callback: "on" } });
    const [a, b, other] = [await create(8), await create(8), await create(9)];
    expect(
      (
        await call("PATCH", "/_control/deployments", {
          appId: 8,
          behaviour: { durationMs: 0, outcome: "FAILED" },
        })
      ).body.data,
    ).toEqual({
      changed: 2,
    });
    expect((await statusOf(a)).data.status).toBe("FAILED");
    expect((await statusOf(b)).data.status).toBe("FAILED");
    expect((await statusOf(other)).data.status).toBe("PENDING");
    await eventually(() => received.length === 2, "the two callbacks", 5000);
    expect(received.map((r) => r.status)).toEqual(["FAILED", "FAILED"]);
    // Finished ones are left alone.
    expect(
      (await call("PATCH", "/_control/deployments", { ids: [a], behaviour: { outcome: "SUCCESS" } })).body
        .data,
    ).toEqual({
      changed: 0,
    });
  });

  it("counts status calls and how many of one deployment were in flight at once", async () => {
    await call("PUT", "/_control/defaults", { deploy: { durationMs: 60_000, statusDelayMs: 200 } });
    const id = await create();
    await Promise.all([statusOf(id), statusOf(id)]);
    await statusOf(id);
    const seen = (await call("GET", `/_control/deployments/${id}`)).body.data;
    expect(seen.statusCallCount).toBe(3);
    expect(seen.maxConcurrentStatusCalls).toBe(2);
  });
});

describe("callbacks", () => {
  it("sends one signed callback at the end, none when off, two when twice", async () => {
    await call("POST", "/_control/next", { count: 1, behaviour: { durationMs: 100, callback: "on" } });
    await call("POST", "/_control/next", { count: 1, behaviour: { durationMs: 100, callback: "off" } });
    await call("POST", "/_control/next", {
      count: 1,
      behaviour: { durationMs: 100, callback: "twice", outcome: "FAILED" },
    });
    const [on, off, twice] = [await create(), await create(), await create()];
    // Every callback the module sent is recorded with its answer; "off" ended without any.
    await eventually(
      async () => {
        const [a, b, c] = await Promise.all([on, off, twice].map(controlView));
        return a.callbacks.length === 1 && b.status === "SUCCESS" && c.callbacks.length === 2;
      },
      "three deployments ended and their callbacks answered",
      5000,
    );
    expect(received.every((r) => r.verified)).toBe(true);
    expect(received.filter((r) => r.deployId === on).map((r) => r.status)).toEqual(["SUCCESS"]);
    expect(received.filter((r) => r.deployId === off)).toHaveLength(0);
    expect(received.filter((r) => r.deployId === twice).map((r) => r.status)).toEqual(["FAILED", "FAILED"]);
  });

  it("sends a late callback after its delay, and a progress callback when asked", async () => {
    await call("PUT", "/_control/defaults", {
      deploy: { durationMs: 200, callback: "late", callbackDelayMs: 600, progressCallback: true },
    });
    const started = Date.now();
    const id = await create();
    await eventually(() => received.filter((r) => r.deployId === id).length === 2, "two callbacks", 5000);
    const [progress, final] = received;
    expect(progress).toMatchObject({ status: "RUNNING" });
    expect(final).toMatchObject({ status: "SUCCESS" });
    expect(final!.at - started).toBeGreaterThanOrEqual(750);
  });

  it("holds callbacks during an outage and sends them once it is over", async () => {
    await call("PUT", "/_control/defaults", { deploy: { durationMs: 100 } });
    const id = await create();
    await call("POST", "/_control/outage", { mode: "unreachable", durationMs: 2000 });
    // Ended during the outage, so its callback is due: held, not sent.
    await eventually(async () => (await controlView(id)).status === "SUCCESS", "the deployment ended", 1500);
    expect((await call("GET", "/_control/stats")).body.data.outage).toMatchObject({ mode: "unreachable" });
    expect((await controlView(id)).callbacks).toEqual([]);
    expect(received).toHaveLength(0);
    await eventually(() => received.length === 1, "the held callback", 5000);
  });
});

describe("outages", () => {
  it("answers 503 in the envelope while in a 5xx outage, and resumes by itself", async () => {
    const id = await create();
    await call("POST", "/_control/outage", { mode: "5xx", durationMs: 300 });
    expect(await call("GET", `/deploy/${id}/status`)).toMatchObject({ status: 503, body: { code: 4005 } });
    await eventually(
      async () => (await call("GET", `/deploy/${id}/status`)).status === 200,
      "the end of the outage",
      5000,
    );
    expect((await call("GET", "/_control/stats")).body.data.outage).toBeNull();
  });

  it("drops connections while unreachable; the control API stays up", async () => {
    const id = await create();
    await call("POST", "/_control/outage", { mode: "unreachable", durationMs: 60_000 });
    // The connection is dropped without an answer.
    await expect(fetch(`${url}/deploy/${id}/status`)).rejects.toMatchObject({
      cause: { code: "UND_ERR_SOCKET" },
    });
    expect((await call("GET", "/_control/stats")).body.data.outage).toMatchObject({ mode: "unreachable" });
    await call("DELETE", "/_control/outage");
    expect((await call("GET", `/deploy/${id}/status`)).status).toBe(200);
  });
});

describe("image builds (same shape)", () => {
  it("builds an image and reports its reference with a sha256 digest", async () => {
    await call("PUT", "/_control/defaults", { build: { durationMs: 200 } });
    const body = {
      appId: 3,
      commitId: "abc123",
      dockerfile: "FROM python:3.12-slim\n",
      image: "registry.local/app-3:v1.0.0",
    };
    const created = await call("POST", "/build/create", body);
    expect(created.body).toMatchObject({ code: 0, data: { status: "PENDING" } });
    const id = created.body.data.buildId as string;
    expect(id).toMatch(/^build-/);
    const pending = (await call("GET", `/build/${id}/status`)).body.data;
    expect(pending).not.toHaveProperty("digest");
    await statusesUntil(id, "SUCCESS", "build");
    const done = (await call("GET", `/build/${id}/status`)).body.data;
    expect(done).toMatchObject({ buildId: id, status: "SUCCESS", image: body.image });
    expect(done.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The same inputs give the same digest.
    const again = (await call("POST", "/build/create", body)).body.data.buildId as string;
    await statusesUntil(again, "SUCCESS", "build");
    expect((await call("GET", `/build/${again}/status`)).body.data.digest).toBe(done.digest);
    expect((await call("GET", `/deploy/${id}/status`)).status).toBe(404);
  });

  it("fails a build when told to", async () => {
    await call("POST", "/_control/next", {
      kind: "build",
      count: 1,
      behaviour: { durationMs: 0, outcome: "FAILED" },
    });
    const id = (
      await call("POST", "/build/create", { appId: 3, commitId: "c", dockerfile: "FROM x", image: "r/i:v1" })
    ).body.data.buildId as string;
    expect((await call("GET", `/build/${id}/status`)).body.data).toMatchObject({
      status: "FAILED",
      message: expect.stringMatching(/docker build failed/),
    });
  });
});

describe("zero-delay mode", () => {
  it("makes every deployment final at once, whatever the behaviour says", async () => {
    const fast = await createOpsModule({ zeroDelay: true, logLevel: "silent" });
    const fastUrl = await fast.listen(0);
    try {
      await fetch(`${fastUrl}/_control/defaults`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ deploy: { durationMs: 60_000 } }),
      });
      const res = await fetch(`${fastUrl}/deploy/create`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(deployBody()),
      });
      const id = ((await res.json()) as { data: { deployId: string } }).data.deployId;
      const status = await (await fetch(`${fastUrl}/deploy/${id}/status`)).json();
      expect(status).toMatchObject({ data: { status: "SUCCESS" } });
    } finally {
      await fast.close();
    }
  });
});
