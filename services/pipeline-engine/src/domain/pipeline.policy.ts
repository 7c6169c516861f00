import {
  BuildOutput,
  CodeCheckOutput,
  DEFAULT_DEPLOY_CONFIG,
  DEFAULT_ITERATION_PHASES,
  DeploymentCancelRequested,
  DeployOutput,
  isWithinRetryBudget,
  IterationPhaseChanged,
  iterationStatusOf,
  nextPhase,
  PackageOutput,
  PHASE_STAGE_ORDER,
  PhasePipelineStatusChanged,
  StageRequested,
  type Checkpoint,
  type ErrorName,
  type IterationMachineState,
  type IterationPhase,
  type MessageData,
  type PhaseMachineState,
  type PhaseStage,
  type StageInputs,
} from "@procode/contracts";
import type { z } from "zod";
import { decideIteration, type IterationEvent } from "./iteration.machine.js";
import { decidePhase, stageOfState, type PhaseEvent } from "./phase.machine.js";
import type { EngineTimings, PipelineRecord, TransitionRecord } from "./pipeline.model.js";

/** A request the domain refuses, with the product's error (mapped to the envelope by the caller). */
export class PipelineRefusal extends Error {
  override name = "PipelineRefusal";
  constructor(
    readonly kind: ErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** A message the engine publishes once the change is committed. */
export type OutMessage =
  | { def: typeof StageRequested; data: MessageData<typeof StageRequested>; suffix: PhaseStage }
  | { def: typeof PhasePipelineStatusChanged; data: MessageData<typeof PhasePipelineStatusChanged> }
  | { def: typeof IterationPhaseChanged; data: MessageData<typeof IterationPhaseChanged> }
  | { def: typeof DeploymentCancelRequested; data: MessageData<typeof DeploymentCancelRequested> };

/**
 * What one command did, besides the records it changed in place: transitions for the log, messages
 * to publish, leases to hand back. `nowMs` and `actor` are given, so every function here is pure.
 */
export class Change {
  readonly transitions: TransitionRecord[] = [];
  readonly messages: OutMessage[] = [];
  /** Releases whose app lease this change hands back (the next queued one is woken). */
  readonly leaseReleases: { appId: number; pipelineId: number }[] = [];
  constructor(
    readonly nowMs: number,
    readonly actor: string,
    readonly timings: EngineTimings,
  ) {}
  get nowIso(): string {
    return new Date(this.nowMs).toISOString();
  }
}

// ---------------------------------------------------------------------------------------------
// Transitions

function firePhase(p: PipelineRecord, event: PhaseEvent, ch: Change): void {
  const from = p.state as PhaseMachineState;
  const to = decidePhase(from, event);
  record(p, from, to, event.type, ch);
}

function fireIteration(p: PipelineRecord, event: IterationEvent, ch: Change): void {
  const from = p.state as IterationMachineState;
  const to = decideIteration(from, event);
  record(p, from, to, event.type, ch);
}

function record(p: PipelineRecord, from: string, to: string, event: string, ch: Change): void {
  p.state = to as PipelineRecord["state"];
  p.transitionSeq += 1;
  ch.transitions.push({
    pipelineId: p.id,
    seq: p.transitionSeq,
    from,
    to,
    event,
    actor: ch.actor,
    at: ch.nowIso,
  });
}

// ---------------------------------------------------------------------------------------------
// Iteration pipelines

/** Publishes the iteration's phase and status when either changed since the last event. */
function publishIteration(iter: PipelineRecord, ch: Change, stateBefore: string): void {
  const status = iterationStatusOf(iter.state as IterationMachineState, iter.latestChildStatus);
  if (status === iter.iterationStatus && iter.state === stateBefore) return;
  iter.iterationStatus = status;
  iter.eventSeq += 1;
  ch.messages.push({
    def: IterationPhaseChanged,
    data: {
      iterationId: iter.iterationId,
      appId: iter.appId,
      pipelineId: iter.id,
      phase: iter.state as IterationMachineState,
      iterationStatus: status,
      phasePipelineId: iter.latestChildId,
      iterationPhaseId: iter.latestIterationPhaseId,
      sequence: iter.eventSeq,
    },
  });
}

/** PENDING -START-> DEVELOPING, right after creation (SPEC 4). */
export function startIteration(iter: PipelineRecord, ch: Change): void {
  fireIteration(iter, { type: "START" }, ch);
  iter.status = "RUNNING";
  iter.currentStage = "DEVELOPING";
  iter.checkpoints.push(runningCheckpoint("DEVELOPING", 1, ch));
  publishIteration(iter, ch, "PENDING");
}

/** Moves the iteration to its next phase (validated by the caller). */
export function moveIteration(iter: PipelineRecord, event: IterationEvent, ch: Change): void {
  const before = iter.state;
  fireIteration(iter, event, ch);
  finishRunningCheckpoints(iter, "SUCCESS", null, ch);
  iter.currentStage = iter.state as "TESTING" | "STAGING" | "RELEASE";
  iter.checkpoints.push(runningCheckpoint(iter.currentStage, 1, ch));
  publishIteration(iter, ch, before);
}

/**
 * A phase pipeline of this iteration changed its coarse status: remember it as the latest release,
 * fire RELEASE_SUCCESS when a (non-rollback) release succeeded, publish the iteration's status.
 */
export function syncParent(iter: PipelineRecord, child: PipelineRecord, ch: Change): void {
  if (iter.latestChildId !== null && child.id < iter.latestChildId) return; // an older release
  const before = iter.state;
  iter.latestChildId = child.id;
  iter.latestChildStatus = child.status;
  iter.latestIterationPhaseId = child.refId;
  if (child.status === "SUCCESS" && !child.rollback && iter.state === "RELEASE") {
    fireIteration(iter, { type: "RELEASE_SUCCESS" }, ch);
    iter.status = "SUCCESS";
    finishRunningCheckpoints(iter, "SUCCESS", null, ch);
  }
  publishIteration(iter, ch, before);
}

// ---------------------------------------------------------------------------------------------
// Phase pipelines: stages

function runningCheckpoint(stage: Checkpoint["stage"], attempt: number, ch: Change): Checkpoint {
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

function finishRunningCheckpoints(
  p: PipelineRecord,
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

function checkpointOf(p: PipelineRecord, stage: PhaseStage, attempt: number): Checkpoint | undefined {
  return p.checkpoints.find((c) => c.stage === stage && c.attempt === attempt);
}

/** Outputs of the stages before `stage` that succeeded (their latest success each). */
export function inputsFor(p: PipelineRecord, stage: PhaseStage): StageInputs {
  const inputs: Record<string, unknown> = {};
  for (const earlier of PHASE_STAGE_ORDER) {
    if (earlier === stage || earlier === "DEPLOY") break;
    const done = p.checkpoints.filter((c) => c.stage === earlier && c.status === "SUCCESS").at(-1);
    if (done?.output) inputs[earlier] = done.output;
  }
  return inputs;
}

function stageRequest(p: PipelineRecord, stage: PhaseStage): OutMessage {
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
function requestStage(p: PipelineRecord, stage: PhaseStage, ch: Change): void {
  const previous = p.checkpoints.filter((c) => c.stage === stage).map((c) => c.attempt);
  p.attempt = previous.length ? Math.max(...previous) + 1 : 1;
  p.currentStage = stage;
  p.step = "REQUESTED";
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

function publishPhaseStatus(p: PipelineRecord, ch: Change): void {
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
      state: p.state as PhaseMachineState,
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
export function announcePhase(p: PipelineRecord, ch: Change): void {
  publishPhaseStatus(p, ch);
}

/** PENDING -START-> RUNNING -ENTER_CODE_CHECK-> CODE_CHECK, attempt 1 requested. Holds the lease. */
export function startPhase(p: PipelineRecord, ch: Change): void {
  firePhase(p, { type: "START" }, ch);
  firePhase(p, { type: "ENTER_CODE_CHECK" }, ch);
  p.status = "RUNNING";
  p.queued = false;
  p.currentRetries = 0;
  requestStage(p, "CODE_CHECK", ch);
}

/** Waits for the app's lease (QUEUE policy): PENDING, queued, re-checked at `recheckAt`. */
export function queuePhase(p: PipelineRecord, recheckAt: number): void {
  p.queued = true;
  p.step = "QUEUED";
  p.wakeAt = recheckAt;
}

/** Refused by the REJECT policy: recorded CANCELLED at once, so both request paths answer alike. */
export function rejectPhase(p: PipelineRecord, reason: string, ch: Change): void {
  firePhase(p, { type: "CANCEL" }, ch);
  p.status = "CANCELLED";
  p.rejected = true;
  p.error = reason;
  p.step = null;
  p.wakeAt = null;
}

const SUCCESS_EVENT = {
  CODE_CHECK: "CODE_CHECK_SUCCESS",
  BUILD: "BUILD_SUCCESS",
  PACKAGE: "PACKAGE_SUCCESS",
} as const;
const FAILED_EVENT = {
  CODE_CHECK: "CODE_CHECK_FAILED",
  BUILD: "BUILD_FAILED",
  PACKAGE: "PACKAGE_FAILED",
  DEPLOY: "DEPLOY_FAILED",
} as const;

/** The stage after a succeeded CODE_CHECK, BUILD or PACKAGE: fire *_SUCCESS and request it. */
function advance(p: PipelineRecord, stage: Exclude<PhaseStage, "DEPLOY">, ch: Change): void {
  firePhase(p, { type: SUCCESS_EVENT[stage] }, ch);
  p.currentRetries = 0;
  const next = stageOfState(p.state as PhaseMachineState);
  if (!next) throw new Error(`no stage after ${stage}`);
  requestStage(p, next, ch);
}

/** A failed attempt: AUTO retry after an increasing delay while retries remain, else FAILED. */
function failAttempt(p: PipelineRecord, stage: PhaseStage, message: string, ch: Change): "retry" | "failed" {
  const cfg = p.stageConfigs[stage];
  p.error = message;
  if (cfg && cfg.retryMode === "AUTO" && p.currentRetries < cfg.maxRetries) {
    p.currentRetries += 1;
    p.step = "RETRY_WAIT";
    const delay = Math.min(ch.timings.retryMaxMs, ch.timings.retryBaseMs * 2 ** (p.currentRetries - 1));
    p.wakeAt = ch.nowMs + delay;
    return "retry";
  }
  firePhase(p, { type: FAILED_EVENT[stage] }, ch);
  p.status = "FAILED";
  p.failedStage = stage;
  p.step = null;
  p.wakeAt = null;
  ch.leaseReleases.push({ appId: p.appId, pipelineId: p.id });
  publishPhaseStatus(p, ch);
  return "failed";
}

/** Output a succeeded stage must carry (seed 3.5), checked before it becomes a later stage's input. */
function outputProblem(stage: PhaseStage, output: Record<string, unknown> | null): string | null {
  const schema: z.ZodType = {
    CODE_CHECK: CodeCheckOutput,
    BUILD: BuildOutput,
    PACKAGE: PackageOutput,
    DEPLOY: DeployOutput,
  }[stage];
  const parsed = schema.safeParse(output ?? undefined);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  return `${stage} output does not match its contract: ${issue?.path.join(".") || "output"}: ${issue?.message ?? "invalid"}`;
}

/** Why a result for (stage, attempt) changes nothing, or null when it is the awaited one. */
function staleReason(p: PipelineRecord, stage: PhaseStage, attempt: number): string | null {
  if (p.type !== "PHASE") return "not a phase pipeline";
  if (p.status !== "RUNNING") return `pipeline is ${p.status}`;
  if (p.currentStage !== stage) return `pipeline is at ${p.currentStage ?? p.state}, not ${stage}`;
  if (p.attempt !== attempt) return `attempt ${attempt} is not the current attempt ${p.attempt}`;
  if (p.step !== "REQUESTED") return "result already recorded";
  if (checkpointOf(p, stage, attempt)?.status !== "RUNNING") return "result already recorded";
  return null;
}

export type Applied = { applied: true } | { applied: false; reason: string };
const applied: Applied = { applied: true };
const ignored = (reason: string): Applied => ({ applied: false, reason });

export interface StageResult {
  stage: PhaseStage;
  attempt: number;
  outcome: "SUCCESS" | "FAILED";
  output: Record<string, unknown> | null;
  error: string | null;
}

/** The result of a CODE_CHECK, BUILD or PACKAGE attempt (seed 2.5 AUTO/MANUAL drive). */
export function applyStageResult(p: PipelineRecord, r: StageResult, ch: Change): Applied {
  const stale = staleReason(p, r.stage, r.attempt);
  if (stale) return ignored(stale);
  if (r.stage === "DEPLOY") {
    return applyDeploymentFinished(
      p,
      {
        attempt: r.attempt,
        deployId: typeof r.output?.["deployId"] === "string" ? r.output["deployId"] : (p.deployId ?? ""),
        outcome: r.outcome,
        message: r.error ?? "",
      },
      ch,
    );
  }
  const cp = checkpointOf(p, r.stage, r.attempt)!;
  const problem = r.outcome === "SUCCESS" ? outputProblem(r.stage, r.output) : null;
  cp.finishedAt = ch.nowIso;
  delete cp.waiting;
  if (r.outcome === "FAILED" || problem) {
    cp.status = "FAILED";
    cp.output = r.output;
    cp.error = problem ?? r.error ?? `${r.stage} failed`;
    failAttempt(p, r.stage, cp.error, ch);
    return applied;
  }
  cp.status = "SUCCESS";
  cp.output = r.output;
  p.error = null;
  const cfg = p.stageConfigs[r.stage];
  if (cfg?.driveMode === "MANUAL") {
    p.step = "AWAIT_PROCEED";
    p.wakeAt = null;
    return applied;
  }
  advance(p, r.stage, ch);
  return applied;
}

/** ops-gateway created the deployment: DEPLOY -DEPLOY_START-> DEPLOYING. */
export function applyDeploymentStarted(
  p: PipelineRecord,
  d: { attempt: number; deployId: string; deadlineMs: number | null },
  ch: Change,
): Applied {
  const stale = staleReason(p, "DEPLOY", d.attempt);
  if (stale) return ignored(stale);
  // ops answers again (a start is sent again after a waiting): the attempt no longer waits.
  delete checkpointOf(p, "DEPLOY", d.attempt)!.waiting;
  if (p.state === "DEPLOYING") {
    if (p.deployId === d.deployId && p.deployStatus === "DEPLOYING") return ignored("already DEPLOYING");
    p.deployId = d.deployId;
    p.deployStatus = "DEPLOYING";
    p.deployDeadline = d.deadlineMs;
    return applied;
  }
  firePhase(p, { type: "DEPLOY_START" }, ch);
  p.deployId = d.deployId;
  p.deployStatus = "DEPLOYING";
  p.deployDeadline = d.deadlineMs;
  // The request was taken: from now on it is only nudged, at the slowest re-publish pace.
  p.wakeAt = ch.nowMs + ch.timings.republishMaxMs;
  return applied;
}

/**
 * The ops module does not answer (seed 6.1): shown as deployStatus WAITING_OPS and on the attempt's
 * checkpoint with the reason; nothing fails for that alone.
 */
export function applyDeploymentWaiting(
  p: PipelineRecord,
  d: { attempt: number; deployId: string | null; reason: string; since: string },
): Applied {
  const stale = staleReason(p, "DEPLOY", d.attempt);
  if (stale) return ignored(stale);
  const cp = checkpointOf(p, "DEPLOY", d.attempt)!;
  if (p.deployStatus === "WAITING_OPS" && cp.waiting?.reason === d.reason)
    return ignored("already WAITING_OPS");
  p.deployStatus = "WAITING_OPS";
  cp.waiting = { state: "WAITING_OPS", reason: d.reason, since: cp.waiting?.since ?? d.since };
  if (d.deployId) p.deployId = d.deployId;
  return applied;
}

/**
 * A CODE_CHECK, BUILD or PACKAGE attempt waits for an outside system that does not answer (reason),
 * or goes on (null): shown on its checkpoint (stage state WAITING_OPS) until it goes on or its
 * result arrives; nothing fails for it. A report older than the waiting shown changes nothing.
 */
export function applyStageWaiting(
  p: PipelineRecord,
  w: { stage: PhaseStage; attempt: number; reason: string | null; at: string },
): Applied {
  const stale = staleReason(p, w.stage, w.attempt);
  if (stale) return ignored(stale);
  const cp = checkpointOf(p, w.stage, w.attempt)!;
  if (w.reason === null) {
    if (!cp.waiting) return ignored("not waiting");
    if (Date.parse(w.at) < Date.parse(cp.waiting.since)) return ignored("older than the waiting shown");
    delete cp.waiting;
    return applied;
  }
  if (cp.waiting?.reason === w.reason) return ignored("already waiting for this");
  cp.waiting = { state: "WAITING_OPS", reason: w.reason, since: cp.waiting?.since ?? w.at };
  return applied;
}

/** The one outcome of a deployment (poll, callback or timeout, whichever came first). */
export function applyDeploymentFinished(
  p: PipelineRecord,
  d: {
    attempt: number;
    deployId: string;
    outcome: "SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED";
    message: string;
  },
  ch: Change,
): Applied {
  const stale = staleReason(p, "DEPLOY", d.attempt);
  if (stale) return ignored(stale);
  // The outcome may overtake the start event (separate consumers): start first, then finish.
  if (p.state === "DEPLOY") firePhase(p, { type: "DEPLOY_START" }, ch);
  if (d.deployId) p.deployId = d.deployId;
  const cp = checkpointOf(p, "DEPLOY", d.attempt)!;
  cp.finishedAt = ch.nowIso;
  delete cp.waiting;
  if (d.outcome === "SUCCESS") {
    cp.status = "SUCCESS";
    cp.output = { deployId: d.deployId, ...(d.message ? { message: d.message } : {}) };
    firePhase(p, { type: "DEPLOY_SUCCESS" }, ch);
    p.status = "SUCCESS";
    p.deployStatus = "DEPLOY_SUCCESS";
    p.step = null;
    p.wakeAt = null;
    p.error = null;
    ch.leaseReleases.push({ appId: p.appId, pipelineId: p.id });
    publishPhaseStatus(p, ch);
    return applied;
  }
  const message =
    d.outcome === "TIMEOUT"
      ? `deployment ${d.deployId} timed out${d.message ? `: ${d.message}` : ""}`
      : `deployment ${d.deployId} ${d.outcome === "CANCELLED" ? "was cancelled by ops" : "failed"}${d.message ? `: ${d.message}` : ""}`;
  cp.status = "FAILED";
  cp.error = message;
  cp.output = d.deployId ? { deployId: d.deployId } : null;
  p.deployStatus = d.outcome === "TIMEOUT" ? "DEPLOY_TIMEOUT" : "DEPLOY_FAILED";
  failAttempt(p, "DEPLOY", message, ch);
  return applied;
}

/** A durable timer is due: re-publish the request, or start the AUTO retry. */
export function wakeStage(p: PipelineRecord, ch: Change): Applied {
  if (p.status !== "RUNNING" || !p.currentStage) {
    p.wakeAt = null;
    return ignored(`pipeline is ${p.status}`);
  }
  const stage = p.currentStage as PhaseStage;
  if (p.step === "REQUESTED") {
    p.republishCount += 1;
    const delay =
      p.state === "DEPLOYING"
        ? ch.timings.republishMaxMs
        : Math.min(ch.timings.republishMaxMs, ch.timings.republishBaseMs * 2 ** p.republishCount);
    p.wakeAt = ch.nowMs + delay;
    ch.messages.push(stageRequest(p, stage));
    return applied;
  }
  if (p.step === "RETRY_WAIT") {
    firePhase(p, { type: "RETRY", stage }, ch);
    requestStage(p, stage, ch);
    return applied;
  }
  p.wakeAt = null;
  return ignored(`nothing is due (${p.step ?? "idle"})`);
}

// ---------------------------------------------------------------------------------------------
// Actions (REST)

function requirePhase(p: PipelineRecord, action: string): void {
  if (p.type !== "PHASE") {
    throw new PipelineRefusal(
      "PIPELINE_STATE_CONFLICT",
      `${action} applies to phase pipelines; iteration pipelines move with POST /iterations/${p.iterationId}/proceed`,
    );
  }
}

/** Seed 3.9: a MANUAL stage succeeded and waits; move on to the next stage. */
export function proceedPhase(
  p: PipelineRecord,
  ch: Change,
): { previousStage: PhaseStage; currentStage: PhaseStage } {
  requirePhase(p, "proceed");
  if (p.step !== "AWAIT_PROCEED" || p.status !== "RUNNING") {
    throw new PipelineRefusal(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} is ${p.status} at ${p.state} and is not waiting for proceed`,
    );
  }
  const previousStage = p.currentStage as Exclude<PhaseStage, "DEPLOY">;
  advance(p, previousStage, ch);
  return { previousStage, currentStage: p.currentStage as PhaseStage };
}

/** Checks of seed 3.8 retry: FAILED (3001), retries left (3002). */
export function checkRetry(p: PipelineRecord, latestOfIteration: boolean): void {
  requirePhase(p, "retry");
  if (p.status !== "FAILED") {
    throw new PipelineRefusal(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} is ${p.status}; retry needs FAILED`,
    );
  }
  if (!latestOfIteration) {
    throw new PipelineRefusal(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} was superseded by a newer release of the iteration`,
    );
  }
  const stage = p.failedStage!;
  const cfg = p.stageConfigs[stage];
  if (!cfg || !isWithinRetryBudget(cfg, p.currentRetries)) {
    throw new PipelineRefusal(
      "MAX_RETRIES_REACHED",
      `${stage} has been retried ${p.currentRetries} of ${cfg?.maxRetries ?? 0} times; resume starts it afresh`,
    );
  }
}

/** Seed 3.8: one more attempt of the failed stage (after checkRetry and the lease). */
export function retryPhase(
  p: PipelineRecord,
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
export function checkResume(p: PipelineRecord, latestOfIteration: boolean): PhaseStage {
  requirePhase(p, "resume");
  if (!latestOfIteration && p.status === "FAILED") {
    throw new PipelineRefusal(
      "PIPELINE_STATE_CONFLICT",
      `pipeline ${p.id} was superseded by a newer release of the iteration`,
    );
  }
  if (p.status === "FAILED" && p.failedStage) return p.failedStage;
  if (p.status === "RUNNING" && (p.step === "REQUESTED" || p.step === "RETRY_WAIT") && p.currentStage) {
    return p.currentStage as PhaseStage;
  }
  const why =
    p.step === "AWAIT_PROCEED"
      ? "it waits for proceed"
      : p.status === "PENDING"
        ? "it has not started"
        : `it is ${p.status}`;
  throw new PipelineRefusal("PIPELINE_STATE_CONFLICT", `pipeline ${p.id} cannot resume: ${why}`);
}

/**
 * Seed 3.6: continue from the breakpoint, a new attempt of the failed or stuck stage with its retry
 * count reset; succeeded stages are not run again (their outputs stay the inputs).
 */
export function resumePhase(p: PipelineRecord, stage: PhaseStage, reason: string, ch: Change): void {
  if (p.status === "RUNNING") {
    // The stuck attempt is given up; a deployment it may have started is asked to stop.
    if (stage === "DEPLOY" && p.step === "REQUESTED") {
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
export function cancelPipeline(p: PipelineRecord, reason: string, ch: Change): string {
  if (p.status === "SUCCESS" || p.status === "CANCELLED") {
    throw new PipelineRefusal("PIPELINE_STATE_CONFLICT", `pipeline ${p.id} is already ${p.status}`);
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
  if (p.currentStage === "DEPLOY" && p.step === "REQUESTED") {
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
  p.step = null;
  p.wakeAt = null;
  p.queued = false;
  if (held) ch.leaseReleases.push({ appId: p.appId, pipelineId: p.id });
  publishPhaseStatus(p, ch);
  return previous;
}

// ---------------------------------------------------------------------------------------------
// Views

export type Awaiting = {
  action: "PROCEED" | "RETRY_OR_RESUME";
  stage: Checkpoint["stage"];
  hint: string;
} | null;

/** What the pipeline waits for from a person, if anything. */
export function awaitingOf(p: PipelineRecord, phases?: readonly IterationPhase[]): Awaiting {
  if (p.type === "ITERATION") {
    if (p.status !== "RUNNING" || p.state === "RELEASE" || !p.currentStage) return null;
    const next = nextPhase(phases ?? DEFAULT_ITERATION_PHASES, p.currentStage as IterationPhase);
    if (!next) return null;
    return {
      action: "PROCEED",
      stage: p.currentStage,
      hint:
        next === "RELEASE"
          ? `POST /iterations/${p.iterationId}/proceed with targetPhase RELEASE and a tag (or /release with a tag)`
          : `POST /iterations/${p.iterationId}/proceed with targetPhase ${next} (or POST /pipelines/${p.id}/proceed)`,
    };
  }
  if (p.status === "FAILED" && p.failedStage) {
    const cfg = p.stageConfigs[p.failedStage];
    return {
      action: "RETRY_OR_RESUME",
      stage: p.failedStage,
      // Only what would be accepted now: retry while within the stage's retry budget.
      hint:
        cfg && isWithinRetryBudget(cfg, p.currentRetries)
          ? `${p.failedStage} failed: POST /pipelines/${p.id}/retry or /resume`
          : `${p.failedStage} failed and its retries are used up: POST /pipelines/${p.id}/resume`,
    };
  }
  if (p.status === "RUNNING" && p.step === "AWAIT_PROCEED" && p.currentStage) {
    return {
      action: "PROCEED",
      stage: p.currentStage,
      hint: `${p.currentStage} succeeded; POST /pipelines/${p.id}/proceed to go on`,
    };
  }
  return null;
}

/**
 * When the app lease held by `p` should expire: never while it waits at a MANUAL gate, the
 * deployment's deadline while DEPLOYING, otherwise LEASE_TTL after its last progress.
 */
export function leaseExpiry(p: PipelineRecord, ch: Change): number | null {
  if (p.step === "AWAIT_PROCEED") return null;
  const ttl = ch.nowMs + ch.timings.leaseTtlMs;
  return p.deployDeadline ? Math.max(ttl, p.deployDeadline + ch.timings.leaseTtlMs) : ttl;
}
