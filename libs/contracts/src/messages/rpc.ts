import { z } from "zod";
import {
  GitType,
  IterationMachineState,
  IterationStatus,
  PhaseStage,
  PipelineStatus,
  TargetPhase,
} from "../enums.js";
import { StageLogLine } from "../http/logs.js";
import { Actor } from "../message.js";

/** Request/reply envelope: the same fields as a message, minus the stream. */
export function RpcRequest<S extends z.ZodType>(data: S) {
  return z.object({ id: z.uuid(), correlationId: z.string().min(1).max(200), data });
}

/** A reply is either data or an error with a product code (e.g. 2001) and a message. */
export function RpcReply<S extends z.ZodType>(data: S) {
  return z.discriminatedUnion("ok", [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: z.object({ code: z.number().int(), message: z.string() }) }),
  ]);
}

export const ProceedIterationRequest = z.object({
  iterationId: z.number().int().positive(),
  appId: z.number().int().positive(),
  /** The app's next phase; the engine judges it (docs/architecture.md, "Iterations and releases"). */
  targetPhase: TargetPhase,
  /** RELEASE only: the iteration_phase row dev-svc recorded, with its tag. */
  release: z
    .object({
      iterationPhaseId: z.number().int().positive(),
      tag: z.string(),
      branch: z.string(),
      commitId: z.string().nullable(),
      rollback: z.boolean(),
    })
    .optional(),
  actor: Actor,
});
export type ProceedIterationRequest = z.infer<typeof ProceedIterationRequest>;

export const ProceedIterationReply = z.object({
  iterationId: z.number().int().positive(),
  iterationPipelineId: z.number().int().positive(),
  currentPhase: IterationMachineState,
  phasePipelineId: z.number().int().positive().nullable(),
  phasePipelineStatus: PipelineStatus.nullable(),
  /** The iteration's status after the move, as the engine derives it. */
  iterationStatus: IterationStatus,
});
export type ProceedIterationReply = z.infer<typeof ProceedIterationReply>;

/**
 * Whether `credentialId` names a credential of `team` usable for a `gitType` repository; app-svc asks
 * before it stores one (POST /apps, PUT procode-config), so a wrong id is refused at once instead of
 * surfacing later as a binding that waits for a credential.
 */
export const CheckCredentialRequest = z.object({
  team: z.string().min(1).max(100),
  credentialId: z.string().min(1).max(100),
  gitType: GitType,
});
export type CheckCredentialRequest = z.infer<typeof CheckCredentialRequest>;

export const CheckCredentialReply = z.object({
  usable: z.boolean(),
  /** Why not, in words fit for the caller (never another team's data). */
  reason: z.string().nullable(),
});
export type CheckCredentialReply = z.infer<typeof CheckCredentialReply>;

/** Where a page of stage log lines ends: the next page starts after this line. */
const StageLogCursor = z.object({
  stage: PhaseStage,
  attempt: z.number().int().min(1),
  seq: z.number().int().min(1),
});

/**
 * The engine asks the service that ran a pipeline's stages for their log lines (dev-svc for
 * CODE_CHECK, BUILD and PACKAGE, ops-gateway for DEPLOY), a page at a time: a page stays well below
 * NATS's largest message, and `next` says where the following one starts. `team` is the pipeline's,
 * already checked by the engine; the owner keeps to it as well.
 */
export const ReadStageLogsRequest = z.object({
  pipelineId: z.number().int().positive(),
  team: z.string().min(1).max(100),
  stage: PhaseStage.optional(),
  attempt: z.number().int().min(1).optional(),
  after: StageLogCursor.optional(),
});
export type ReadStageLogsRequest = z.infer<typeof ReadStageLogsRequest>;

export const ReadStageLogsReply = z.object({
  lines: z.array(StageLogLine),
  /** An attempt of the selection was cut at its bound. */
  truncated: z.boolean(),
  next: StageLogCursor.nullable(),
});
export type ReadStageLogsReply = z.infer<typeof ReadStageLogsReply>;
