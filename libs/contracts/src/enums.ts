import { z } from "zod";

/** How an app is developed (seed 3.1). */
export const DevMode = z.enum(["low-code", "pro-code"]);
export type DevMode = z.infer<typeof DevMode>;

/** Tech stacks a pro-code app may declare (seed 3.1: enum `python`). */
export const TechStack = z.enum(["python"]);
export type TechStack = z.infer<typeof TechStack>;

/** Git hosting of an app's repository (seed 1.2 + SPEC 10 LOCAL). */
export const GitType = z.enum(["GITLAB", "GITHUB", "GITEE", "LOCAL"]);
export type GitType = z.infer<typeof GitType>;

/** The phases of an iteration, in order (SPEC 4). */
export const IterationPhase = z.enum(["DEVELOPING", "TESTING", "STAGING", "RELEASE"]);
export type IterationPhase = z.infer<typeof IterationPhase>;
export const ITERATION_PHASE_ORDER: readonly IterationPhase[] = [
  "DEVELOPING",
  "TESTING",
  "STAGING",
  "RELEASE",
];

/** Phases a caller may ask an iteration to proceed to (seed 3.7). */
export const TargetPhase = z.enum(["TESTING", "STAGING", "RELEASE"]);
export type TargetPhase = z.infer<typeof TargetPhase>;

/**
 * Status of an iteration as dev-svc shows it. DRAFT until its iteration pipeline reaches DEVELOPING;
 * RELEASING while a phase pipeline runs; FAILED when the latest phase pipeline failed or was
 * cancelled (a resume or a new release can still complete it).
 */
export const IterationStatus = z.enum([
  "DRAFT",
  "DEVELOPING",
  "TESTING",
  "STAGING",
  "RELEASING",
  "RELEASED",
  "FAILED",
]);
export type IterationStatus = z.infer<typeof IterationStatus>;

export const PipelineType = z.enum(["ITERATION", "PHASE"]);
export type PipelineType = z.infer<typeof PipelineType>;

/** Coarse status of any pipeline (seed 3.4/3.5 use RUNNING while a pipeline is under way). */
export const PipelineStatus = z.enum(["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]);
export type PipelineStatus = z.infer<typeof PipelineStatus>;

/** States of the iteration machine (seed 2.3), plus CANCELLED. */
export const IterationMachineState = z.enum([
  "PENDING",
  "DEVELOPING",
  "TESTING",
  "STAGING",
  "RELEASE",
  "RELEASED",
  "CANCELLED",
]);
export type IterationMachineState = z.infer<typeof IterationMachineState>;

/** States of the phase machine (seed 2.3), plus CANCELLED. */
export const PhaseMachineState = z.enum([
  "PENDING",
  "RUNNING",
  "CODE_CHECK",
  "BUILD",
  "PACKAGE",
  "DEPLOY",
  "DEPLOYING",
  "SUCCESS",
  "FAILED",
  "CANCELLED",
]);
export type PhaseMachineState = z.infer<typeof PhaseMachineState>;

/** The stages of a phase pipeline, in order. */
export const PhaseStage = z.enum(["CODE_CHECK", "BUILD", "PACKAGE", "DEPLOY"]);
export type PhaseStage = z.infer<typeof PhaseStage>;
export const PHASE_STAGE_ORDER: readonly PhaseStage[] = ["CODE_CHECK", "BUILD", "PACKAGE", "DEPLOY"];

/** Any stage name of either pipeline type (stage_configs keys). */
export const StageName = z.enum([...IterationPhase.options, ...PhaseStage.options]);
export type StageName = z.infer<typeof StageName>;

/** Seed 2.5: how a stage's success moves the pipeline on. */
export const DriveMode = z.enum(["MANUAL", "AUTO", "ASYNC"]);
export type DriveMode = z.infer<typeof DriveMode>;

/** Seed 2.5: whether a failed stage is re-run by itself. */
export const RetryMode = z.enum(["AUTO", "MANUAL"]);
export type RetryMode = z.infer<typeof RetryMode>;

/**
 * Sub-status of the DEPLOY stage (seed 4.1 deploy_status). WAITING_OPS: the ops module did not answer
 * yet (seed 6.1: the pipeline waits at DEPLOY, nothing fails for that alone).
 */
export const DeployStatus = z.enum([
  "PENDING",
  "WAITING_OPS",
  "DEPLOYING",
  "DEPLOY_SUCCESS",
  "DEPLOY_FAILED",
  "DEPLOY_TIMEOUT",
  "DEPLOY_CANCELLED",
]);
export type DeployStatus = z.infer<typeof DeployStatus>;

/** Status of one stage attempt as recorded in a checkpoint. */
export const CheckpointStatus = z.enum(["RUNNING", "SUCCESS", "FAILED", "CANCELLED"]);
export type CheckpointStatus = z.infer<typeof CheckpointStatus>;

/** What a stage result says. */
export const StageOutcome = z.enum(["SUCCESS", "FAILED"]);
export type StageOutcome = z.infer<typeof StageOutcome>;

/** What to do with a second release of an app while one runs (SPEC 4 concurrency policy). */
export const ConcurrencyPolicy = z.enum(["QUEUE", "REJECT"]);
export type ConcurrencyPolicy = z.infer<typeof ConcurrencyPolicy>;

/** Status of a deployment as the ops module reports it (seed 3.10). */
export const OpsDeployStatus = z.enum(["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]);
export type OpsDeployStatus = z.infer<typeof OpsDeployStatus>;

/** State of an app's repository binding in dev-svc. */
export const RepoBindingState = z.enum(["PENDING", "BOUND", "NEEDS_CREDENTIAL", "ERROR"]);
export type RepoBindingState = z.infer<typeof RepoBindingState>;

/** State of the scaffold push for an app bound with a scaffoldTemplate. */
export const ScaffoldState = z.enum(["NOT_REQUESTED", "PENDING", "PUSHED", "SKIPPED_NOT_EMPTY", "FAILED"]);
export type ScaffoldState = z.infer<typeof ScaffoldState>;

/** Phase type of an iteration_phase row (seed 4.1). */
export const IterationPhaseStatus = z.enum(["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]);
export type IterationPhaseStatus = z.infer<typeof IterationPhaseStatus>;
