import { IterationPhaseChanged, iterationStatusOf } from "@procode/contracts";
import { type IterationEvent } from "./iteration.machine.js";
import type { IterationPipelineRecord, PhasePipelineRecord } from "./pipeline.model.js";
import { type Change, fireIteration } from "./change.js";
import { finishRunningCheckpoints, runningCheckpoint } from "./phase.pipeline.js";

/** Iteration pipelines: started, moved to a phase, following their latest release. Pure. */

/** Publishes the iteration's phase and status when either changed since the last event. */
export function publishIteration(iter: IterationPipelineRecord, ch: Change, stateBefore: string): void {
  const status = iterationStatusOf(iter.state, iter.latestChildStatus);
  if (status === iter.iterationStatus && iter.state === stateBefore) return;
  iter.iterationStatus = status;
  iter.eventSeq += 1;
  ch.messages.push({
    def: IterationPhaseChanged,
    data: {
      iterationId: iter.iterationId,
      appId: iter.appId,
      pipelineId: iter.id,
      phase: iter.state,
      iterationStatus: status,
      phasePipelineId: iter.latestChildId,
      iterationPhaseId: iter.latestIterationPhaseId,
      sequence: iter.eventSeq,
    },
  });
}

/** PENDING -START-> DEVELOPING, right after creation. */
export function startIteration(iter: IterationPipelineRecord, ch: Change): void {
  fireIteration(iter, { type: "START" }, ch);
  iter.status = "RUNNING";
  iter.currentStage = "DEVELOPING";
  iter.checkpoints.push(runningCheckpoint("DEVELOPING", 1, ch));
  publishIteration(iter, ch, "PENDING");
}

/** Moves the iteration to its next phase (validated by the caller). */
export function moveIteration(iter: IterationPipelineRecord, event: IterationEvent, ch: Change): void {
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
export function syncParent(iter: IterationPipelineRecord, child: PhasePipelineRecord, ch: Change): void {
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
