import type { MessageData, PipelineChanged } from "@procode/contracts";
import type { PipelineRecord } from "../domain/pipeline.model.js";
import { toPipelineView } from "./pipeline-queries.js";

export type PipelineSummary = MessageData<typeof PipelineChanged>;

/**
 * What people see of a pipeline as it changes (the live event `live.pipeline.v1`): the fields of
 * its REST view that tell where it stands. A write that changes none of them (a stage request
 * published again, a timer moved) is no news.
 */
export function summaryOf(p: PipelineRecord): PipelineSummary {
  const view = toPipelineView(p);
  return {
    pipelineId: p.id,
    appId: p.appId,
    iterationId: p.iterationId,
    kind: p.type,
    status: view.status,
    state: view.state,
    stage: view.currentStage,
    deployStatus: view.deployStatus,
    attempt: p.type === "PHASE" ? p.attempt : 0,
    failedStage: p.type === "PHASE" ? p.failedStage : null,
    error: p.error,
    awaiting: view.awaiting?.action ?? null,
    waiting:
      p.status === "RUNNING" && p.type === "PHASE"
        ? (p.checkpoints.find((c) => c.stage === p.currentStage && c.attempt === p.attempt)?.waiting
            ?.reason ?? null)
        : null,
  };
}

/** A summary as a key to compare two moments of one pipeline. */
export function summaryKey(p: PipelineRecord): string {
  return JSON.stringify(summaryOf(p));
}
