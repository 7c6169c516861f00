import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestInfra, eventually, serviceEnv, sql, type TestInfra } from "@procode/test-kit";
import { EngineSide } from "./support/engine.js";
import { OpsModuleProcess } from "./support/ops-module.js";
import { startGatewayProcess, type ChildService } from "./support/processes.js";

/**
 * Two ops-gateway processes on one database and one NATS: they share the work, no deployment is
 * polled by both at once (counted at the ops module), and each deployment has one outcome.
 */

const SECRET = "ops-callback-secret-for-tests-0004";
const PER_APP = 15;
const INTERVAL_MS = 1000;
let infra: TestInfra;
let ops: OpsModuleProcess;
let engine: EngineSide | undefined;
const replicas: ChildService[] = [];

beforeAll(async () => {
  [infra, ops] = await Promise.all([
    createTestInfra("ops_replicas"),
    OpsModuleProcess.start({ CALLBACK_SECRET: SECRET, CALLBACK_URL: "http://127.0.0.1:9/deploy/callback" }),
  ]);
});

afterAll(async () => {
  await engine?.close();
  for (const r of replicas) await r.stop("SIGTERM");
  await ops?.stop();
  await infra?.cleanup();
});

it("two replicas at once: no double polling, no double outcome", async () => {
  // Slow status answers widen the window in which a second poller would overlap the first. The
  // deployments run until told to finish, after each has been polled twice.
  await ops.forApp(401, { callback: "off", durationMs: 600_000, statusDelayMs: 300 });
  await ops.forApp(402, { callback: "on", durationMs: 600_000, statusDelayMs: 300, outcome: "FAILED" });
  const env = (id: string) =>
    serviceEnv(infra, {
      OPS_BASE_URL: ops.url,
      OPS_CALLBACK_SECRET: SECRET,
      OPS_REPLICA_ID: id,
      OPS_SCAN_INTERVAL_MS: "50",
      OPS_RETRY_BASE_MS: "200",
      OPS_TIMEOUT_MS: "5000",
      OPS_LEASE_MS: "6500",
    });
  replicas.push(
    ...(await Promise.all([startGatewayProcess(env("replica-a")), startGatewayProcess(env("replica-b"))])),
  );
  await ops.setCallback(`${replicas[0]!.url}/deploy/callback`);
  engine = await EngineSide.connect(infra);

  const pipelines = Array.from({ length: PER_APP * 2 }, (_, i) => i + 1);
  for (const p of pipelines) {
    await engine.requestDeploy({
      pipelineId: p,
      appId: p <= PER_APP ? 401 : 402,
      pollInterval: 1,
      pollTimeout: 120,
    });
  }
  await eventually(() => pipelines.every((p) => engine!.started(p).length > 0), "all started", 20_000, 100);
  await eventually(
    async () =>
      [...(await ops.deploymentsOf(401)), ...(await ops.deploymentsOf(402))].every(
        (d) => d.statusCallCount >= 3,
      ),
    "three polls of every deployment",
    30_000,
    200,
  );
  await ops.change({ appId: 401 }, { durationMs: 0 });
  await ops.change({ appId: 402 }, { durationMs: 0 });
  await eventually(() => pipelines.every((p) => engine!.finished(p).length > 0), "all outcomes", 30_000, 200);
  await engine.settle(pipelines, 30_000);

  for (const p of pipelines) {
    expect(engine.finished(p), `pipeline ${p}`).toHaveLength(1);
    expect(engine.finished(p)[0]!.data.outcome).toBe(p <= PER_APP ? "SUCCESS" : "FAILED");
  }

  // At the ops module: one deployment per request, never two status calls of one deployment at
  // once, and consecutive calls a poll interval apart.
  const atOps = [...(await ops.deploymentsOf(401)), ...(await ops.deploymentsOf(402))];
  expect(atOps).toHaveLength(PER_APP * 2);
  let polled = 0;
  for (const d of atOps) {
    expect(d.createCalls, d.id).toBe(1);
    expect(d.maxConcurrentStatusCalls, d.id).toBeLessThanOrEqual(1);
    const starts = d.statusCalls.map((c) => Date.parse(c.at));
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]! - starts[i - 1]!, `${d.id} polls ${i - 1} and ${i}`).toBeGreaterThanOrEqual(
        INTERVAL_MS - 50,
      );
    }
    polled += starts.length;
  }
  expect(polled).toBeGreaterThan(PER_APP);

  // Both replicas did part of the polling, and every deployment has one applied observation.
  const observers = await sql<{ observer: string; n: string }>(
    infra.databaseUrl,
    `select observer, count(*)::text as n from ops.deployment_observation where source = 'POLL'
     group by observer order by observer`,
  );
  expect(observers.map((o) => o.observer)).toEqual(["replica-a", "replica-b"]);
  const applied = await sql<{ deploy_id: string; n: string }>(
    infra.databaseUrl,
    `select deploy_id, count(*)::text as n from ops.deployment_observation where effect = 'APPLIED' group by deploy_id`,
  );
  expect(applied).toHaveLength(PER_APP * 2);
  expect(applied.every((a) => a.n === "1")).toBe(true);
}, 120_000);
