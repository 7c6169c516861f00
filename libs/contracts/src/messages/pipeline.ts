import { z } from "zod";
import {
  IterationMachineState,
  IterationStatus,
  PhaseMachineState,
  PhaseStage,
  PipelineStatus,
} from "../enums.js";
import { defineMessage } from "../message.js";

export const IterationPhaseChanged = defineMessage({
  type: "pipeline.iteration_phase_changed.v1",
  kind: "event",
  data: z.object({
    iterationId: z.number().int().positive(),
    appId: z.number().int().positive(),
    pipelineId: z.number().int().positive(),
    phase: IterationMachineState,
    iterationStatus: IterationStatus,
    phasePipelineId: z.number().int().positive().nullable(),
    iterationPhaseId: z.number().int().positive().nullable(),
    /** Grows with every change of this iteration; consumers apply only newer ones. */
    sequence: z.number().int().min(1),
  }),
  publisher: "pipeline-engine",
  consumers: ["dev-svc", "app-svc"],
  description:
    "The iteration pipeline moved (DEVELOPING, TESTING, STAGING, RELEASE, RELEASED) or its release's phase pipeline changed the iteration's status (RELEASING, FAILED). dev-svc updates the iteration; app-svc notifies the app's subscribers (waiting for a person, released).",
});

export const PhasePipelineStatusChanged = defineMessage({
  type: "pipeline.phase_pipeline_status_changed.v1",
  kind: "event",
  data: z.object({
    pipelineId: z.number().int().positive(),
    parentId: z.number().int().positive(),
    iterationId: z.number().int().positive(),
    iterationPhaseId: z.number().int().positive(),
    appId: z.number().int().positive(),
    status: PipelineStatus,
    state: PhaseMachineState,
    failedStage: PhaseStage.nullable(),
    error: z.string().nullable(),
    rollback: z.boolean(),
    sequence: z.number().int().min(1),
    /** The stage the pipeline is at (the failed one when FAILED), null before its first stage. */
    stage: PhaseStage.nullable().optional(),
    /** That stage's attempt (1 for its first run), 0 before the first stage. */
    attempt: z.number().int().min(0).optional(),
  }),
  publisher: "pipeline-engine",
  consumers: ["dev-svc", "app-svc"],
  description:
    "A phase pipeline was created, started, finished (SUCCESS, FAILED, CANCELLED) or resumed. dev-svc records it on the iteration_phase row and in the release's commit statuses; app-svc notifies the app's subscribers.",
});

export const QualityWaived = defineMessage({
  type: "pipeline.quality_waived.v1",
  kind: "event",
  data: z.object({
    pipelineId: z.number().int().positive(),
    appId: z.number().int().positive(),
    team: z.string(),
    iterationPhaseId: z.number().int().positive(),
    /** The blocked gate's report. */
    reportId: z.number().int().positive(),
    /** Who let it through (the JWT subject) and why. */
    by: z.string(),
    reason: z.string(),
    at: z.string(),
  }),
  publisher: "pipeline-engine",
  consumers: ["dev-svc"],
  description:
    "A person let a release through a blocked quality gate (`POST /pipelines/{id}/proceed` with a reason): the pipeline goes on to DEPLOY. dev-svc records the waiver with the gate's report (verdict WAIVED).",
});

export const DeploymentCancelRequested = defineMessage({
  type: "pipeline.deployment_cancel_requested.v1",
  kind: "command",
  data: z.object({
    pipelineId: z.number().int().positive(),
    attempt: z.number().int().min(1),
    deployId: z.string().nullable(),
    reason: z.string(),
  }),
  publisher: "pipeline-engine",
  consumers: ["ops-gateway"],
  description:
    "A pipeline was cancelled at DEPLOY: stop polling and ask ops to stop the deployment where it can.",
});
