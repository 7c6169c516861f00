import { randomUUID } from "node:crypto";
import { DEFAULT_DEPLOY_CONFIG } from "@procode/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, Database, type ServiceRuntime } from "@procode/service-kit";
import { eventually, expectHandled, sql, type TestInfra } from "@procode/test-kit";
import type { Config } from "../src/config.js";
import * as repo from "../src/store/deployment.repository.js";
import { callbackBody, type EngineSide, signedHeaders } from "./support/engine.js";
import { startOpsFlow, type OpsFlow } from "./support/flow.js";
import type { OpsModuleProcess } from "./support/ops-module.js";

/**
 * Deployments end to end: ops-gateway in this process (real HTTP listener), the reference ops module
 * as a real process, real PostgreSQL and NATS; the test plays the engine over NATS.
 */

const SECRET = "ops-callback-secret-for-tests-0001";
let flow: OpsFlow;
let infra: TestInfra;
let ops: OpsModuleProcess;
let gw: ServiceRuntime<Config>;
let engine: EngineSide;

beforeAll(async () => {
  flow = await startOpsFlow("ops_flow", SECRET, {
    OPS_RETRY_BASE_MS: "100",
    OPS_RETRY_MAX_MS: "1000",
    OPS_TIMEOUT_MS: "3000",
    OPS_LEASE_MS: "6000",
  });
  ({ infra, ops, gw, engine } = flow);
});

afterAll(() => flow?.close());

interface Row {
  id: string;
  status: string;
  deploy_id: string | null;
  outcome: string | null;
  outcome_via: string | null;
  cancel_state: string | null;
}
interface Observation {
  source: string;
  ops_status: string | null;
  effect: string;
}

const rowsOf = (pipelineId: number) =>
  sql<Row>(infra.databaseUrl, `select * from ops.deployment where pipeline_id = $1 order by attempt`, [
    pipelineId,
  ]);
const observationsOf = (deployId: string) =>
  sql<Observation>(
    infra.databaseUrl,
    `select source, ops_status, effect from ops.deployment_observation where deploy_id = $1 order by id`,
    [deployId],
  );

async function postCallback(raw: string, headers: Record<string, string>) {
  const res = await fetch(`${gw.url}/deploy/callback`, { method: "POST", headers, body: raw });
  return { status: res.status, body: (await res.json()) as { code: number; message: string; data: any } };
}

describe("a deployment ends by poll or by callback, exactly once", () => {
  it("poll only: a deployment whose ops module never calls back succeeds by polling", async () => {
    await ops.forApp(101, { callback: "off", durationMs: 1200 });
    await engine.requestDeploy({ pipelineId: 1, appId: 101, pollInterval: 1 });
    const deployId = await engine.whenStarted(1);
    const finished = await engine.whenFinished(1);
    expect(finished.data).toMatchObject({ deployId, outcome: "SUCCESS", via: "POLL", attempt: 1 });
    expect(finished.correlationId).toBe("corr-1");
    const [row] = await rowsOf(1);
    expect(row).toMatchObject({ status: "SUCCESS", deploy_id: deployId, outcome_via: "POLL" });
    const seen = await ops.deployment(deployId);
    expect(seen.statusCallCount).toBeGreaterThanOrEqual(1);
    expect(seen.callbacks).toHaveLength(0);
    // What ops received is the ops module's create body.
    expect((seen as any).request).toEqual({
      appId: 101,
      image: "registry.local/app-101:v1.0.0",
      config: { env: { MODE: "test" }, resources: { cpu: "500m", memory: "512Mi" } },
    });
    expect((await observationsOf(deployId)).at(-1)).toMatchObject({
      source: "POLL",
      ops_status: "SUCCESS",
      effect: "APPLIED",
    });
  });

  it("poll only: a failed deployment carries the ops module's message", async () => {
    await ops.forApp(102, {
      callback: "off",
      durationMs: 800,
      outcome: "FAILED",
      message: "image pull back-off",
    });
    await engine.requestDeploy({ pipelineId: 2, appId: 102, pollInterval: 1 });
    const finished = await engine.whenFinished(2);
    expect(finished.data).toMatchObject({ outcome: "FAILED", via: "POLL", message: "image pull back-off" });
    expect((await rowsOf(2))[0]).toMatchObject({ status: "FAILED" });
  });

  it("callback only: a deployment finishes by its callback before any poll", async () => {
    await ops.forApp(103, { callback: "on", durationMs: 600 });
    await engine.requestDeploy({ pipelineId: 3, appId: 103, pollInterval: 120 });
    const deployId = await engine.whenStarted(3);
    const finished = await engine.whenFinished(3);
    expect(finished.data).toMatchObject({ deployId, outcome: "SUCCESS", via: "CALLBACK" });
    expect((await ops.deployment(deployId)).statusCallCount).toBe(0);
    expect(await observationsOf(deployId)).toEqual([
      expect.objectContaining({ source: "CREATE", ops_status: "PENDING" }),
      expect.objectContaining({ source: "CALLBACK", ops_status: "SUCCESS", effect: "APPLIED" }),
    ]);
  });

  it("a callback that arrives before the create's answer waits for it and is applied (no 404, no retry)", async () => {
    // Ends at once: the ops module calls back while its answer to the create is still on its way.
    await ops.forApp(150, { callback: "on", durationMs: 0 });
    const pipelines = [150, 151, 152, 153, 154];
    for (const p of pipelines) await engine.requestDeploy({ pipelineId: p, appId: 150, pollInterval: 120 });
    await eventually(() => pipelines.every((p) => engine.finished(p).length > 0), "five outcomes", 15_000);
    for (const p of pipelines) {
      const { deployId, outcome } = engine.finished(p)[0]!.data;
      expect(outcome).toBe("SUCCESS");
      await eventually(
        async () => (await ops.deployment(deployId)).callbacks.length > 0,
        "the callback sent",
      );
      const { callbacks } = await ops.deployment(deployId);
      expect(callbacks.map((c) => c.result)).toEqual(["200"]);
    }
  });

  it("callback and poll racing: both see the final status, one outcome is published", async () => {
    // Slow status answers keep a poll in flight while the callback (sent twice) lands.
    await ops.forApp(104, { callback: "twice", statusDelayMs: 900 });
    const pipelines = Array.from({ length: 16 }, (_, i) => 10 + i);
    for (const [i, p] of pipelines.entries()) {
      await ops.next(1, { durationMs: 1200 + i * 70 });
      await engine.requestDeploy({ pipelineId: p, appId: 104, pollInterval: 1 });
    }
    await eventually(() => pipelines.every((p) => engine.finished(p).length > 0), "sixteen outcomes", 20_000);
    await engine.settle(pipelines);
    let raced = 0;
    for (const p of pipelines) {
      expect(engine.finished(p)).toHaveLength(1);
      const { deployId, via } = engine.finished(p)[0]!.data;
      const obs = await observationsOf(deployId);
      const terminal = obs.filter((o) => o.ops_status === "SUCCESS");
      const applied = obs.filter((o) => o.effect === "APPLIED");
      expect(applied).toHaveLength(1);
      expect(applied[0]!.source).toBe(via);
      if (new Set(terminal.map((o) => o.source)).size === 2) raced++;
    }
    // A poll is in flight about half the time, so for several deployments both paths saw SUCCESS.
    expect(raced).toBeGreaterThan(0);
  });

  it("the same callback ten times gives one outcome; the other nine are recorded only", async () => {
    await ops.forApp(105, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 30, appId: 105, pollInterval: 120 });
    const deployId = await engine.whenStarted(30);
    // Terminal statuses are case-insensitive.
    const raw = callbackBody(deployId, "success", "rolled out");
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => postCallback(raw, signedHeaders(SECRET, raw))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const effects = answers.map((a) => a.body.data.effect).sort();
    expect(effects).toEqual(["APPLIED", ...Array(9).fill("RECORDED")]);
    expect(answers[0]!.body).toMatchObject({ code: 0, data: { deployId, accepted: true } });
    await engine.whenFinished(30);
    await engine.settle([30]);
    expect(engine.finished(30)).toHaveLength(1);
    expect(engine.finished(30)[0]!.data).toMatchObject({
      outcome: "SUCCESS",
      via: "CALLBACK",
      message: "rolled out",
    });
    expect(await observationsOf(deployId)).toHaveLength(11); // create + ten callbacks
    // The DEPLOY log: every callback's line, numbered without a gap or a repeat although the ten
    // waited for each other's lock, and its head where the lines end.
    const lines = await sql<{ seq: number; text: string }>(
      infra.databaseUrl,
      `select seq, text from ops.stage_log_line where pipeline_id = 30 and stage = 'DEPLOY' order by seq`,
    );
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
    expect(lines.filter((l) => l.text.startsWith("callback received")).length).toBe(10);
    expect(lines.filter((l) => l.text.includes("already ended SUCCESS; nothing changes")).length).toBe(9);
    expect(
      lines.filter((l) => l.text.includes("ended SUCCESS (seen by the ops module's callback)")).length,
    ).toBe(1);
    const [head] = await sql<{ next_seq: number; bytes: string }>(
      infra.databaseUrl,
      `select next_seq, bytes from ops.stage_log where pipeline_id = 30 and stage = 'DEPLOY' and attempt = 1`,
    );
    expect(head!.next_seq).toBe(lines.length + 1);
    expect(Number(head!.bytes)).toBe(lines.reduce((n, l) => n + Buffer.byteLength(l.text, "utf8"), 0));
  });

  it("a late callback after the timeout is recorded and ignored", async () => {
    // Finishes at ops after 5 s, calls back then; the deployment times out after 2 s.
    await ops.forApp(106, { callback: "on", durationMs: 5000 });
    await engine.requestDeploy({ pipelineId: 40, appId: 106, pollInterval: 1, pollTimeout: 2 });
    const deployId = await engine.whenStarted(40);
    const finished = await engine.whenFinished(40, 10_000);
    expect(finished.data).toMatchObject({ deployId, outcome: "TIMEOUT", via: "TIMEOUT" });
    expect(finished.data.message).toMatch(/did not finish within 2 s \(last status RUNNING/);
    await eventually(
      async () => (await ops.deployment(deployId)).callbacks.some((c) => c.result === "200"),
      "the late callback delivered",
      10_000,
    );
    expect(engine.finished(40)).toHaveLength(1);
    expect((await rowsOf(40))[0]).toMatchObject({ status: "TIMEOUT", outcome: "TIMEOUT" });
    expect((await observationsOf(deployId)).at(-1)).toMatchObject({
      source: "CALLBACK",
      ops_status: "SUCCESS",
      effect: "RECORDED",
    });
  });
});

describe("callback authentication", () => {
  let deployId: string;
  beforeAll(async () => {
    await ops.forApp(107, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 50, appId: 107, pollInterval: 120 });
    deployId = await engine.whenStarted(50);
  });

  it("refuses a missing, wrong, stale or mismatched signature with 401 (5002)", async () => {
    const raw = callbackBody(deployId, "SUCCESS");
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, string>][] = [
      ["no signature", { "content-type": "application/json" }],
      ["wrong secret", signedHeaders("another-secret-entirely-0000", raw)],
      ["stale timestamp", signedHeaders(SECRET, raw, now - 400)],
      ["future timestamp", signedHeaders(SECRET, raw, now + 400)],
      ["signature of another body", signedHeaders(SECRET, callbackBody(deployId, "FAILED"))],
      ["malformed signature", { ...signedHeaders(SECRET, raw), "x-ops-signature": "md5=abc" }],
      [
        "no timestamp",
        {
          "content-type": "application/json",
          "x-ops-signature": signedHeaders(SECRET, raw)["x-ops-signature"],
        },
      ],
    ];
    for (const [what, headers] of cases) {
      const res = await postCallback(raw, headers);
      expect(res.status, what).toBe(401);
      expect(res.body, what).toMatchObject({ code: 5002, data: null });
      expect(res.body.message, what).toMatch(/^callback refused: x-ops-/);
    }
    expect(engine.finished(50)).toHaveLength(0);
    expect((await rowsOf(50))[0]!.status).toBe("DEPLOYING");
    expect(await observationsOf(deployId)).toHaveLength(1); // the create only
  });

  it("answers an unknown deployId with 404 (4004) and a bad body with 400 (1001)", async () => {
    const unknown = callbackBody("deploy-nobody-knows", "SUCCESS");
    const res = await postCallback(unknown, signedHeaders(SECRET, unknown));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: 4004, message: "deployment deploy-nobody-knows not found", data: null });

    const noStatus = JSON.stringify({ deployId, timestamp: new Date().toISOString() });
    const bad = await postCallback(noStatus, signedHeaders(SECRET, noStatus));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 1001 });
    expect(bad.body.message).toMatch(/^status: /);

    const notJson = "{deployId:";
    const broken = await postCallback(notJson, signedHeaders(SECRET, notJson));
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ code: 1001, message: "body: is not valid JSON" });
    expect((await rowsOf(50))[0]!.status).toBe("DEPLOYING");
  });

  it("records a progress callback without ending the deployment", async () => {
    const raw = callbackBody(deployId, "RUNNING", "2/3 replicas ready");
    const res = await postCallback(raw, signedHeaders(SECRET, raw));
    expect(res.body).toMatchObject({ code: 0, data: { effect: "RECORDED" } });
    const [row] = await sql<{ status: string; ops_status: string; ops_message: string }>(
      infra.databaseUrl,
      `select status, ops_status, ops_message from ops.deployment where pipeline_id = 50`,
    );
    expect(row).toEqual({ status: "DEPLOYING", ops_status: "RUNNING", ops_message: "2/3 replicas ready" });
  });
});

describe("requests, cancels and other servers", () => {
  it("a repeated request never creates a second deployment and gets the last event again", async () => {
    await ops.forApp(108, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 60, appId: 108, pollInterval: 120 });
    const deployId = await engine.whenStarted(60);
    await engine.requestDeploy({ pipelineId: 60, appId: 108, pollInterval: 120 });
    await engine.requestDeploy({ pipelineId: 60, appId: 108, pollInterval: 120 });
    await eventually(() => engine.started(60).length === 3, "started sent again for each repeat");
    expect(new Set(engine.started(60).map((e) => e.data.deployId))).toEqual(new Set([deployId]));
    expect(await rowsOf(60)).toHaveLength(1);
    const atOps = await ops.deploymentsOf(108);
    expect(atOps).toHaveLength(1);
    expect(atOps[0]!.createCalls).toBe(1);
  });

  it("a cancel stops polling, asks ops to stop, and publishes CANCELLED once", async () => {
    await ops.forApp(109, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 70, appId: 109, pollInterval: 1 });
    const deployId = await engine.whenStarted(70);
    await eventually(async () => (await ops.deployment(deployId)).statusCallCount >= 1, "a first poll", 5000);
    await engine.requestCancel(70, 1, deployId);
    const finished = await engine.whenFinished(70);
    expect(finished.data).toMatchObject({ deployId, outcome: "CANCELLED", via: "CANCEL" });
    expect(finished.correlationId).toBe("cancel-70");
    await eventually(async () => (await ops.deployment(deployId)).cancelled, "ops told to stop", 5000);
    await eventually(async () => (await rowsOf(70))[0]!.cancel_state === "DONE", "cancel settled", 5000);
    const polls = (await ops.deployment(deployId)).statusCallCount;
    const repeatHandled = await expectHandled(
      gw.deps.metrics,
      "ops-gateway-deployment-cancel-requested",
      "ignored",
    );
    await engine.requestCancel(70, 1, deployId); // a repeated cancel changes nothing
    await repeatHandled();
    await engine.settle([70]);
    // Nothing is left for the worker to do: no poll and no cancel call can follow.
    expect(
      await sql(infra.databaseUrl, `select next_poll_at from ops.deployment where pipeline_id = 70`),
    ).toEqual([{ next_poll_at: null }]);
    expect((await ops.deployment(deployId)).statusCallCount).toBe(polls);
    expect((await ops.deployment(deployId)).cancelCalls).toBe(1);
    expect(engine.finished(70)).toHaveLength(2); // the repeat got the outcome again, same content
    expect(engine.finished(70)[1]!.data).toEqual(finished.data);
  });

  it("a server without a cancel call (405) is simply no longer followed", async () => {
    await ops.forApp(110, { callback: "off", durationMs: 60_000, cancelSupported: false });
    await engine.requestDeploy({ pipelineId: 71, appId: 110, pollInterval: 1 });
    const deployId = await engine.whenStarted(71);
    await engine.requestCancel(71, 1, deployId);
    expect((await engine.whenFinished(71)).data.outcome).toBe("CANCELLED");
    await eventually(
      async () => (await rowsOf(71))[0]!.cancel_state === "NOT_SUPPORTED",
      "cancel settled",
      5000,
    );
    expect((await ops.deployment(deployId)).cancelled).toBe(false);
  });

  it("a cancel that arrives before the request keeps the request from deploying", async () => {
    await engine.requestCancel(72, 1, null);
    await engine.whenFinished(72);
    await engine.requestDeploy({ pipelineId: 72, appId: 111, pollInterval: 1 });
    await eventually(() => engine.finished(72).length === 2, "the outcome sent again");
    expect(engine.finished(72).map((e) => e.data.outcome)).toEqual(["CANCELLED", "CANCELLED"]);
    expect(engine.started(72)).toHaveLength(0);
    expect(await ops.deploymentsOf(111)).toHaveLength(0);
  });

  it("a create the ops module refuses fails the deployment with its message", async () => {
    await ops.forApp(112, { rejectCreate: "image registry.local/app-112:v1.0.0 is not allowed" });
    await engine.requestDeploy({ pipelineId: 80, appId: 112 });
    const finished = await engine.whenFinished(80);
    expect(finished.data).toMatchObject({ outcome: "FAILED", via: "CREATE", deployId: "" });
    expect(finished.data.message).toMatch(/refused the deployment: .*is not allowed/);
    expect(engine.started(80)).toHaveLength(0);
  });

  it("a request without an image fails at once, without calling ops", async () => {
    await engine.requestDeploy({ pipelineId: 81, appId: 113, image: null });
    const finished = await engine.whenFinished(81);
    expect(finished.data).toMatchObject({ outcome: "FAILED", via: "CREATE" });
    expect(finished.data.message).toMatch(/no image/);
    expect(await ops.deploymentsOf(113)).toHaveLength(0);
  });

  it("a server with extra fields, its own running status and no messages is followed unchanged", async () => {
    await ops.forApp(114, {
      callback: "off",
      durationMs: 2000,
      extraFields: true,
      runningStatus: "ROLLING_OUT",
      omitMessage: true,
      outcome: "FAILED",
    });
    await engine.requestDeploy({ pipelineId: 90, appId: 114, pollInterval: 1 });
    const finished = await engine.whenFinished(90);
    expect(finished.data).toMatchObject({ outcome: "FAILED", via: "POLL", message: "" });
    const statuses = (await observationsOf(finished.data.deployId)).map((o) => o.ops_status);
    expect(statuses).toContain("ROLLING_OUT");
  });

  it("a newer attempt supersedes an older one that is still deploying", async () => {
    await ops.forApp(115, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 95, appId: 115, pollInterval: 1 });
    await engine.whenStarted(95);
    await ops.forApp(115, { callback: "off", durationMs: 800 });
    await engine.requestDeploy({ pipelineId: 95, attempt: 2, appId: 115, pollInterval: 1 });
    await eventually(() => engine.finished(95, 2)[0], "attempt 2 finished", 10_000);
    // A stale request for attempt 1 arriving now changes nothing.
    const staleHandled = await expectHandled(gw.deps.metrics, "ops-gateway-deploy-requested", "ignored");
    await engine.requestDeploy({ pipelineId: 95, attempt: 1, appId: 115, pollInterval: 1 });
    await staleHandled();
    expect((await rowsOf(95)).map((r) => r.status)).toEqual(["SUPERSEDED", "SUCCESS"]);
    expect(engine.finished(95, 1)).toHaveLength(0);
  });

  it("serves the callback route in its OpenAPI document", async () => {
    const spec = (await gw.deps.app.inject({ url: "/openapi.json" })).json();
    expect(spec.paths["/deploy/callback"].post.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/DeployCallback",
    });
    expect(spec.components.schemas.DeployCallback.required).toEqual(
      expect.arrayContaining(["deployId", "status", "timestamp"]),
    );
  });
});

describe("a rolling upgrade: a later migration adds columns while this replica runs", () => {
  /** One connection, as a pooled one of a running replica: its prepared statements stay with it. */
  const oneConnection = () =>
    new Database({
      url: infra.databaseUrl,
      poolMax: 1,
      log: createLogger({ name: "upgrade", level: "silent" }),
    });

  it("the prepared statements that read and return deployments answer as before, and deployments go on", async () => {
    const database = oneConnection();
    const db = database.sql;
    try {
      const request = (attempt: number) => ({
        pipelineId: 9001,
        attempt,
        appId: 190,
        team: "team-a",
        image: "registry.local/app-190:v1",
        deployConfig: DEFAULT_DEPLOY_CONFIG,
        pollIntervalMs: 1000,
        pollTimeoutMs: 60_000,
        correlationId: "corr-upgrade",
        requestKey: randomUUID(),
        status: "CREATING" as const,
        nextPollAt: null,
      });
      // Each statement once before the migration (prepared on this connection), and again after.
      const everyStatement = async (attempt: number) => {
        const row = await repo.insertIfAbsent(db, request(attempt), { unlessLater: true });
        expect(row).toMatchObject({ pipelineId: 9001, attempt, status: "CREATING" });
        await repo.update(db, row!.id, { deployId: `upgrade-${attempt}`, status: "DEPLOYING" });
        expect(await repo.lockById(db, row!.id)).toMatchObject({ deployId: `upgrade-${attempt}` });
        expect(await repo.lockByAttempt(db, 9001, attempt)).toMatchObject({ id: row!.id });
        expect(await repo.lockByDeployId(db, `upgrade-${attempt}`)).toMatchObject({ id: row!.id });
        return repo.supersedeOlder(db, 9001, attempt + 1);
      };
      expect(await everyStatement(1)).toHaveLength(1);
      await sql(
        infra.databaseUrl,
        `alter table ops.deployment add column upgrade_note text default 'added by a later migration'`,
      );
      await sql(infra.databaseUrl, `alter table ops.stage_log add column upgrade_note text`);
      const superseded = await everyStatement(2);
      expect(superseded.map((d) => d.attempt)).toEqual([2]);
      expect(superseded[0]).not.toHaveProperty("upgradeNote");
    } finally {
      await database.close();
    }
    // The running replica, whose pooled connections prepared them in the tests above, goes on.
    await engine.requestDeploy({ pipelineId: 9002, appId: 116, pollInterval: 1 });
    expect((await engine.whenFinished(9002)).data).toMatchObject({ outcome: "SUCCESS" });
  });
});
