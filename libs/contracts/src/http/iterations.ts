import { z } from "zod";
import {
  IterationMachineState,
  IterationPhase,
  IterationPhaseStatus,
  IterationStatus,
  PipelineStatus,
} from "../enums.js";
import { PageQuery } from "../envelope.js";

/** `v` + a semantic version, e.g. v1.0.0 or v2.1.0-rc.1 (SPEC 3). */
export const RELEASE_TAG_PATTERN =
  /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
export const ReleaseTag = z
  .string()
  .trim()
  .max(100)
  .regex(RELEASE_TAG_PATTERN, "must be 'v' followed by a semantic version, e.g. v1.0.0");

/** A branch name as git allows it (no spaces, no `..`, no control characters). */
export const BranchName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  // eslint-disable-next-line no-control-regex -- git forbids control characters in ref names
  .refine((b) => !/[\s~^:?*[\\\x00-\x1f\x7f]|\.\.|@\{|^[/.]|[/.]$|\.lock$|\/\//.test(b), {
    message: "is not a valid git branch name",
  });

/** Seed 3.3 body. */
export const CreateIterationRequest = z.object({
  appId: z.number().int().positive(),
  name: z.string().trim().min(1, "must be 1-100 characters").max(100, "must be 1-100 characters"),
  sourceBranch: BranchName,
});
export type CreateIterationRequest = z.infer<typeof CreateIterationRequest>;

/** One iteration_phase row (seed 4.1) with its pipeline. */
export const IterationPhaseRecord = z.object({
  id: z.number().int(),
  phaseType: IterationPhase,
  branch: z.string().nullable(),
  tag: z.string().nullable(),
  commitId: z.string().nullable(),
  status: IterationPhaseStatus,
  pipelineId: z.number().int().nullable(),
  rollback: z.boolean(),
  /** Why the release failed or was refused (the engine's error, or its refusal), else null. */
  reason: z.string().nullable(),
  createdAt: z.string(),
});
export type IterationPhaseRecord = z.infer<typeof IterationPhaseRecord>;

/** Seed 3.3 response (id, appId, name, status, sourceBranch) and the iteration's progress. */
export const Iteration = z.object({
  id: z.number().int(),
  appId: z.number().int(),
  name: z.string(),
  status: IterationStatus,
  sourceBranch: z.string(),
  currentPhase: IterationMachineState.nullable(),
  headCommit: z.string().nullable(),
  iterationPipelineId: z.number().int().nullable(),
  phasePipelineId: z.number().int().nullable(),
  phases: z.array(IterationPhaseRecord),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Iteration = z.infer<typeof Iteration>;

export const ListIterationsQuery = PageQuery.extend({ status: IterationStatus.optional() });
export type ListIterationsQuery = z.infer<typeof ListIterationsQuery>;

/**
 * Seed 3.7 body. targetPhase is checked by the domain, not the schema: an unknown or backwards
 * target is 2002 (not 1001). `tag` is needed when the target is RELEASE (else 2003).
 */
export const ProceedIterationBody = z.object({
  targetPhase: z.string().trim().min(1).max(50),
  tag: ReleaseTag.optional(),
});
export type ProceedIterationBody = z.infer<typeof ProceedIterationBody>;

/** Seed 3.7 response. */
export const ProceedIterationResponse = z.object({
  iterationId: z.number().int(),
  currentPhase: IterationMachineState,
  phasePipelineId: z.number().int().nullable(),
});
export type ProceedIterationResponse = z.infer<typeof ProceedIterationResponse>;

/** Seed 3.4 body. */
export const ReleaseRequest = z.object({ tag: ReleaseTag });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/**
 * Seed 3.4 response. pipelineId is null (status PENDING) when the release was recorded but
 * pipeline-engine has not answered yet; it starts as soon as the engine is back.
 */
export const ReleaseResponse = z.object({
  iterationId: z.number().int(),
  tag: z.string(),
  pipelineId: z.number().int().nullable(),
  status: PipelineStatus,
  iterationPhaseId: z.number().int(),
  commitId: z.string().nullable(),
  rollback: z.boolean(),
});
export type ReleaseResponse = z.infer<typeof ReleaseResponse>;
