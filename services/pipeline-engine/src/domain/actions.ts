import {
  DeploymentCancelRequested,
  isWithinRetryBudget,
  QualityWaived,
  type PhaseStage,
} from "@procode/contracts";
import type { PhasePipelineRecord, PipelineRecord } from "./pipeline.model.js";
import { type Change, PipelineRefusalError, fireIteration, firePhase } from "./change.js";
import { publishIteration } from "./iteration.pipeline.js";
import { advance, finishRunningCheckpoints, publishPhaseStatus, requestStage } from "./phase.pipeline.js";

/** The actions of people on a phase pipeline: proceed, retry, resume, cancel. Pure. */

/** An action only a release's pipeline takes: 3001 on an iteration pipeline. */
export function requirePhase(p: PipelineRecord, action: string): asserts p is PhasePipelineRecord {
  if (p.type !== "PHASE") {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `${action} applies to phase pipelines; iteration pipelines move with POST /iterations/${p.iterationId}/proceed`,
    );
  }
}

/** A MANUAL stage succeeded and waits; move on to the next stage. */
export function proceedPhase(
  p: PipelineRecord,
  ch: Change,
): { previousStage: PhaseStage; currentStage: PhaseStage } {
  requirePhase(p, "proceed");
  if (p.waitingFor !== "AWAIT_PROCEED" || p.status !== "RUNNING") {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} is ${p.status} at ${p.state} and is not waiting for proceed`,
    );
  }
  const previousStage = p.currentStage as Exclude<PhaseStage, "DEPLOY">;
  advance(p, previousStage, ch);
  return { previousStage, currentStage: p.currentStage as PhaseStage };
}

/** A blocked quality gate: the report it blocked with, or null when the pipeline is not one. */
export function blockedGate(p: PipelineRecord): { reportId: number; verdict: string } | null {
  if (p.type !== "PHASE" || p.status !== "FAILED" || p.failedStage !== "QUALITY_GATE") return null;
  const output = p.checkpoints.filter((c) => c.stage === "QUALITY_GATE").at(-1)?.output;
  const reportId = output?.["reportId"];
  const verdict = output?.["verdict"];
  return typeof reportId === "number" && typeof verdict === "string" ? { reportId, verdict } : null;
}

/**
 * What a waiver needs (docs/quality-gate.md, "Waivers"): a gate that blocked the release on its
 * rules (3001 otherwise: a configuration error is fixed in the repository, not waived) and a reason
 * (1001). Returns the blocked report.
 */
export function checkWaiver(
  p: PipelineRecord,
  reason: string | undefined,
  latestOfIteration: boolean,
): number {
  const gate = blockedGate(p);
  if (!gate) {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} is ${p.status} at ${p.state} and is not waiting for proceed`,
    );
  }
  if (gate.verdict !== "BLOCK") {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id}'s quality gate failed with a configuration error (report ${gate.reportId}), which cannot be waived: fix the case set and release again`,
    );
  }
  if (!latestOfIteration) {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} was superseded by a newer release of the iteration`,
    );
  }
  if (!reason?.trim()) {
    throw new PipelineRefusalError(
      "INVALID_PARAMETER",
      `reason: waiving pipeline ${p.id}'s blocked quality gate (report ${gate.reportId}) needs a reason`,
    );
  }
  return gate.reportId;
}

/** A person lets a blocked gate through (after checkWaiver and the lease): the release goes on to DEPLOY. */
export function waiveGate(
  p: PhasePipelineRecord,
  reportId: number,
  by: string,
  reason: string,
  ch: Change,
): { previousStage: PhaseStage; currentStage: PhaseStage } {
  const cp = p.checkpoints.filter((c) => c.stage === "QUALITY_GATE").at(-1)!;
  cp.waiver = { by, reason: reason.trim(), at: ch.nowIso };
  firePhase(p, { type: "WAIVE" }, ch);
  p.status = "RUNNING";
  p.failedStage = null;
  p.error = null;
  p.currentRetries = 0;
  requestStage(p, "DEPLOY", ch);
  publishPhaseStatus(p, ch);
  ch.messages.push({
    def: QualityWaived,
    data: {
      pipelineId: p.id,
      appId: p.appId,
      team: p.team,
      iterationPhaseId: p.refId,
      reportId,
      by,
      reason: cp.waiver.reason,
      at: ch.nowIso,
    },
  });
  return { previousStage: "QUALITY_GATE", currentStage: "DEPLOY" };
}

/** What a retry needs: FAILED (3001), retries left (3002). */
export function checkRetry(p: PipelineRecord, latestOfIteration: boolean): asserts p is PhasePipelineRecord {
  requirePhase(p, "retry");
  if (p.status !== "FAILED") {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} is ${p.status}; retry needs FAILED`,
    );
  }
  if (!latestOfIteration) {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} was superseded by a newer release of the iteration`,
    );
  }
  const stage = p.failedStage!;
  const cfg = p.stageConfigs[stage];
  if (!cfg || !isWithinRetryBudget(cfg, p.currentRetries)) {
    throw new PipelineRefusalError(
      "MAX_RETRIES_REACHED",
      `${stage} has been retried ${p.currentRetries} of ${cfg?.maxRetries ?? 0} times; resume starts it afresh`,
    );
  }
}

/** One more attempt of the failed stage (after checkRetry and the lease). */
export function retryPhase(
  p: PhasePipelineRecord,
  ch: Change,
): { currentStage: PhaseStage; retryCount: number; maxRetries: number } {
  const stage = p.failedStage!;
  p.currentRetries += 1;
  firePhase(p, { type: "RETRY", stage }, ch);
  p.status = "RUNNING";
  p.failedStage = null;
  p.error = null;
  requestStage(p, stage, ch);
  publishPhaseStatus(p, ch);
  return {
    currentStage: stage,
    retryCount: p.currentRetries,
    maxRetries: p.stageConfigs[stage]?.maxRetries ?? 0,
  };
}

/** The stage `resume` would run again, or a refusal (3001). */
export function checkResume(p: PhasePipelineRecord, latestOfIteration: boolean): PhaseStage {
  if (!latestOfIteration && p.status === "FAILED") {
    throw new PipelineRefusalError(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} was superseded by a newer release of the iteration`,
    );
  }
  if (p.status === "FAILED" && p.failedStage) return p.failedStage;
  if (
    p.status === "RUNNING" &&
    (p.waitingFor === "REQUESTED" || p.waitingFor === "RETRY_WAIT") &&
    p.currentStage
  ) {
    return p.currentStage as PhaseStage;
  }
  const why =
    p.waitingFor === "AWAIT_PROCEED"
      ? "it waits for proceed"
      : p.status === "PENDING"
        ? "it has not started"
        : `it is ${p.status}`;
  throw new PipelineRefusalError("PIPELINE_STATE_CONFLICT", `pipeline ${p.id} cannot resume: ${why}`);
}

/**
 * Continue from the breakpoint, a new attempt of the failed or stuck stage with its retry
 * count reset; succeeded stages are not run again (their outputs stay the inputs).
 */
export function resumePhase(p: PhasePipelineRecord, stage: PhaseStage, reason: string, ch: Change): void {
  if (p.status === "RUNNING") {
    // The stuck attempt is given up; a deployment it may have started is asked to stop.
    if (stage === "DEPLOY" && p.waitingFor === "REQUESTED") {
      ch.messages.push({
        def: DeploymentCancelRequested,
        data: { pipelineId: p.id, attempt: p.attempt, deployId: p.deployId, reason },
      });
    }
    finishRunningCheckpoints(p, "CANCELLED", "interrupted by resume", ch);
  }
  firePhase(p, { type: "RESUME", stage }, ch);
  p.status = "RUNNING";
  p.currentRetries = 0;
  p.failedStage = null;
  p.error = null;
  requestStage(p, stage, ch);
  publishPhaseStatus(p, ch);
}

/** Cancels any unfinished pipeline. Returns the state it left. */
export function cancelPipeline(p: PipelineRecord, reason: string, ch: Change): PipelineRecord["state"] {
  if (p.status === "SUCCESS" || p.status === "CANCELLED") {
    throw new PipelineRefusalError("PIPELINE_STATE_CONFLICT", `pipeline ${p.id} is already ${p.status}`);
  }
  const previous = p.state;
  if (p.type === "ITERATION") {
    const before = p.state;
    fireIteration(p, { type: "CANCEL" }, ch);
    p.status = "CANCELLED";
    finishRunningCheckpoints(p, "CANCELLED", reason, ch);
    publishIteration(p, ch, before);
    return previous;
  }
  if (p.currentStage === "DEPLOY" && p.waitingFor === "REQUESTED") {
    ch.messages.push({
      def: DeploymentCancelRequested,
      data: { pipelineId: p.id, attempt: p.attempt, deployId: p.deployId, reason },
    });
    p.deployStatus = "DEPLOY_CANCELLED";
  }
  const held = p.status === "RUNNING";
  firePhase(p, { type: "CANCEL" }, ch);
  finishRunningCheckpoints(p, "CANCELLED", reason, ch);
  p.status = "CANCELLED";
  p.error = reason;
  p.waitingFor = null;
  p.wakeAt = null;
  p.queued = false;
  if (held) ch.leaseReleases.push({ appId: p.appId, pipelineId: p.id });
  publishPhaseStatus(p, ch);
  return previous;
}
