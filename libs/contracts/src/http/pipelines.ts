import { z } from "zod";
import {
  CheckpointStatus,
  DeployStatus,
  PhaseStage,
  PipelineState,
  PipelineStatus,
  PipelineType,
  StageName,
} from "../enums.js";
import { DateTime, PageQuery } from "../envelope.js";
import { StageConfig } from "../stage-config.js";

/** An attempt waiting for an outside system that does not answer (docs/reliability.md "Waiting is not failing"). */
export const CheckpointWaiting = z
  .object({
    state: z.literal("WAITING_OPS"),
    reason: z.string().meta({ description: "The outside system and what it answered (or did not)" }),
    since: DateTime,
  })
  .meta({
    id: "CheckpointWaiting",
    description:
      "The attempt waits for an outside system (the image builder, the ops module, a git provider); it goes on by itself when the system answers, and nothing fails for it",
  });
export type CheckpointWaiting = z.infer<typeof CheckpointWaiting>;

/** One stage attempt: its stage, status, attempt number, output and error (docs/api.md, "Pipelines"). */
export const Checkpoint = z
  .object({
    stage: StageName,
    status: CheckpointStatus,
    attempt: z.number().int().meta({ description: "1 for the first attempt of the stage" }),
    output: z
      .record(z.string(), z.unknown())
      .nullable()
      .meta({ description: "CODE_CHECK commitId, BUILD dockerfile, PACKAGE image; inputs of later stages" }),
    error: z.string().nullable(),
    startedAt: DateTime,
    finishedAt: DateTime.nullable(),
    waiting: CheckpointWaiting.optional().meta({
      description: "Present while this running attempt waits for an outside system that does not answer",
    }),
    waiver: z
      .object({ by: z.string(), reason: z.string(), at: DateTime })
      .optional()
      .meta({ description: "QUALITY_GATE: a person let this blocked attempt through (who, why, when)" }),
  })
  .meta({
    id: "Checkpoint",
    description: "One attempt of a stage",
    examples: [
      {
        stage: "CODE_CHECK",
        status: "SUCCESS",
        attempt: 1,
        output: { commitId: "abc123" },
        error: null,
        startedAt: "2026-02-27T10:00:00Z",
        finishedAt: "2026-02-27T10:00:05Z",
      },
    ],
  });
export type Checkpoint = z.infer<typeof Checkpoint>;

/** What a pipeline waits for from a person, if anything. */
export const Awaiting = z
  .object({
    action: z.enum(["PROCEED", "RETRY_OR_RESUME"]).meta({
      description:
        "PROCEED: a MANUAL stage succeeded; RETRY_OR_RESUME: a stage failed (retry within its retry budget, or resume)",
    }),
    stage: StageName,
    hint: z.string(),
  })
  .meta({ id: "Awaiting", description: "What the pipeline waits for from a person" });
export type Awaiting = z.infer<typeof Awaiting>;

/** The answer of GET /pipelines/{id}, and the fields a caller needs to act on it. */
export const Pipeline = z
  .object({
    id: z.number().int(),
    type: PipelineType,
    parentId: z.number().int().nullable().meta({ description: "The iteration pipeline of a PHASE pipeline" }),
    refId: z
      .number()
      .int()
      .meta({ description: "ITERATION: the iteration's id; PHASE: the iteration phase (release) id" }),
    status: PipelineStatus,
    currentStage: StageName.nullable(),
    deployStatus: DeployStatus.nullable(),
    checkpoints: z.array(Checkpoint).meta({ description: "Every stage attempt, oldest first" }),
    createdAt: DateTime,
    updatedAt: DateTime,
    /** The machine state (e.g. DEPLOYING, RELEASED); status is its coarse form. */
    state: PipelineState.meta({
      description: "The machine state (e.g. DEPLOYING); status is its coarse form",
    }),
    appId: z.number().int(),
    iterationId: z.number().int(),
    deployId: z.string().nullable(),
    currentRetries: z.number().int().meta({ description: "Retries of the current or failed stage so far" }),
    stageConfigs: z
      .partialRecord(StageName, StageConfig)
      .meta({ description: "The configuration of each stage of this pipeline" }),
    tag: z.string().nullable(),
    rollback: z.boolean(),
    awaiting: Awaiting.nullable(),
    queued: z.boolean().meta({ description: "Waiting behind another release of the app" }),
  })
  .meta({
    id: "Pipeline",
    description: "A pipeline with its checkpoints",
    examples: [
      {
        id: 789,
        type: "PHASE",
        parentId: 888,
        refId: 456,
        status: "RUNNING",
        currentStage: "DEPLOY",
        deployStatus: "DEPLOYING",
        checkpoints: [
          {
            stage: "CODE_CHECK",
            status: "SUCCESS",
            attempt: 1,
            output: { commitId: "abc123" },
            error: null,
            startedAt: "2026-02-27T10:00:00Z",
            finishedAt: "2026-02-27T10:01:00Z",
          },
          {
            stage: "BUILD",
            status: "SUCCESS",
            attempt: 1,
            output: { dockerfile: "..." },
            error: null,
            startedAt: "2026-02-27T10:01:00Z",
            finishedAt: "2026-02-27T10:02:00Z",
          },
          {
            stage: "PACKAGE",
            status: "SUCCESS",
            attempt: 1,
            output: { image: "registry/xxx:v1.0.0" },
            error: null,
            startedAt: "2026-02-27T10:02:00Z",
            finishedAt: "2026-02-27T10:04:00Z",
          },
        ],
        createdAt: "2026-02-27T10:00:00Z",
        updatedAt: "2026-02-27T10:05:00Z",
        state: "DEPLOYING",
        appId: 123,
        iterationId: 456,
        deployId: "deploy-xxx",
        currentRetries: 0,
        stageConfigs: {
          CODE_CHECK: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 3 },
          BUILD: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 2 },
          PACKAGE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 },
          DEPLOY: {
            driveMode: "ASYNC",
            retryMode: "MANUAL",
            maxRetries: 0,
            pollInterval: 30,
            pollTimeout: 1800,
          },
        },
        tag: "v1.0.0",
        rollback: false,
        awaiting: null,
        queued: false,
      },
    ],
  });
export type Pipeline = z.infer<typeof Pipeline>;

export const ListPipelinesQuery = PageQuery.extend({
  refId: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: "ITERATION: an iteration's id; PHASE: an iteration phase (release) id" }),
  parentId: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: "Phase pipelines of this iteration pipeline" }),
  appId: z.coerce.number().int().positive().optional().meta({ description: "Pipelines of this app" }),
  type: PipelineType.optional().meta({ description: "Only pipelines of this type" }),
  status: PipelineStatus.optional().meta({ description: "Only pipelines in this status" }),
});
export type ListPipelinesQuery = z.infer<typeof ListPipelinesQuery>;

/** The optional body of the pipeline actions: nothing, or a reason recorded with the action. */
export const PipelineActionRequest = z
  .object({
    reason: z
      .string()
      .trim()
      .max(500)
      .optional()
      .meta({ description: "Recorded with the action (and the checkpoint it ends, for cancel)" }),
  })
  .meta({
    id: "PipelineActionRequest",
    description: "Optional: a pipeline action needs no body",
    examples: [{ reason: "hotfix approved by the release manager" }],
  });
/** As a route body: absent, or `{reason}`. */
export const PipelineActionBody = PipelineActionRequest.optional();
export type PipelineActionBody = z.infer<typeof PipelineActionBody>;

/** The answer of POST /pipelines/{id}/proceed. */
export const ProceedPipelineResponse = z
  .object({
    pipelineId: z.number().int(),
    previousStage: StageName,
    currentStage: StageName,
  })
  .meta({
    id: "ProceedPipelineResponse",
    description: "The answer of POST /pipelines/{id}/proceed",
    examples: [{ pipelineId: 789, previousStage: "PACKAGE", currentStage: "DEPLOY" }],
  });
export type ProceedPipelineResponse = z.infer<typeof ProceedPipelineResponse>;

/** The answer of POST /pipelines/{id}/retry. */
export const RetryPipelineResponse = z
  .object({
    pipelineId: z.number().int(),
    currentStage: PhaseStage,
    retryCount: z.number().int(),
    maxRetries: z.number().int(),
  })
  .meta({
    id: "RetryPipelineResponse",
    description: "The answer of POST /pipelines/{id}/retry",
    examples: [{ pipelineId: 789, currentStage: "BUILD", retryCount: 2, maxRetries: 3 }],
  });
export type RetryPipelineResponse = z.infer<typeof RetryPipelineResponse>;

/** The answer of POST /pipelines/{id}/resume. */
export const ResumePipelineResponse = z
  .object({
    pipelineId: z.number().int(),
    status: PipelineStatus,
    resumeFromStage: PhaseStage,
  })
  .meta({
    id: "ResumePipelineResponse",
    description: "The answer of POST /pipelines/{id}/resume",
    examples: [{ pipelineId: 789, status: "RUNNING", resumeFromStage: "DEPLOY" }],
  });
export type ResumePipelineResponse = z.infer<typeof ResumePipelineResponse>;

export const CancelPipelineResponse = z
  .object({
    pipelineId: z.number().int(),
    status: PipelineStatus,
    previousState: PipelineState,
  })
  .meta({
    id: "CancelPipelineResponse",
    description: "The pipeline is CANCELLED; previousState is where it was",
    examples: [{ pipelineId: 789, status: "CANCELLED", previousState: "DEPLOYING" }],
  });
export type CancelPipelineResponse = z.infer<typeof CancelPipelineResponse>;
