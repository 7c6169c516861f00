import { z } from "zod";
import { PhaseStage, StageOutcome } from "../enums.js";
import { defineMessage } from "../message.js";
import { DeployConfig } from "../settings.js";
import { StageConfig } from "../stage-config.js";

/** One check CODE_CHECK ran, with where it failed when it did. */
export const CodeCheckResult = z.object({
  name: z.string(),
  passed: z.boolean(),
  message: z.string(),
  file: z.string().optional(),
  line: z.number().int().optional(),
});
export type CodeCheckResult = z.infer<typeof CodeCheckResult>;

/** What each stage leaves in its checkpoint, which is also an input of the later stages. */
export const CodeCheckOutput = z.object({
  commitId: z.string(),
  checks: z.array(CodeCheckResult),
  dependencyFile: z.string().optional(),
  entryPoint: z.string().optional(),
  pythonVersion: z.string().optional(),
  /** The commit has evaluation cases (`evals/*.jsonl`): the quality gate runs unless its setting says not to. */
  evals: z.boolean().optional(),
});
export type CodeCheckOutput = z.infer<typeof CodeCheckOutput>;

export const BuildOutput = z.object({
  dockerfile: z.string(),
  baseImage: z.string().optional(),
});
export type BuildOutput = z.infer<typeof BuildOutput>;

export const PackageOutput = z.object({
  image: z.string(),
  digest: z.string().optional(),
  buildId: z.string().optional(),
});
export type PackageOutput = z.infer<typeof PackageOutput>;

/** What a QUALITY_GATE attempt leaves in its checkpoint (docs/quality-gate.md, "Answers"). */
export const QualityGateOutput = z.object({
  reportId: z.number().int().positive(),
  verdict: z.enum(["PASS", "BLOCK", "CONFIGURATION_ERROR"]),
  passRate: z.number().min(0).max(1).optional(),
  cases: z.number().int().min(0).optional(),
  passed: z.number().int().min(0).optional(),
  newlyFailing: z.array(z.string()).optional(),
  /** BLOCK: one line per broken rule. */
  reasons: z.array(z.string()).optional(),
  /** CONFIGURATION_ERROR: what is wrong with the case set. */
  problems: z.array(z.string()).optional(),
});
export type QualityGateOutput = z.infer<typeof QualityGateOutput>;

export const DeployOutput = z.object({
  deployId: z.string(),
  message: z.string().optional(),
});
export type DeployOutput = z.infer<typeof DeployOutput>;

/** Outputs of the stages that succeeded so far, by stage. */
export const StageInputs = z.object({
  CODE_CHECK: CodeCheckOutput.optional(),
  BUILD: BuildOutput.optional(),
  PACKAGE: PackageOutput.optional(),
  QUALITY_GATE: QualityGateOutput.optional(),
});
export type StageInputs = z.infer<typeof StageInputs>;

export const StageError = z.object({
  message: z.string(),
  /** Which check, file, or outside call failed. */
  details: z.record(z.string(), z.unknown()).optional(),
  /** False when re-running cannot help (e.g. a syntax error); the engine still follows the stage config. */
  retryable: z.boolean().default(true),
});
export type StageError = z.infer<typeof StageError>;

export const StageRequested = defineMessage({
  type: "stage.requested.v1",
  kind: "command",
  perStage: true,
  data: z.object({
    pipelineId: z.number().int().positive(),
    stage: PhaseStage,
    /** 1 for the first run of a stage; each retry or resume of it adds one. */
    attempt: z.number().int().min(1),
    appId: z.number().int().positive(),
    team: z.string(),
    iterationId: z.number().int().positive(),
    iterationPhaseId: z.number().int().positive(),
    tag: z.string(),
    rollback: z.boolean(),
    stageConfig: StageConfig,
    inputs: StageInputs,
    /** DEPLOY only: what ops receives as `config`. */
    deployConfig: DeployConfig.optional(),
  }),
  publisher: "pipeline-engine",
  consumers: ["dev-svc", "ops-gateway"],
  description:
    "Run one attempt of a stage. CODE_CHECK, BUILD and PACKAGE are run by dev-svc, DEPLOY by ops-gateway. Re-published until a result arrives or the pipeline leaves the stage; runners are idempotent per (pipelineId, stage, attempt). dev-svc also follows every stage's requests for the release's commit statuses.",
});

export const StageWaiting = defineMessage({
  type: "stage.waiting.v1",
  kind: "event",
  data: z.object({
    pipelineId: z.number().int().positive(),
    stage: PhaseStage,
    attempt: z.number().int().min(1),
    /** What the attempt waits for (the outside system and its answer); null: it goes on. */
    reason: z.string().nullable(),
    /** When the runner saw it; a report older than the one shown changes nothing. */
    at: z.string(),
  }),
  publisher: "dev-svc",
  consumers: ["pipeline-engine"],
  description:
    "A CODE_CHECK, BUILD or PACKAGE attempt waits for an outside system that does not answer (the image builder, a git provider), or goes on again. The engine shows it on the attempt's checkpoint (`waiting`, stage state WAITING_OPS) and in the live pipeline event; nothing fails for it.",
});

export const StageCompleted = defineMessage({
  type: "stage.completed.v1",
  kind: "event",
  data: z.object({
    pipelineId: z.number().int().positive(),
    stage: PhaseStage,
    attempt: z.number().int().min(1),
    outcome: StageOutcome,
    output: z.record(z.string(), z.unknown()).nullable(),
    error: StageError.nullable(),
    startedAt: z.string(),
    finishedAt: z.string(),
  }),
  publisher: "dev-svc",
  consumers: ["pipeline-engine"],
  description:
    "The result of one stage attempt with its output (CODE_CHECK commitId and checks, BUILD dockerfile, PACKAGE image). A result for an attempt that is no longer current changes nothing.",
});
