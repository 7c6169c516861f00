import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceRuntime } from "@procode/service-kit";
import { eventually, sql, type TestInfra } from "@procode/test-kit";
import type { Config } from "../src/config.js";
import { type EngineSide } from "./support/engine.js";
import { startOpsFlow, type OpsFlow } from "./support/flow.js";
import type { OpsModuleProcess } from "./support/ops-module.js";

/**
 * When the ops module does not answer, the deployment waits at DEPLOY (one waiting event
 * per outage), nothing fails for that alone, and it goes on by itself when ops answers again.
 */

const SECRET = "ops-callback-secret-for-tests-0002";
let flow: OpsFlow;
let infra: TestInfra;
let ops: OpsModuleProcess;
let gw: ServiceRuntime<Config>;
let engine: EngineSide;

beforeAll(async () => {
  flow = await startOpsFlow("ops_outage", SECRET, {
    OPS_RETRY_BASE_MS: "100",
    OPS_RETRY_MAX_MS: "400",
    OPS_TIMEOUT_MS: "1000",
    OPS_LEASE_MS: "4000",
  });
  ({ infra, ops, gw, engine } = flow);
});

afterAll(() => flow?.close());

const rowOf = async (pipelineId: number) =>
  (
    await sql<{ status: string; failures: number; waiting_since: Date | null; last_error: string | null }>(
      infra.databaseUrl,
      `select status, failures, waiting_since, last_error from ops.deployment where pipeline_id = $1`,
      [pipelineId],
    )
  )[0];

const opsCalls = async (result: string) => {
  const text = (await gw.deps.app.inject({ url: "/metrics" })).body;
  return [
    ...text.matchAll(new RegExp(`^ops_calls_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`, "gm")),
  ].reduce((n, m) => n + Number(m[1]), 0);
};

/**
 * Waits until the deployment's deadline has passed and the gateway has since tried ops and failed
 * again: it has looked at the deployment past its deadline, with ops still down.
 */
async function failedPastDeadline(pipelineId: number) {
  await eventually(
    async () =>
      (
        await sql<{ past: boolean }>(
          infra.databaseUrl,
          `select deadline < now() as past from ops.deployment where pipeline_id = $1`,
          [pipelineId],
        )
      )[0]?.past,
    "the deadline passed",
    5000,
  );
  const failures = (await rowOf(pipelineId))!.failures;
  await eventually(
    async () => (await rowOf(pipelineId))!.failures > failures,
    "a failed poll after the deadline",
    5000,
  );
}

describe("the ops module down during DEPLOY", () => {
  it("unreachable while deploying: waits (one waiting event), then completes by itself", async () => {
    await ops.forApp(201, { callback: "off", durationMs: 5000 });
    await engine.requestDeploy({ pipelineId: 1, appId: 201, pollInterval: 1, pollTimeout: 60 });
    const deployId = await engine.whenStarted(1);
    const failedBefore = await opsCalls("unavailable");
    await ops.outage("unreachable", 3000);

    const waiting = await eventually(() => engine.waiting(1)[0], "deployment_waiting", 5000);
    expect(waiting.data).toMatchObject({ deployId, attempt: 1 });
    expect(waiting.data.reason).toMatch(/not reachable|did not answer/);
    await eventually(async () => (await rowOf(1))!.failures >= 3, "several failed polls", 5000);
    expect(engine.waiting(1)).toHaveLength(1); // once per outage, not per retry
    expect(engine.finished(1)).toHaveLength(0);
    expect((await rowOf(1))!.status).toBe("DEPLOYING");

    const finished = await engine.whenFinished(1, 10_000);
    expect(finished.data).toMatchObject({ deployId, outcome: "SUCCESS", via: "POLL" });
    expect(engine.started(1)).toHaveLength(2); // the second says "deploying again" after the waiting
    expect(engine.waiting(1)).toHaveLength(1);
    expect(await opsCalls("unavailable")).toBeGreaterThan(failedBefore + 2);
    expect(await rowOf(1)).toMatchObject({ status: "SUCCESS", waiting_since: null });
  });

  it("answering 5xx at create: waits without a deployId, then creates and completes", async () => {
    await ops.forApp(202, { callback: "on", durationMs: 500 });
    await ops.outage("5xx", 1500);
    await engine.requestDeploy({ pipelineId: 2, appId: 202, pollInterval: 1, pollTimeout: 60 });
    const waiting = await eventually(() => engine.waiting(2)[0], "deployment_waiting", 5000);
    expect(waiting.data.deployId).toBeNull();
    expect(waiting.data.reason).toMatch(/HTTP 503/);
    expect(engine.started(2)).toHaveLength(0);
    expect(await rowOf(2)).toMatchObject({ status: "CREATING" });

    const finished = await engine.whenFinished(2, 10_000);
    expect(finished.data.outcome).toBe("SUCCESS");
    expect(engine.started(2)).toHaveLength(1);
    expect(engine.waiting(2)).toHaveLength(1);
    const atOps = await ops.deploymentsOf(202);
    expect(atOps).toHaveLength(1); // retried creates made one deployment
  });

  it("down across the deadline: nothing times out until ops answers; its answer decides", async () => {
    // ops finishes the deployment at 1.5 s but is unreachable from the start to 4 s; the deadline is 2 s.
    await ops.forApp(203, { callback: "off", durationMs: 1500 });
    await engine.requestDeploy({ pipelineId: 3, appId: 203, pollInterval: 1, pollTimeout: 2 });
    const deployId = await engine.whenStarted(3);
    await ops.outage("unreachable", 4000);
    await eventually(() => engine.waiting(3)[0], "deployment_waiting", 5000);
    await failedPastDeadline(3);
    expect(engine.finished(3)).toHaveLength(0);
    expect((await rowOf(3))!.status).toBe("DEPLOYING");
    const finished = await engine.whenFinished(3, 10_000);
    expect(finished.data).toMatchObject({ deployId, outcome: "SUCCESS", via: "POLL" });
  });

  it("down across the deadline of a deployment still running: the last check after ops returns times it out", async () => {
    await ops.forApp(204, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 4, appId: 204, pollInterval: 1, pollTimeout: 2 });
    await engine.whenStarted(4);
    await ops.outage("unreachable", 4000);
    await eventually(() => engine.waiting(4)[0], "deployment_waiting", 5000);
    await failedPastDeadline(4);
    expect(engine.finished(4)).toHaveLength(0);
    const finished = await engine.whenFinished(4, 10_000);
    expect(finished.data).toMatchObject({ outcome: "TIMEOUT", via: "TIMEOUT" });
    expect(finished.data.message).toMatch(/did not finish within 2 s \(last status PENDING/);
  });

  it("a deployment ops no longer knows (404 after its restart) is created again under the same key and completes", async () => {
    await ops.forApp(205, { callback: "off", durationMs: 60_000 });
    await engine.requestDeploy({ pipelineId: 5, appId: 205, pollInterval: 1, pollTimeout: 60 });
    const first = await engine.whenStarted(5);
    await ops.reset();
    const finished = await engine.whenFinished(5, 30_000);
    expect(finished.data.outcome).toBe("SUCCESS");
    expect(finished.data.deployId).not.toBe(first);
    expect(engine.started(5).map((m) => m.data.deployId)).toEqual([first, finished.data.deployId]);
    expect(engine.waiting(5)).toHaveLength(0);
    const atOps = await ops.deploymentsOf(205);
    expect(atOps.map((d) => d.id)).toEqual([finished.data.deployId]);
  });
});
