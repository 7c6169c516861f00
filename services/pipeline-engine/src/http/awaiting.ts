import {
  DEFAULT_ITERATION_PHASES,
  isWithinRetryBudget,
  nextPhase,
  type Checkpoint,
  type IterationPhase,
} from "@procode/contracts";
import { blockedGate } from "../domain/actions.js";
import type { PipelineRecord } from "../domain/pipeline.model.js";

/**
 * What a pipeline waits for from a person, with the request that would be accepted now: the
 * `awaiting` of `GET /pipelines/{id}` (docs/api.md). The hint names HTTP routes, so it lives beside
 * the routes and not in the domain.
 */
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
    if (blockedGate(p)?.verdict === "BLOCK") {
      return {
        action: "RETRY_OR_RESUME",
        stage: p.failedStage,
        hint: `the quality gate blocked the release: fix it and POST /pipelines/${p.id}/resume, or let it through with POST /pipelines/${p.id}/proceed with a reason`,
      };
    }
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
  if (p.status === "RUNNING" && p.waitingFor === "AWAIT_PROCEED" && p.currentStage) {
    return {
      action: "PROCEED",
      stage: p.currentStage,
      hint: `${p.currentStage} succeeded; POST /pipelines/${p.id}/proceed to go on`,
    };
  }
  return null;
}
