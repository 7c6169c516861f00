import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamName, type StreamKey } from "@procode/contracts";
import { createLogger, Database } from "@procode/service-kit";
import { consumerIdle, eventually, sql, type TestInfra } from "@procode/test-kit";
import {
  type Api,
  type EngineFlow,
  nextId,
  startEngineFlow,
  startRelease,
  transitionsOf,
} from "./helpers.js";
import type { StageHarness } from "./harness.js";
import { PipelineRepository } from "../src/store/pipeline.repository.js";

let flow: EngineFlow;
let infra: TestInfra;
let harness: StageHarness;
let api: Api;

beforeAll(async () => {
  flow = await startEngineFlow("engine_flow");
  ({ infra, harness, api } = flow);
});

afterAll(() => flow?.close());

/** Waits until one of the engine's consumers has handled every message of its stream. */
const engineIdle = (stream: StreamKey, durable: string) =>
  consumerIdle(infra.natsUrl, streamName(infra.envName, stream), durable);

/** An app (with settings), an iteration in DEVELOPING, and its RELEASE requested by RPC. */
const release = (opts: Parameters<typeof startRelease>[3] = {}) => startRelease(harness, api, infra, opts);

describe("iteration pipeline", () => {
  it("is created and started by dev.iteration_created and walks the four phases to RELEASED", async () => {
    const appId = nextId();
    const iterationId = nextId();
    await harness.appCreated(appId);
    await harness.iterationCreated(iterationId, appId);
    const it0 = await api.iterationPipeline(iterationId);
    expect(it0).toMatchObject({
      type: "ITERATION",
      refId: iterationId,
      parentId: null,
      status: "RUNNING",
      state: "DEVELOPING",
      currentStage: "DEVELOPING",
    });
    expect(it0.stageConfigs).toMatchObject({ DEVELOPING: { driveMode: "MANUAL" } });
    expect(it0.awaiting).toMatchObject({ action: "PROCEED", stage: "DEVELOPING" });
    await eventually(
      async () =>
        (await sql(infra.databaseUrl, `select 1 from pipeline.app_settings where app_id = $1`, [appId]))
          .length,
      "settings",
    );

    const base = { iterationId, appId, actor: { sub: "bob", team: "t1" } };
    const bad = await harness.proceed({ ...base, targetPhase: "STAGING" });
    expect(bad).toMatchObject({ ok: false, error: { code: 2002 } });
    // Not a phase at all: the request itself is malformed (dev-svc answers such a target 2002 itself).
    const unknown = await harness.proceed({ ...base, targetPhase: "PRODUCTION" as "TESTING" });
    expect(unknown).toMatchObject({
      ok: false,
      error: { code: 1001, message: expect.stringMatching(/targetPhase/) },
    });
    expect(await harness.proceed({ ...base, targetPhase: "TESTING" })).toMatchObject({
      ok: true,
      data: { currentPhase: "TESTING", phasePipelineId: null },
    });
    expect(await harness.proceed({ ...base, targetPhase: "STAGING" })).toMatchObject({
      ok: true,
      data: { currentPhase: "STAGING" },
    });
    const noTag = await harness.proceed({ ...base, targetPhase: "RELEASE" });
    expect(noTag).toMatchObject({ ok: false, error: { code: 2003 } });
    const rel = await harness.proceed({
      ...base,
      targetPhase: "RELEASE",
      release: { iterationPhaseId: nextId(), tag: "v2.0.0", branch: "main", commitId: null, rollback: false },
    });
    expect(rel).toMatchObject({
      ok: true,
      data: { currentPhase: "RELEASE", phasePipelineStatus: "RUNNING" },
    });
    const phaseId = rel.ok ? rel.data.phasePipelineId! : 0;
    const done = await api.until(phaseId, (p) => p.status === "SUCCESS", "SUCCESS");
    expect(done).toMatchObject({
      parentId: it0.id,
      tag: "v2.0.0",
      state: "SUCCESS",
      deployStatus: "DEPLOY_SUCCESS",
      currentStage: "DEPLOY",
    });
    const released = await api.until(it0.id, (p) => p.state === "RELEASED", "RELEASED");
    expect(released.status).toBe("SUCCESS");
    expect(released.checkpoints.map((c) => [c.stage, c.status])).toEqual([
      ["DEVELOPING", "SUCCESS"],
      ["TESTING", "SUCCESS"],
      ["STAGING", "SUCCESS"],
      ["RELEASE", "SUCCESS"],
    ]);
    const log = await transitionsOf(infra, it0.id);
    expect(log.map((t) => `${t.from_state}-${t.event}->${t.to_state}`)).toEqual([
      "PENDING-START->DEVELOPING",
      "DEVELOPING-ENTER_TESTING->TESTING",
      "TESTING-TESTING_SUCCESS->STAGING",
      "STAGING-STAGING_SUCCESS->RELEASE",
      "RELEASE-RELEASE_SUCCESS->RELEASED",
    ]);
    expect(log.map((t) => t.actor)).toEqual(["system", "bob", "bob", "bob", "system"]);
    await eventually(
      () => harness.eventsOf("pipeline.iteration_phase_changed.v1", it0.id).length >= 5,
      "iteration events",
    );
    const events = harness.eventsOf("pipeline.iteration_phase_changed.v1", it0.id).map((e) => e.data);
    events.sort((a, b) => a.sequence - b.sequence);
    expect(events.map((e) => [e.sequence, e.phase, e.iterationStatus])).toEqual([
      [1, "DEVELOPING", "DEVELOPING"],
      [2, "TESTING", "TESTING"],
      [3, "STAGING", "STAGING"],
      [4, "RELEASE", "RELEASING"],
      [5, "RELEASED", "RELEASED"],
    ]);
    // Entering RELEASE names the phase pipeline it created.
    expect(events[3]).toMatchObject({ phasePipelineId: phaseId });
    const again = await harness.proceed({
      ...base,
      targetPhase: "RELEASE",
      release: { iterationPhaseId: nextId(), tag: "v2.0.1", branch: "main", commitId: null, rollback: false },
    });
    expect(again).toMatchObject({ ok: false, error: { code: 2001 } });
  });

  it("moves to its next phase with POST /pipelines/{id}/proceed, under the rules of the iteration's proceed", async () => {
    const appId = nextId();
    const iterationId = nextId();
    await harness.appCreated(appId, { phases: ["DEVELOPING", "STAGING", "RELEASE"] });
    await eventually(
      async () =>
        (await sql(infra.databaseUrl, `select 1 from pipeline.app_settings where app_id = $1`, [appId]))
          .length,
      "settings",
    );
    await harness.iterationCreated(iterationId, appId);
    const it0 = await api.iterationPipeline(iterationId);
    // The app has no TESTING: the hint names STAGING, the phase a proceed would really reach.
    expect(it0.awaiting!.hint).toContain("targetPhase STAGING");
    expect(it0.awaiting!.hint).toContain(`POST /pipelines/${it0.id}/proceed`);
    // GET /pipelines/{id} reads the app's phases in the same statement as the pipeline: the same hint.
    expect((await api.pipeline(it0.id)).awaiting).toEqual(it0.awaiting);
    const moved = await api.call("POST", `/pipelines/${it0.id}/proceed`, { sub: "carol" });
    expect(moved.body).toMatchObject({
      code: 0,
      data: { pipelineId: it0.id, previousStage: "DEVELOPING", currentStage: "STAGING" },
    });
    const staging = await api.pipeline(it0.id);
    expect(staging).toMatchObject({ state: "STAGING", currentStage: "STAGING" });
    expect(staging.awaiting!.hint).toContain("targetPhase RELEASE and a tag");
    // RELEASE needs a tag, which only the iteration's release carries.
    const noTag = await api.call("POST", `/pipelines/${it0.id}/proceed`);
    expect(noTag).toMatchObject({ status: 409, body: { code: 2003 } });
    expect(noTag.body.message).toContain(`POST /iterations/${iterationId}/release`);
    expect((await api.pipeline(it0.id)).state).toBe("STAGING");
    const log = await transitionsOf(infra, it0.id);
    expect(log.map((t) => [t.event, t.actor])).toEqual([
      ["START", "system"],
      ["ENTER_STAGING", "carol"],
    ]);
    await eventually(
      () => harness.eventsOf("pipeline.iteration_phase_changed.v1", it0.id).length >= 2,
      "the phase change announced to dev-svc",
    );

    const rel = await harness.proceed({
      iterationId,
      appId,
      actor: { sub: "carol", team: "t1" },
      targetPhase: "RELEASE",
      release: { iterationPhaseId: nextId(), tag: "v3.0.0", branch: "main", commitId: null, rollback: false },
    });
    expect(rel).toMatchObject({ ok: true, data: { currentPhase: "RELEASE" } });
    const releasing = await api.call("POST", `/pipelines/${it0.id}/proceed`);
    expect(releasing).toMatchObject({ status: 409, body: { code: 2001 } });
    expect(await api.call("POST", `/pipelines/${it0.id}/proceed`, { team: "other" })).toMatchObject({
      status: 404,
      body: { code: 3004 },
    });
  });
});

describe("phase pipeline drive modes", () => {
  it("AUTO stages move on at once, passing earlier outputs as inputs; ASYNC DEPLOY follows ops events", async () => {
    harness.behaviour = (req) => (req.stage === "DEPLOY" ? { deploy: "SUCCESS" } : { outcome: "SUCCESS" });
    const r = await release({
      procode: { deployConfig: { env: { A: "1" }, resources: { cpu: "2", memory: "1Gi" } } },
    });
    const p = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(p.checkpoints.map((c) => [c.stage, c.status, c.attempt])).toEqual([
      ["CODE_CHECK", "SUCCESS", 1],
      ["BUILD", "SUCCESS", 1],
      ["PACKAGE", "SUCCESS", 1],
      ["DEPLOY", "SUCCESS", 1],
    ]);
    expect(p.checkpoints[0]!.output).toMatchObject({ commitId: "abc123" });
    expect(p.checkpoints[3]!.output).toMatchObject({ deployId: `deploy-${r.phaseId}-1` });
    const reqs = harness.requests.filter((q) => q.pipelineId === r.phaseId);
    const pkg = reqs.find((q) => q.stage === "PACKAGE")!;
    expect(pkg.inputs).toMatchObject({
      CODE_CHECK: { commitId: "abc123" },
      BUILD: { dockerfile: expect.any(String) },
    });
    const deploy = reqs.find((q) => q.stage === "DEPLOY")!;
    expect(deploy).toMatchObject({
      tag: "v1.0.0",
      iterationPhaseId: r.iterationPhaseId,
      deployConfig: { env: { A: "1" }, resources: { cpu: "2" } },
    });
    expect(deploy.inputs.PACKAGE).toMatchObject({ image: expect.any(String) });
    const log = await transitionsOf(infra, r.phaseId);
    expect(log.map((t) => t.event)).toEqual([
      "START",
      "ENTER_CODE_CHECK",
      "CODE_CHECK_SUCCESS",
      "BUILD_SUCCESS",
      "PACKAGE_SUCCESS",
      "DEPLOY_START",
      "DEPLOY_SUCCESS",
    ]);
    await api.until(r.iteration.id, (x) => x.state === "RELEASED", "iteration RELEASED");
  });

  it("a MANUAL stage waits for proceed, which answers previousStage and currentStage", async () => {
    harness.behaviour = (req) => (req.stage === "DEPLOY" ? { deploy: "SUCCESS" } : { outcome: "SUCCESS" });
    const r = await release({ procode: { stageConfigs: { PACKAGE: { driveMode: "MANUAL" } } } });
    const waiting = await api.until(r.phaseId, (x) => x.awaiting?.action === "PROCEED", "awaiting proceed");
    expect(waiting).toMatchObject({
      status: "RUNNING",
      state: "PACKAGE",
      currentStage: "PACKAGE",
      awaiting: { stage: "PACKAGE" },
    });
    expect(harness.requests.some((q) => q.pipelineId === r.phaseId && q.stage === "DEPLOY")).toBe(false);
    const res = await api.call("POST", `/pipelines/${r.phaseId}/proceed`, { sub: "carol" });
    expect(res).toMatchObject({
      status: 200,
      body: { code: 0, data: { pipelineId: r.phaseId, previousStage: "PACKAGE", currentStage: "DEPLOY" } },
    });
    await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    const again = await api.call("POST", `/pipelines/${r.phaseId}/proceed`);
    expect(again).toMatchObject({ status: 409, body: { code: 3001 } });
    const log = await transitionsOf(infra, r.phaseId);
    expect(log.find((t) => t.event === "PACKAGE_SUCCESS")?.actor).toBe("carol");
  });

  it("DEPLOY shows DEPLOYING, WAITING_OPS while ops does not answer, and FAILED with DEPLOY_TIMEOUT", async () => {
    harness.behaviour = (req) => (req.stage === "DEPLOY" ? { deploy: "START_ONLY" } : { outcome: "SUCCESS" });
    const r = await release();
    const deploying = await api.until(r.phaseId, (x) => x.state === "DEPLOYING", "DEPLOYING");
    expect(deploying).toMatchObject({
      status: "RUNNING",
      currentStage: "DEPLOY",
      deployStatus: "DEPLOYING",
      deployId: `deploy-${r.phaseId}-1`,
    });
    await harness.publish((await import("@procode/contracts")).DeploymentWaiting, {
      pipelineId: r.phaseId,
      attempt: 1,
      deployId: `deploy-${r.phaseId}-1`,
      reason: "ops down",
      since: new Date().toISOString(),
    });
    const waiting = await api.until(r.phaseId, (x) => x.deployStatus === "WAITING_OPS", "WAITING_OPS");
    expect(waiting.status).toBe("RUNNING");
    await harness.finished(r.phaseId, 1, `deploy-${r.phaseId}-1`, "TIMEOUT");
    const failed = await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    expect(failed).toMatchObject({
      state: "FAILED",
      deployStatus: "DEPLOY_TIMEOUT",
      awaiting: { action: "RETRY_OR_RESUME", stage: "DEPLOY" },
    });
    const iter = await api.until(r.iteration.id, (x) => x.state === "RELEASE", "iteration in RELEASE");
    expect(iter.status).toBe("RUNNING");
    await eventually(
      () =>
        harness
          .eventsOf("pipeline.iteration_phase_changed.v1", r.iteration.id)
          .some((e) => e.data.iterationStatus === "FAILED"),
      "iteration FAILED event",
    );
    // Resume from DEPLOY: a new attempt; the earlier stages are not requested again.
    harness.behaviour = (req) =>
      req.stage === "DEPLOY" ? { deploy: "SUCCESS", startedFirst: false } : { outcome: "SUCCESS" };
    const res = await api.call("POST", `/pipelines/${r.phaseId}/resume`);
    expect(res.body).toMatchObject({
      code: 0,
      data: { pipelineId: r.phaseId, status: "RUNNING", resumeFromStage: "DEPLOY" },
    });
    const ok = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS after resume");
    expect(ok.checkpoints.filter((c) => c.stage === "DEPLOY").map((c) => [c.attempt, c.status])).toEqual([
      [1, "FAILED"],
      [2, "SUCCESS"],
    ]);
    expect(
      harness.requests
        .filter((q) => q.pipelineId === r.phaseId && q.stage === "CODE_CHECK")
        .every((q) => q.attempt === 1),
    ).toBe(true);
    await api.until(r.iteration.id, (x) => x.state === "RELEASED", "iteration RELEASED");
  });
});

describe("failures, retry and resume", () => {
  it("AUTO retries until exhausted, then FAILED; retry answers 3001/3002; resume completes without re-running earlier stages", async () => {
    harness.behaviour = (req) =>
      req.stage === "BUILD" && req.attempt <= 3
        ? { outcome: "FAILED", error: `compile error #${req.attempt}` }
        : req.stage === "DEPLOY"
          ? { deploy: "SUCCESS" }
          : { outcome: "SUCCESS" };
    const r = await release();
    const running = await api.call("POST", `/pipelines/${r.phaseId}/retry`);
    expect(running).toMatchObject({ status: 409, body: { code: 3001 } });
    const failed = await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    expect(failed).toMatchObject({ state: "FAILED", currentStage: "BUILD", currentRetries: 2 });
    expect(
      failed.checkpoints.filter((c) => c.stage === "BUILD").map((c) => [c.attempt, c.status, c.error]),
    ).toEqual([
      [1, "FAILED", "compile error #1"],
      [2, "FAILED", "compile error #2"],
      [3, "FAILED", "compile error #3"],
    ]);
    // The retries are spent: the hint names resume only, the one action accepted now.
    expect(failed.awaiting).toMatchObject({ action: "RETRY_OR_RESUME", stage: "BUILD" });
    expect(failed.awaiting!.hint).toContain(`/pipelines/${r.phaseId}/resume`);
    expect(failed.awaiting!.hint).not.toContain("retry");
    const exhausted = await api.call("POST", `/pipelines/${r.phaseId}/retry`);
    expect(exhausted).toMatchObject({ status: 409, body: { code: 3002 } });
    const resumed = await api.call("POST", `/pipelines/${r.phaseId}/resume`, { sub: "dave" });
    expect(resumed.body).toMatchObject({ code: 0, data: { resumeFromStage: "BUILD", status: "RUNNING" } });
    const done = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(done.checkpoints.filter((c) => c.stage === "CODE_CHECK")).toHaveLength(1);
    expect(done.checkpoints.filter((c) => c.stage === "BUILD").map((c) => c.status)).toEqual([
      "FAILED",
      "FAILED",
      "FAILED",
      "SUCCESS",
    ]);
    const codeCheckRequests = harness.requests.filter(
      (q) => q.pipelineId === r.phaseId && q.stage === "CODE_CHECK",
    );
    expect(new Set(codeCheckRequests.map((q) => q.attempt))).toEqual(new Set([1]));
    const build4 = harness.requests.find(
      (q) => q.pipelineId === r.phaseId && q.stage === "BUILD" && q.attempt === 4,
    )!;
    expect(build4.inputs.CODE_CHECK).toMatchObject({ commitId: "abc123" });
    const log = await transitionsOf(infra, r.phaseId);
    expect(log.map((t) => t.event)).toEqual([
      "START",
      "ENTER_CODE_CHECK",
      "CODE_CHECK_SUCCESS",
      "RETRY",
      "RETRY",
      "BUILD_FAILED",
      "RESUME",
      "BUILD_SUCCESS",
      "PACKAGE_SUCCESS",
      "DEPLOY_START",
      "DEPLOY_SUCCESS",
    ]);
    expect(log.find((t) => t.event === "RESUME")?.actor).toBe("dave");
  });

  it("a manual retry re-runs the failed stage while retries remain (retryCount, maxRetries)", async () => {
    harness.behaviour = (req) =>
      req.stage === "PACKAGE" && req.attempt === 1
        ? { outcome: "FAILED" }
        : req.stage === "DEPLOY"
          ? { deploy: "SUCCESS" }
          : { outcome: "SUCCESS" };
    const r = await release({
      procode: { stageConfigs: { PACKAGE: { retryMode: "MANUAL", maxRetries: 1 } } },
    });
    await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    const res = await api.call("POST", `/pipelines/${r.phaseId}/retry`);
    expect(res.body).toMatchObject({
      code: 0,
      data: { pipelineId: r.phaseId, currentStage: "PACKAGE", retryCount: 1, maxRetries: 1 },
    });
    await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS after retry");
  });

  it("with the seed's defaults (PACKAGE retry MANUAL, maxRetries 0) a failed PACKAGE can be retried again and again", async () => {
    harness.behaviour = (req) =>
      req.stage === "PACKAGE" && req.attempt <= 2
        ? { outcome: "FAILED", error: `builder refused #${req.attempt}` }
        : req.stage === "DEPLOY"
          ? { deploy: "SUCCESS" }
          : { outcome: "SUCCESS" };
    const r = await release();
    const first = await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED at PACKAGE");
    expect(first.stageConfigs["PACKAGE"]).toMatchObject({ retryMode: "MANUAL", maxRetries: 0 });
    // A MANUAL stage waits for a person at once: no retry of the engine's own.
    expect(first.checkpoints.filter((c) => c.stage === "PACKAGE")).toHaveLength(1);
    expect(first.awaiting).toMatchObject({ action: "RETRY_OR_RESUME", stage: "PACKAGE" });
    expect(first.awaiting!.hint).toContain(`/pipelines/${r.phaseId}/retry`);
    const once = await api.call("POST", `/pipelines/${r.phaseId}/retry`);
    expect(once.body).toMatchObject({
      code: 0,
      data: { currentStage: "PACKAGE", retryCount: 1, maxRetries: 0 },
    });
    await api.until(
      r.phaseId,
      (x) => x.status === "FAILED" && x.checkpoints.filter((c) => c.stage === "PACKAGE").length === 2,
      "FAILED again after the first retry",
    );
    const twice = await api.call("POST", `/pipelines/${r.phaseId}/retry`);
    expect(twice.body).toMatchObject({ code: 0, data: { retryCount: 2, maxRetries: 0 } });
    const done = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS after the second retry");
    expect(done.checkpoints.filter((c) => c.stage === "PACKAGE").map((c) => c.status)).toEqual([
      "FAILED",
      "FAILED",
      "SUCCESS",
    ]);
  });

  it("a MANUAL retry budget (maxRetries 1) once spent answers 3002 and the hint names resume only", async () => {
    harness.behaviour = (req) =>
      req.stage === "PACKAGE" && req.attempt <= 2
        ? { outcome: "FAILED" }
        : req.stage === "DEPLOY"
          ? { deploy: "SUCCESS" }
          : { outcome: "SUCCESS" };
    const r = await release({
      procode: { stageConfigs: { PACKAGE: { retryMode: "MANUAL", maxRetries: 1 } } },
    });
    await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    expect((await api.call("POST", `/pipelines/${r.phaseId}/retry`)).body).toMatchObject({ code: 0 });
    const spent = await api.until(
      r.phaseId,
      (x) => x.status === "FAILED" && x.currentRetries === 1,
      "FAILED after its one retry",
    );
    expect(spent.awaiting!.hint).not.toContain("retry");
    expect(await api.call("POST", `/pipelines/${r.phaseId}/retry`)).toMatchObject({
      status: 409,
      body: { code: 3002 },
    });
    expect((await api.call("POST", `/pipelines/${r.phaseId}/resume`)).body).toMatchObject({ code: 0 });
    await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS after resume");
  });

  it("a stage output that breaks its contract fails the attempt instead of poisoning later stages", async () => {
    harness.behaviour = (req) =>
      req.stage === "CODE_CHECK" ? { outcome: "SUCCESS", output: { nope: true } } : { outcome: "SUCCESS" };
    const r = await release({ procode: { stageConfigs: { CODE_CHECK: { maxRetries: 0 } } } });
    const failed = await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    expect(failed.checkpoints[0]!.error).toMatch(/CODE_CHECK output does not match its contract: commitId/);
  });
});

describe("results that change nothing", () => {
  it("ignores duplicates, results of older attempts and results for a cancelled pipeline", async () => {
    harness.behaviour = (req) => (req.stage === "BUILD" ? "silent" : { outcome: "SUCCESS" });
    const r = await release();
    await api.until(r.phaseId, (x) => x.currentStage === "BUILD", "at BUILD");
    // A stale CODE_CHECK result and a BUILD result for an attempt that never ran.
    await harness.completed(r.phaseId, "CODE_CHECK", 1, "FAILED");
    await harness.completed(r.phaseId, "BUILD", 7, "FAILED");
    // The real result, twice (different message ids, so JetStream keeps both).
    await harness.completed(r.phaseId, "BUILD", 1, "SUCCESS");
    await harness.completed(r.phaseId, "BUILD", 1, "SUCCESS");
    const p = await api.until(
      r.phaseId,
      (x) => x.currentStage === "PACKAGE" || x.currentStage === "DEPLOY" || x.status === "SUCCESS",
      "past BUILD",
    );
    // All four results handled, not merely not yet consumed.
    await engineIdle("STAGE", "pipeline-engine-stage-completed");
    const after = await api.pipeline(r.phaseId);
    expect(after.checkpoints.filter((c) => c.stage === "BUILD")).toHaveLength(1);
    expect(after.checkpoints.find((c) => c.stage === "CODE_CHECK")?.status).toBe("SUCCESS");
    expect(p.status).not.toBe("FAILED");
    const log = await transitionsOf(infra, r.phaseId);
    expect(log.filter((t) => t.event === "BUILD_SUCCESS")).toHaveLength(1);
    expect(log.some((t) => t.to_state === "FAILED")).toBe(false);
  });

  it("cancels at DEPLOYING: CANCELLED, asks ops to stop the deployment, ignores the late outcome", async () => {
    harness.behaviour = (req) => (req.stage === "DEPLOY" ? { deploy: "START_ONLY" } : { outcome: "SUCCESS" });
    const r = await release();
    await api.until(r.phaseId, (x) => x.state === "DEPLOYING", "DEPLOYING");
    const res = await api.call("POST", `/pipelines/${r.phaseId}/cancel`, { body: { reason: "wrong tag" } });
    expect(res.body).toMatchObject({
      code: 0,
      data: { pipelineId: r.phaseId, status: "CANCELLED", previousState: "DEPLOYING" },
    });
    await eventually(
      () => harness.eventsOf("pipeline.deployment_cancel_requested.v1", r.phaseId).length === 1,
      "cancel request",
    );
    expect(harness.eventsOf("pipeline.deployment_cancel_requested.v1", r.phaseId)[0]!.data).toMatchObject({
      attempt: 1,
      deployId: `deploy-${r.phaseId}-1`,
      reason: "wrong tag",
    });
    await harness.finished(r.phaseId, 1, `deploy-${r.phaseId}-1`, "SUCCESS");
    await engineIdle("OPS", "pipeline-engine-deployment-finished");
    const p = await api.pipeline(r.phaseId);
    expect(p).toMatchObject({ status: "CANCELLED", state: "CANCELLED", deployStatus: "DEPLOY_CANCELLED" });
    expect(p.checkpoints.at(-1)).toMatchObject({ stage: "DEPLOY", status: "CANCELLED" });
    expect(await api.call("POST", `/pipelines/${r.phaseId}/cancel`)).toMatchObject({
      status: 409,
      body: { code: 3001 },
    });
    expect(await api.call("POST", `/pipelines/${r.phaseId}/resume`)).toMatchObject({
      status: 409,
      body: { code: 3001 },
    });
    await eventually(
      () =>
        harness
          .eventsOf("pipeline.phase_pipeline_status_changed.v1", r.phaseId)
          .some((e) => e.data.status === "CANCELLED"),
      "CANCELLED status event",
    );
    // A new release of the iteration is allowed after a cancelled one.
    harness.behaviour = (req) => (req.stage === "DEPLOY" ? { deploy: "SUCCESS" } : { outcome: "SUCCESS" });
    const again = await harness.proceed({
      iterationId: r.iterationId,
      appId: r.appId,
      targetPhase: "RELEASE",
      release: { iterationPhaseId: nextId(), tag: "v1.0.1", branch: "main", commitId: null, rollback: false },
      actor: { sub: "alice", team: "t1" },
    });
    expect(again).toMatchObject({ ok: true, data: { currentPhase: "RELEASE" } });
    await api.until(r.iteration.id, (x) => x.state === "RELEASED", "RELEASED after a new release");
  });
});

describe("release requests", () => {
  it("are idempotent per iteration_phase, however often asked; a rollback does not move a RELEASED iteration", async () => {
    const r = await release();
    const again = (iterationPhaseId: number, tag: string, rollback = false) =>
      harness.proceed({
        iterationId: r.iterationId,
        appId: r.appId,
        targetPhase: "RELEASE",
        release: { iterationPhaseId, tag, branch: "main", commitId: null, rollback },
        actor: { sub: "alice", team: "t1" },
      });
    expect(await again(r.iterationPhaseId, "v1.0.0")).toMatchObject({
      ok: true,
      data: { phasePipelineId: r.phaseId },
    });
    await api.until(r.iteration.id, (x) => x.state === "RELEASED", "RELEASED");
    // Asked again after it ended (an answer that was lost): the same pipeline, the iteration RELEASED.
    expect(await again(r.iterationPhaseId, "v1.0.0")).toMatchObject({
      ok: true,
      data: { phasePipelineId: r.phaseId, currentPhase: "RELEASED", iterationStatus: "RELEASED" },
    });
    const phases = await api.call("GET", `/pipelines?parentId=${r.iteration.id}`);
    expect(phases.body.data.total).toBe(1);

    const rollbackPhaseId = nextId();
    expect(await again(rollbackPhaseId, "v0.9.0", true)).toMatchObject({ ok: true });
    const rb = await eventually(
      async () =>
        (await api.call("GET", `/pipelines?refId=${rollbackPhaseId}&type=PHASE`)).body.data.items[0],
      "rollback pipeline",
    );
    expect(rb).toMatchObject({ rollback: true, tag: "v0.9.0", parentId: r.iteration.id });
    await api.until(rb.id, (x) => x.status === "SUCCESS", "rollback SUCCESS");
    const iter = await api.pipeline(r.iteration.id);
    expect(iter.state).toBe("RELEASED");
    expect(
      (await transitionsOf(infra, r.iteration.id)).filter((t) => t.event === "RELEASE_SUCCESS"),
    ).toHaveLength(1);
  });

  it("queues a second release of an app (QUEUE) and starts it when the first ends; REJECT answers 3005", async () => {
    harness.behaviour = (req) => (req.stage === "DEPLOY" ? { deploy: "START_ONLY" } : { outcome: "SUCCESS" });
    const appId = nextId();
    await harness.appCreated(appId, { phases: ["RELEASE"], concurrency: "QUEUE" });
    await eventually(
      async () =>
        (await sql(infra.databaseUrl, `select 1 from pipeline.app_settings where app_id = $1`, [appId]))
          .length,
      "settings",
    );
    const ask = (iterationId: number) =>
      harness.proceed({
        iterationId,
        appId,
        targetPhase: "RELEASE",
        release: {
          iterationPhaseId: nextId(),
          tag: "v1.0.0",
          branch: "main",
          commitId: null,
          rollback: false,
        },
        actor: { sub: "alice", team: "t1" },
      });
    const first = await ask(nextId());
    const second = await ask(nextId());
    const third = await ask(nextId());
    expect(first).toMatchObject({ ok: true, data: { phasePipelineStatus: "RUNNING" } });
    expect(second).toMatchObject({ ok: true, data: { phasePipelineStatus: "PENDING" } });
    const id1 = first.ok ? first.data.phasePipelineId! : 0;
    const id2 = second.ok ? second.data.phasePipelineId! : 0;
    const id3 = third.ok ? third.data.phasePipelineId! : 0;
    expect(await api.pipeline(id2)).toMatchObject({ status: "PENDING", queued: true, state: "PENDING" });
    await api.until(id1, (x) => x.state === "DEPLOYING", "first DEPLOYING");
    // Every result of the first pipeline handled so far, and the second is still queued.
    await engineIdle("STAGE", "pipeline-engine-stage-completed");
    await engineIdle("OPS", "pipeline-engine-deployment-started");
    expect((await api.pipeline(id2)).status).toBe("PENDING");
    await harness.finished(id1, 1, `deploy-${id1}-1`, "SUCCESS");
    await api.until(id2, (x) => x.state === "DEPLOYING", "second started after the first ended");
    expect((await api.pipeline(id3)).status).toBe("PENDING");
    await api.call("POST", `/pipelines/${id2}/cancel`);
    await api.until(id3, (x) => x.state === "DEPLOYING", "third started after the second was cancelled");
    await harness.finished(id3, 1, `deploy-${id3}-1`, "SUCCESS");
    await api.until(id3, (x) => x.status === "SUCCESS", "third SUCCESS");

    const rejectApp = nextId();
    await harness.appCreated(rejectApp, { phases: ["RELEASE"], concurrency: "REJECT" });
    await eventually(
      async () =>
        (await sql(infra.databaseUrl, `select 1 from pipeline.app_settings where app_id = $1`, [rejectApp]))
          .length,
      "settings",
    );
    const ask2 = (iterationId: number, iterationPhaseId: number) =>
      harness.proceed({
        iterationId,
        appId: rejectApp,
        targetPhase: "RELEASE",
        release: { iterationPhaseId, tag: "v1.0.0", branch: "main", commitId: null, rollback: false },
        actor: { sub: "alice", team: "t1" },
      });
    const a = await ask2(nextId(), nextId());
    expect(a).toMatchObject({ ok: true });
    const it2 = nextId();
    const ip2 = nextId();
    const b = await ask2(it2, ip2);
    expect(b).toMatchObject({ ok: false, error: { code: 3005 } });
    expect(await ask2(it2, ip2)).toMatchObject({ ok: false, error: { code: 3005 } });
    const it2Pipeline = await api.iterationPipeline(it2);
    expect(it2Pipeline.state).toBe("DEVELOPING");
  });
});

describe("stage commands nobody answers", () => {
  it("re-publishes an unanswered stage request for the same attempt until a runner answers, then stops", async () => {
    // The runner misses BUILD twice (as if its messages were lost) and answers the third time.
    harness.behaviour = (req, repeat) => {
      if (req.stage === "BUILD" && repeat < 3) return "silent";
      return req.stage === "DEPLOY" ? { deploy: "SUCCESS" } : { outcome: "SUCCESS" };
    };
    const r = await release();
    const done = await api.until(
      r.phaseId,
      (x) => x.status === "SUCCESS",
      "SUCCESS after two re-publishes",
      30_000,
    );
    const builds = harness.requests.filter((q) => q.pipelineId === r.phaseId && q.stage === "BUILD");
    expect(builds.map((q) => q.attempt)).toEqual([1, 1, 1]);
    // Each request is the same command again: same stage, attempt, inputs and configuration.
    expect(builds[1]).toEqual(builds[0]);
    expect(builds[2]).toEqual(builds[0]);
    expect(done.checkpoints.filter((c) => c.stage === "BUILD").map((c) => c.status)).toEqual(["SUCCESS"]);
    const log = await transitionsOf(infra, r.phaseId);
    expect(log.filter((t) => t.event === "BUILD_SUCCESS")).toHaveLength(1);
    // Answered and finished: no timer is left to re-publish anything.
    expect(
      await sql(infra.databaseUrl, `select 1 from pipeline.timer where pipeline_id = $1`, [r.phaseId]),
    ).toEqual([]);
  });
});

describe("REST", () => {
  it("hides another team's pipelines (3004) and validates input (1001)", async () => {
    const r = await release();
    expect(await api.call("GET", `/pipelines/${r.phaseId}`, { team: "other" })).toMatchObject({
      status: 404,
      body: { code: 3004 },
    });
    expect(await api.call("POST", `/pipelines/${r.phaseId}/cancel`, { team: "other" })).toMatchObject({
      status: 404,
      body: { code: 3004 },
    });
    expect((await api.call("GET", `/pipelines?appId=${r.appId}`, { team: "other" })).body.data.total).toBe(0);
    expect(await api.call("GET", `/pipelines/abc`)).toMatchObject({ status: 400, body: { code: 1001 } });
    expect(await api.call("GET", `/pipelines?status=WHATEVER`)).toMatchObject({
      status: 400,
      body: { code: 1001 },
    });
    expect(await api.call("GET", `/pipelines/999999999`)).toMatchObject({
      status: 404,
      body: { code: 3004 },
    });
    const list = await api.call("GET", `/pipelines?appId=${r.appId}&type=PHASE&page=1&pageSize=5`);
    expect(list.body.data).toMatchObject({ total: 1, page: 1, pageSize: 5, items: [{ id: r.phaseId }] });
    const iter = await api.call("POST", `/pipelines/${r.iteration.id}/retry`);
    expect(iter).toMatchObject({ status: 409, body: { code: 3001 } });
  });
});

describe("a rolling upgrade: a later migration adds columns while this engine runs", () => {
  it("the prepared statements that read pipelines answer as before, and releases go on", async () => {
    const r = await release();
    await api.until(r.phaseId, (p) => p.status === "SUCCESS", "SUCCESS");
    // One connection for each kind of read, as a pooled one of a running engine: its prepared
    // statements stay with it.
    const database = new Database({
      url: infra.databaseUrl,
      poolMax: 1,
      log: createLogger({ name: "upgrade", level: "silent" }),
    });
    const reads = database.extraPool(1, "reads");
    const repo = new PipelineRepository();
    const everyStatement = async () => ({
      withParents: await repo.loadWithParents(database.sql, [r.phaseId]),
      byRefs: await repo.loadByRefs(database.sql, [r.iterationId], [r.iterationPhaseId]),
      get: await repo.findForTeam(reads, r.iteration.id, "t1"),
    });
    try {
      const before = await everyStatement();
      expect(before.withParents.map((p) => p.record.id).sort()).toEqual([r.iteration.id, r.phaseId].sort());
      expect(before.get?.pipeline.id).toBe(r.iteration.id);
      for (const table of ["pipeline", "timer", "app_settings"])
        await sql(
          infra.databaseUrl,
          `alter table pipeline.${table} add column upgrade_note text default 'later'`,
        );
      expect(await everyStatement()).toEqual(before);
    } finally {
      await database.close();
    }
    // The running engine, whose pooled connections prepared them in the tests above, goes on.
    const next = await release();
    await api.until(next.phaseId, (p) => p.status === "SUCCESS", "SUCCESS");
  });
});
