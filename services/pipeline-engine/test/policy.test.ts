import { describe, expect, it } from "vitest";
import { PHASE_STAGE_DEFAULTS } from "@procode/contracts";
import {
  blankPhasePipeline,
  type EngineTimings,
  type PhasePipelineRecord,
} from "../src/domain/pipeline.model.js";
import {
  applyDeploymentFinished,
  applyDeploymentStarted,
  applyDeploymentWaiting,
  applyStageResult,
  applyStageWaiting,
  wakeStage,
} from "../src/domain/stage-results.js";
import { Change, PipelineRefusalError } from "../src/domain/change.js";
import { checkResume, checkRetry } from "../src/domain/actions.js";
import { invariantProblems } from "../src/domain/invariants.js";
import { startPhase } from "../src/domain/phase.pipeline.js";

const timings: EngineTimings = {
  republishBaseMs: 1000,
  republishMaxMs: 8000,
  retryBaseMs: 100,
  retryMaxMs: 250,
  leaseTtlMs: 60000,
  queueRecheckMs: 5000,
};

function phase(): PhasePipelineRecord {
  return blankPhasePipeline({
    id: 7,
    parentId: 3,
    refId: 11,
    appId: 1,
    team: "t1",
    iterationId: 5,
    state: "PENDING",
    stageConfigs: structuredClone(PHASE_STAGE_DEFAULTS),
    tag: "v1.0.0",
  });
}

const fail = (stage: "CODE_CHECK" | "BUILD", attempt: number) => ({
  stage,
  attempt,
  outcome: "FAILED" as const,
  output: null,
  error: "broken",
});

describe("phase pipeline decisions", () => {
  it("AUTO retries with a doubling, capped delay, then FAILED; retry and resume checks follow", () => {
    const p = phase();
    let ch = new Change(1_000, "system", timings);
    startPhase(p, ch);
    expect(ch.transitions.map((t) => t.event)).toEqual(["START", "ENTER_CODE_CHECK"]);
    expect(ch.messages[0]).toMatchObject({ suffix: "CODE_CHECK", data: { attempt: 1, tag: "v1.0.0" } });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      ch = new Change(2_000, "system", timings);
      expect(applyStageResult(p, fail("CODE_CHECK", attempt), ch)).toEqual({ applied: true });
      expect(p.waitingFor).toBe("RETRY_WAIT");
      delays.push(p.wakeAt! - 2_000);
      ch = new Change(p.wakeAt!, "system", timings);
      wakeStage(p, ch);
      expect(p.attempt).toBe(attempt + 1);
      expect(ch.transitions).toMatchObject([{ event: "RETRY", from: "CODE_CHECK", to: "CODE_CHECK" }]);
    }
    expect(delays).toEqual([100, 200, 250]);
    ch = new Change(9_000, "system", timings);
    applyStageResult(p, fail("CODE_CHECK", 4), ch);
    expect(p).toMatchObject({
      status: "FAILED",
      state: "FAILED",
      failedStage: "CODE_CHECK",
      currentRetries: 3,
    });
    expect(ch.leaseReleases).toEqual([{ appId: 1, pipelineId: 7 }]);
    expect(() => checkRetry(p, true)).toThrow(PipelineRefusalError);
    expect(() => checkRetry(p, true)).toThrow(/retried 3 of 3/);
    expect(checkResume(p, true)).toBe("CODE_CHECK");
    expect(() => checkResume(p, false)).toThrow(/superseded/);
  });

  it("ignores a stale attempt, a second result and a result for another stage", () => {
    const p = phase();
    startPhase(p, new Change(1, "system", timings));
    const ch = new Change(2, "system", timings);
    expect(applyStageResult(p, fail("CODE_CHECK", 2), ch)).toMatchObject({ applied: false });
    expect(applyStageResult(p, fail("BUILD", 1), ch)).toMatchObject({ applied: false });
    const ok = {
      stage: "CODE_CHECK" as const,
      attempt: 1,
      outcome: "SUCCESS" as const,
      output: { commitId: "a", checks: [] },
      error: null,
    };
    expect(applyStageResult(p, ok, ch)).toEqual({ applied: true });
    expect(applyStageResult(p, ok, ch)).toMatchObject({ applied: false });
    expect(p.currentStage).toBe("BUILD");
    expect(ch.transitions).toHaveLength(1);
  });

  it("a deployment outcome that overtakes its start event starts the deployment first", () => {
    const p = phase();
    p.state = "DEPLOY";
    p.status = "RUNNING";
    p.currentStage = "DEPLOY";
    p.waitingFor = "REQUESTED";
    p.attempt = 1;
    p.checkpoints.push({
      stage: "DEPLOY",
      status: "RUNNING",
      attempt: 1,
      output: null,
      error: null,
      startedAt: "",
      finishedAt: null,
    });
    const ch = new Change(5, "system", timings);
    applyDeploymentFinished(p, { attempt: 1, deployId: "d-1", outcome: "TIMEOUT", message: "" }, ch);
    expect(ch.transitions.map((t) => `${t.from}-${t.event}->${t.to}`)).toEqual([
      "DEPLOY-DEPLOY_START->DEPLOYING",
      "DEPLOYING-DEPLOY_FAILED->FAILED",
    ]);
    expect(p).toMatchObject({ deployStatus: "DEPLOY_TIMEOUT", status: "FAILED", deployId: "d-1" });
  });

  it("shows a stage attempt waiting for an outside system until it goes on or its result arrives", () => {
    const p = phase();
    startPhase(p, new Change(1, "system", timings));
    const ch = new Change(2, "system", timings);
    const ok = { stage: "CODE_CHECK" as const, attempt: 1, outcome: "SUCCESS" as const, error: null };
    applyStageResult(p, { ...ok, output: { commitId: "a", checks: [] } }, ch);
    applyStageResult(p, { ...ok, stage: "BUILD", output: { dockerfile: "FROM python:3.12-slim" } }, ch);
    const current = () => p.checkpoints.find((c) => c.stage === "PACKAGE" && c.attempt === 1)!;
    const wait = (reason: string | null, at: string, attempt = 1) =>
      applyStageWaiting(p, { stage: "PACKAGE", attempt, reason, at });

    expect(wait("builder unreachable", "2026-01-01T00:00:02Z", 2)).toMatchObject({ applied: false });
    expect(wait(null, "2026-01-01T00:00:01Z")).toMatchObject({ applied: false });
    expect(wait("builder unreachable", "2026-01-01T00:00:02Z")).toEqual({ applied: true });
    expect(wait("builder unreachable", "2026-01-01T00:00:03Z")).toMatchObject({ applied: false });
    expect(current().waiting).toEqual({
      state: "WAITING_OPS",
      reason: "builder unreachable",
      since: "2026-01-01T00:00:02Z",
    });
    // Another reason keeps the time it began; a late "goes on" from before it changes nothing.
    expect(wait("builder answers 503", "2026-01-01T00:00:04Z")).toEqual({ applied: true });
    expect(current().waiting).toMatchObject({ reason: "builder answers 503", since: "2026-01-01T00:00:02Z" });
    expect(wait(null, "2026-01-01T00:00:01Z")).toMatchObject({ applied: false });
    expect(wait(null, "2026-01-01T00:00:05Z")).toEqual({ applied: true });
    expect(current().waiting).toBeUndefined();
    // The result clears a waiting whose "goes on" never came.
    wait("builder unreachable", "2026-01-01T00:00:06Z");
    applyStageResult(p, { ...ok, stage: "PACKAGE", output: { image: "r/a:v1.0.0" } }, ch);
    expect(current()).toMatchObject({ status: "SUCCESS" });
    expect(current().waiting).toBeUndefined();
    expect(p.status).toBe("RUNNING");
    expect(p.currentStage).toBe("DEPLOY");

    // DEPLOY: ops-gateway's waiting shows the same way, with deployStatus WAITING_OPS, until ops answers.
    const deploy = () => p.checkpoints.find((c) => c.stage === "DEPLOY")!;
    const since = "2026-01-01T00:00:07Z";
    expect(
      applyDeploymentWaiting(p, { attempt: 1, deployId: null, reason: "ops unreachable", since }),
    ).toEqual({
      applied: true,
    });
    expect(p.deployStatus).toBe("WAITING_OPS");
    expect(deploy().waiting).toEqual({ state: "WAITING_OPS", reason: "ops unreachable", since });
    applyDeploymentStarted(p, { attempt: 1, deployId: "d-1", deadlineMs: null }, ch);
    expect(p).toMatchObject({ state: "DEPLOYING", deployStatus: "DEPLOYING" });
    expect(deploy().waiting).toBeUndefined();
    applyDeploymentWaiting(p, { attempt: 1, deployId: "d-1", reason: "ops unreachable", since });
    applyDeploymentFinished(p, { attempt: 1, deployId: "d-1", outcome: "SUCCESS", message: "" }, ch);
    expect(deploy()).toMatchObject({ status: "SUCCESS" });
    expect(deploy().waiting).toBeUndefined();
  });
});

describe("the pipeline's rules between its fields", () => {
  it("hold at every step of a release, its failures and retries", () => {
    const p = phase();
    const seen: string[] = [];
    const check = () => seen.push(...invariantProblems(p));
    let ch = new Change(1_000, "system", timings);
    check();
    startPhase(p, ch);
    check();
    applyStageResult(p, { stage: "CODE_CHECK", attempt: 1, outcome: "FAILED", output: null, error: "x" }, ch);
    check(); // AUTO retry pending
    ch = new Change(p.wakeAt!, "system", timings);
    wakeStage(p, ch);
    check();
    applyStageResult(
      p,
      {
        stage: "CODE_CHECK",
        attempt: 2,
        outcome: "SUCCESS",
        output: { commitId: "c", checks: [] },
        error: null,
      },
      ch,
    );
    check();
    expect(seen).toEqual([]);
  });

  it("name what is inconsistent", () => {
    const p = phase();
    startPhase(p, new Change(1_000, "system", timings));
    p.wakeAt = null;
    expect(invariantProblems(p)).toEqual([
      "pipeline 7 (RUNNING at CODE_CHECK, waiting for REQUESTED): a timer is set exactly while it waits for a result, a retry or its lease",
    ]);
    p.wakeAt = 5;
    p.status = "SUCCESS";
    expect(invariantProblems(p)).toContain(
      "pipeline 7 (SUCCESS at CODE_CHECK, waiting for REQUESTED): a SUCCESS pipeline is in state SUCCESS",
    );
    const q = phase();
    q.failedStage = "BUILD";
    expect(invariantProblems(q)).toContain(
      "pipeline 7 (PENDING at PENDING, waiting for null): failedStage is set exactly when FAILED",
    );
  });
});
