import {
  BuildOutput,
  CodeCheckOutput,
  DeployOutput,
  PackageOutput,
  QualityGateOutput,
  type PhaseStage,
} from "@procode/contracts";
import type { z } from "zod";
import type { PhasePipelineRecord } from "./pipeline.model.js";
import { type Change, firePhase } from "./change.js";
import {
  advance,
  checkpointOf,
  failAttempt,
  publishPhaseStatus,
  requestStage,
  stageRequest,
} from "./phase.pipeline.js";

/**
 * What the outside says about a stage attempt: a runner's result or waiting, ops-gateway's
 * deployment started, waiting or finished, a timer that fired. Each is applied to the pipeline or
 * refused as stale. Pure.
 */

/** Output a succeeded stage must carry, checked before it becomes a later stage's input. */
function outputProblem(stage: PhaseStage, output: Record<string, unknown> | null): string | null {
  const schema: z.ZodType = {
    CODE_CHECK: CodeCheckOutput,
    BUILD: BuildOutput,
    PACKAGE: PackageOutput,
    QUALITY_GATE: QualityGateOutput,
    DEPLOY: DeployOutput,
  }[stage];
  const parsed = schema.safeParse(output ?? undefined);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  return `${stage} output does not match its contract: ${issue?.path.join(".") || "output"}: ${issue?.message ?? "invalid"}`;
}

/** Why a result for (stage, attempt) changes nothing, or null when it is the awaited one. */
function staleReason(p: PhasePipelineRecord, stage: PhaseStage, attempt: number): string | null {
  if (p.type !== "PHASE") return "not a phase pipeline";
  if (p.status !== "RUNNING") return `pipeline is ${p.status}`;
  if (p.currentStage !== stage) return `pipeline is at ${p.currentStage ?? p.state}, not ${stage}`;
  if (p.attempt !== attempt) return `attempt ${attempt} is not the current attempt ${p.attempt}`;
  if (p.waitingFor !== "REQUESTED") return "result already recorded";
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

/** The result of a CODE_CHECK, BUILD or PACKAGE attempt (AUTO or MANUAL drive). */
export function applyStageResult(p: PhasePipelineRecord, r: StageResult, ch: Change): Applied {
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
    p.waitingFor = "AWAIT_PROCEED";
    p.wakeAt = null;
    return applied;
  }
  advance(p, r.stage, ch);
  return applied;
}

/** ops-gateway created the deployment: DEPLOY -DEPLOY_START-> DEPLOYING. */
export function applyDeploymentStarted(
  p: PhasePipelineRecord,
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
 * The ops module does not answer: shown as deployStatus WAITING_OPS and on the attempt's
 * checkpoint with the reason; nothing fails for that alone.
 */
export function applyDeploymentWaiting(
  p: PhasePipelineRecord,
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
  p: PhasePipelineRecord,
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
  p: PhasePipelineRecord,
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
    p.waitingFor = null;
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
export function wakeStage(p: PhasePipelineRecord, ch: Change): Applied {
  if (p.status !== "RUNNING" || !p.currentStage) {
    p.wakeAt = null;
    return ignored(`pipeline is ${p.status}`);
  }
  const stage = p.currentStage as PhaseStage;
  if (p.waitingFor === "REQUESTED") {
    p.republishCount += 1;
    const delay =
      p.state === "DEPLOYING"
        ? ch.timings.republishMaxMs
        : Math.min(ch.timings.republishMaxMs, ch.timings.republishBaseMs * 2 ** p.republishCount);
    p.wakeAt = ch.nowMs + delay;
    ch.messages.push(stageRequest(p, stage));
    return applied;
  }
  if (p.waitingFor === "RETRY_WAIT") {
    firePhase(p, { type: "RETRY", stage }, ch);
    requestStage(p, stage, ch);
    return applied;
  }
  p.wakeAt = null;
  return ignored(`nothing is due (${p.waitingFor ?? "idle"})`);
}
