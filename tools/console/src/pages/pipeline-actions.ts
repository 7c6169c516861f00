import { isFinished, isRetryAccepted } from "@procode/contracts/pipeline-view";
import { api, unwrap } from "../api/client";
import type { Pipeline } from "../api/types";

export type PipelineAction = "proceed" | "retry" | "resume" | "waive" | "cancel";

/** The verdict of the pipeline's latest QUALITY_GATE attempt (PASS, BLOCK, CONFIGURATION_ERROR), if any. */
function gateVerdict(p: Pipeline): string | null {
  const v = p.checkpoints.filter((c) => c.stage === "QUALITY_GATE").at(-1)?.output?.["verdict"];
  return typeof v === "string" ? v : null;
}

/**
 * Why the API would refuse an action on this pipeline now, or null when it would accept it: the
 * pipeline's `awaiting` says what it waits for (proceed at a MANUAL gate; retry or resume after a
 * failure, retry only while the stage has retries left); cancel takes any pipeline that has not succeeded or been cancelled.
 */
export function refusalOf(p: Pipeline, action: PipelineAction): string | null {
  const waits = p.awaiting?.action;
  switch (action) {
    case "proceed":
      return waits === "PROCEED"
        ? null
        : "proceed needs a stage waiting for a person (a MANUAL stage that succeeded)";
    case "retry":
      if (waits !== "RETRY_OR_RESUME") return `retry needs a FAILED pipeline (this one is ${p.status})`;
      return isRetryAccepted(p)
        ? null
        : `${p.awaiting?.stage ?? "the stage"} used its retries (${p.currentRetries}): Resume starts it afresh`;
    case "resume":
      return waits === "RETRY_OR_RESUME" ? null : `resume needs a FAILED pipeline (this one is ${p.status})`;
    case "waive":
      if (p.awaiting?.action !== "RETRY_OR_RESUME" || p.awaiting.stage !== "QUALITY_GATE")
        return "waive needs a release blocked by its quality gate";
      return gateVerdict(p) === "BLOCK"
        ? null
        : "the gate failed on a configuration error: fix evals/ in the repository and resume";
    case "cancel":
      return isFinished(p) && p.status !== "FAILED" ? `the pipeline is already ${p.status}` : null;
  }
}

/** Runs an action; resolves to a sentence about what the API answered. */
export async function runAction(id: number, action: PipelineAction, reason: string): Promise<string> {
  // No body unless there is a reason.
  const init = { params: { path: { id } }, ...(reason.trim() ? { body: { reason: reason.trim() } } : {}) };
  switch (action) {
    case "proceed": {
      const r = await unwrap(api.POST("/pipelines/{id}/proceed", init));
      return `${r.previousStage} → ${r.currentStage}`;
    }
    case "retry": {
      const r = await unwrap(api.POST("/pipelines/{id}/retry", init));
      return `Retrying ${r.currentStage} (retry ${r.retryCount}${r.maxRetries ? ` of ${r.maxRetries}` : ""})`;
    }
    case "resume": {
      const r = await unwrap(api.POST("/pipelines/{id}/resume", init));
      return `Resuming from ${r.resumeFromStage}`;
    }
    case "waive": {
      // A waiver is recorded with the gate's report: the API refuses one without a reason.
      if (!reason.trim()) throw new Error("A waiver needs a reason: write why in the reason field first.");
      const r = await unwrap(api.POST("/pipelines/{id}/proceed", init));
      return `Waived: ${r.previousStage} → ${r.currentStage}`;
    }
    case "cancel": {
      const r = await unwrap(api.POST("/pipelines/{id}/cancel", init));
      return `Cancelled (it was ${r.previousState})`;
    }
  }
}
