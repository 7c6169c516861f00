import {
  DEFAULT_DEPLOY_CONFIG,
  PHASE_STAGE_ORDER,
  PhasePipelineStatusChanged,
  qualityGateOn,
  StageRequested,
  type Checkpoint,
  type PhaseStage,
  type StageInputs,
} from "@procode/contracts";
import { type PhaseEvent, stageOfState } from "./phase.machine.js";
import type { PhasePipelineRecord } from "./pipeline.model.js";
import { type Change, type OutMessage, firePhase } from "./change.js";

/**
 * Phase pipelines: their checkpoints, the stage requests and status events they send, starting,
 * queueing, rejecting, moving to the next stage and failing an attempt. Pure.
 */

export function runningCheckpoint(stage: Checkpoint["stage"], attempt: number, ch: Change): Checkpoint {
  return {
    stage,
    status: "RUNNING",
    attempt,
    output: null,
    error: null,
    startedAt: ch.nowIso,
    finishedAt: null,
  };
}

export function finishRunningCheckpoints(
  p: Pick<PhasePipelineRecord, "checkpoints">,
  status: Checkpoint["status"],
  error: string | null,
  ch: Change,
): void {
  for (const cp of p.checkpoints) {
    if (cp.status !== "RUNNING") continue;
    cp.status = status;
    cp.error = error;
    cp.finishedAt = ch.nowIso;
  }
}

export function checkpointOf(
  p: PhasePipelineRecord,
  stage: PhaseStage,
  attempt: number,
): Checkpoint | undefined {
  return p.checkpoints.find((c) => c.stage === stage && c.attempt === attempt);
}

/** Outputs of the stages before `stage` that succeeded (their latest success each). */
export function inputsFor(p: PhasePipelineRecord, stage: PhaseStage): StageInputs {
  const inputs: Record<string, unknown> = {};
  for (const earlier of PHASE_STAGE_ORDER) {
    if (earlier === stage || earlier === "DEPLOY") break;
    const done = p.checkpoints.filter((c) => c.stage === earlier && c.status === "SUCCESS").at(-1);
    if (done?.output) inputs[earlier] = done.output;
  }
  return inputs;
}

export function stageRequest(p: PhasePipelineRecord, stage: PhaseStage): OutMessage {
  const stageConfig = p.stageConfigs[stage];
  if (!stageConfig) throw new Error(`pipeline ${p.id} has no configuration for ${stage}`);
  return {
    def: StageRequested,
    suffix: stage,
    data: {
      pipelineId: p.id,
      stage,
      attempt: p.attempt,
      appId: p.appId,
      team: p.team,
      iterationId: p.iterationId,
      iterationPhaseId: p.refId,
      tag: p.tag ?? "",
      rollback: p.rollback,
      stageConfig,
      inputs: inputsFor(p, stage),
      ...(stage === "DEPLOY" ? { deployConfig: p.deployConfig ?? DEFAULT_DEPLOY_CONFIG } : {}),
    },
  };
}

/** Requests a new attempt of `stage` (the machine is already in its state). */
export function requestStage(p: PhasePipelineRecord, stage: PhaseStage, ch: Change): void {
  const previous = p.checkpoints.filter((c) => c.stage === stage).map((c) => c.attempt);
  p.attempt = previous.length ? Math.max(...previous) + 1 : 1;
  p.currentStage = stage;
  p.waitingFor = "REQUESTED";
  p.republishCount = 0;
  p.wakeAt = ch.nowMs + ch.timings.republishBaseMs;
  if (stage === "DEPLOY") {
    p.deployStatus = "PENDING";
    p.deployId = null;
    p.deployDeadline = null;
  }
  p.checkpoints.push(runningCheckpoint(stage, p.attempt, ch));
  ch.messages.push(stageRequest(p, stage));
}

export function publishPhaseStatus(p: PhasePipelineRecord, ch: Change): void {
  p.eventSeq += 1;
  ch.messages.push({
    def: PhasePipelineStatusChanged,
    data: {
      pipelineId: p.id,
      parentId: p.parentId ?? 0,
      iterationId: p.iterationId,
      iterationPhaseId: p.refId,
      appId: p.appId,
      status: p.status,
      state: p.state,
      failedStage: p.status === "FAILED" ? p.failedStage : null,
      error: p.status === "FAILED" || p.status === "CANCELLED" ? p.error : null,
      rollback: p.rollback,
      sequence: p.eventSeq,
      stage: (p.currentStage as PhaseStage | null) ?? null,
      attempt: p.currentStage ? p.attempt : 0,
    },
  });
}

/** Announces a just-created phase pipeline (PENDING when queued, RUNNING when started). */
export function announcePhase(p: PhasePipelineRecord, ch: Change): void {
  publishPhaseStatus(p, ch);
}

/** PENDING -START-> RUNNING -ENTER_CODE_CHECK-> CODE_CHECK, attempt 1 requested. Holds the lease. */
export function startPhase(p: PhasePipelineRecord, ch: Change): void {
  firePhase(p, { type: "START" }, ch);
  firePhase(p, { type: "ENTER_CODE_CHECK" }, ch);
  p.status = "RUNNING";
  p.queued = false;
  p.currentRetries = 0;
  requestStage(p, "CODE_CHECK", ch);
}

/** Waits for the app's lease (QUEUE policy): PENDING, queued, re-checked at `recheckAt`. */
export function queuePhase(p: PhasePipelineRecord, recheckAt: number): void {
  p.queued = true;
  p.waitingFor = "QUEUED";
  p.wakeAt = recheckAt;
}

/** Refused by the REJECT policy: recorded CANCELLED at once, so both request paths answer alike. */
export function rejectPhase(p: PhasePipelineRecord, reason: string, ch: Change): void {
  firePhase(p, { type: "CANCEL" }, ch);
  p.status = "CANCELLED";
  p.rejected = true;
  p.error = reason;
  p.waitingFor = null;
  p.wakeAt = null;
}

const FAILED_EVENT = {
  CODE_CHECK: "CODE_CHECK_FAILED",
  BUILD: "BUILD_FAILED",
  PACKAGE: "PACKAGE_FAILED",
  QUALITY_GATE: "QUALITY_GATE_FAILED",
  DEPLOY: "DEPLOY_FAILED",
} as const;

/** The event a succeeded stage fires; PACKAGE's says whether the quality gate runs next. */
function successEvent(p: PhasePipelineRecord, stage: Exclude<PhaseStage, "DEPLOY">): PhaseEvent {
  switch (stage) {
    case "PACKAGE":
      return { type: "PACKAGE_SUCCESS", gate: qualityGateOn(p) };
    case "CODE_CHECK":
      return { type: "CODE_CHECK_SUCCESS" };
    case "BUILD":
      return { type: "BUILD_SUCCESS" };
    case "QUALITY_GATE":
      return { type: "QUALITY_GATE_SUCCESS" };
  }
}

/** The stage after a succeeded CODE_CHECK, BUILD, PACKAGE or QUALITY_GATE: fire *_SUCCESS and request it. */
export function advance(p: PhasePipelineRecord, stage: Exclude<PhaseStage, "DEPLOY">, ch: Change): void {
  firePhase(p, successEvent(p, stage), ch);
  p.currentRetries = 0;
  const next = stageOfState(p.state);
  if (!next) throw new Error(`no stage after ${stage}`);
  requestStage(p, next, ch);
}

/** A failed attempt: AUTO retry after an increasing delay while retries remain, else FAILED. */
export function failAttempt(
  p: PhasePipelineRecord,
  stage: PhaseStage,
  message: string,
  ch: Change,
): "retry" | "failed" {
  const cfg = p.stageConfigs[stage];
  p.error = message;
  if (cfg && cfg.retryMode === "AUTO" && p.currentRetries < cfg.maxRetries) {
    p.currentRetries += 1;
    p.waitingFor = "RETRY_WAIT";
    const delay = Math.min(ch.timings.retryMaxMs, ch.timings.retryBaseMs * 2 ** (p.currentRetries - 1));
    p.wakeAt = ch.nowMs + delay;
    return "retry";
  }
  firePhase(p, { type: FAILED_EVENT[stage] }, ch);
  p.status = "FAILED";
  p.failedStage = stage;
  p.waitingFor = null;
  p.wakeAt = null;
  ch.leaseReleases.push({ appId: p.appId, pipelineId: p.id });
  publishPhaseStatus(p, ch);
  return "failed";
}
