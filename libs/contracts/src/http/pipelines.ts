import { z } from "zod";
import {
  CheckpointStatus,
  DeployStatus,
  PhaseStage,
  PipelineStatus,
  PipelineType,
  StageName,
} from "../enums.js";
import { PageQuery } from "../envelope.js";

/** One stage attempt (SPEC 4 checkpoints; seed 3.5 shows stage, status, output). */
export const Checkpoint = z.object({
  stage: StageName,
  status: CheckpointStatus,
  attempt: z.number().int(),
  output: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/** What a pipeline waits for from a person, if anything. */
export const Awaiting = z
  .object({
    action: z.enum(["PROCEED", "RETRY_OR_RESUME"]),
    stage: StageName,
    hint: z.string(),
  })
  .nullable();

/** Seed 3.5 response, and the fields a caller needs to act on it. */
export const Pipeline = z.object({
  id: z.number().int(),
  type: PipelineType,
  parentId: z.number().int().nullable(),
  refId: z.number().int(),
  status: PipelineStatus,
  currentStage: StageName.nullable(),
  deployStatus: DeployStatus.nullable(),
  checkpoints: z.array(Checkpoint),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The machine state (e.g. DEPLOYING, RELEASED); status is its coarse form. */
  state: z.string(),
  appId: z.number().int(),
  iterationId: z.number().int(),
  deployId: z.string().nullable(),
  currentRetries: z.number().int(),
  stageConfigs: z.record(z.string(), z.unknown()),
  tag: z.string().nullable(),
  rollback: z.boolean(),
  awaiting: Awaiting,
  queued: z.boolean(),
});
export type Pipeline = z.infer<typeof Pipeline>;

export const ListPipelinesQuery = PageQuery.extend({
  refId: z.coerce.number().int().positive().optional(),
  parentId: z.coerce.number().int().positive().optional(),
  appId: z.coerce.number().int().positive().optional(),
  type: PipelineType.optional(),
  status: PipelineStatus.optional(),
});
export type ListPipelinesQuery = z.infer<typeof ListPipelinesQuery>;

/** Optional body of the pipeline actions. */
export const PipelineActionBody = z
  .object({ reason: z.string().trim().max(500).optional() })
  .nullish()
  .transform((v) => v ?? {});
export type PipelineActionBody = z.infer<typeof PipelineActionBody>;

/** Seed 3.9 response. */
export const ProceedPipelineResponse = z.object({
  pipelineId: z.number().int(),
  previousStage: StageName,
  currentStage: StageName,
});
export type ProceedPipelineResponse = z.infer<typeof ProceedPipelineResponse>;

/** Seed 3.8 response. */
export const RetryPipelineResponse = z.object({
  pipelineId: z.number().int(),
  currentStage: PhaseStage,
  retryCount: z.number().int(),
  maxRetries: z.number().int(),
});
export type RetryPipelineResponse = z.infer<typeof RetryPipelineResponse>;

/** Seed 3.6 response. */
export const ResumePipelineResponse = z.object({
  pipelineId: z.number().int(),
  status: PipelineStatus,
  resumeFromStage: PhaseStage,
});
export type ResumePipelineResponse = z.infer<typeof ResumePipelineResponse>;

export const CancelPipelineResponse = z.object({
  pipelineId: z.number().int(),
  status: PipelineStatus,
  previousState: z.string(),
});
export type CancelPipelineResponse = z.infer<typeof CancelPipelineResponse>;
