import { z } from "zod";
import { ITERATION_PHASES, PHASE_STAGES } from "./pipeline-view.js";

/** How an app is developed. */
export const DevMode = z.enum(["low-code", "pro-code"]).meta({ id: "DevMode" });
export type DevMode = z.infer<typeof DevMode>;

/** Tech stacks a pro-code app may declare (enum `python`). */
export const TechStack = z.enum(["python"]).meta({ id: "TechStack" });
export type TechStack = z.infer<typeof TechStack>;

/** Git hosting of an app's repository (GitLab, GitHub, Gitee, or LOCAL on this machine). */
export const GitType = z.enum(["GITLAB", "GITHUB", "GITEE", "LOCAL"]).meta({ id: "GitType" });
export type GitType = z.infer<typeof GitType>;

/** Hosted providers need a token (webhooks, tags, private reads); LOCAL repositories do not. */
export function needsCredential(gitType: GitType): boolean {
  return gitType !== "LOCAL";
}

/** The phases of an iteration, in order. */
export const IterationPhase = z.enum(ITERATION_PHASES).meta({ id: "IterationPhase" });
export type IterationPhase = z.infer<typeof IterationPhase>;
export const ITERATION_PHASE_ORDER: readonly IterationPhase[] = ITERATION_PHASES;

/** Phases a caller may ask an iteration to proceed to. */
export const TargetPhase = z.enum(["TESTING", "STAGING", "RELEASE"]).meta({ id: "TargetPhase" });
export type TargetPhase = z.infer<typeof TargetPhase>;

/**
 * Status of an iteration as dev-svc shows it. DRAFT until its iteration pipeline reaches DEVELOPING;
 * RELEASING while a phase pipeline runs; FAILED when the latest phase pipeline failed or was
 * cancelled (a resume or a new release can still complete it).
 */
export const IterationStatus = z
  .enum(["DRAFT", "DEVELOPING", "TESTING", "STAGING", "RELEASING", "RELEASED", "FAILED"])
  .meta({ id: "IterationStatus" });
export type IterationStatus = z.infer<typeof IterationStatus>;

export const PipelineType = z.enum(["ITERATION", "PHASE"]).meta({ id: "PipelineType" });
export type PipelineType = z.infer<typeof PipelineType>;

/** Coarse status of any pipeline (RUNNING while a pipeline is under way). */
export const PipelineStatus = z
  .enum(["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"])
  .meta({ id: "PipelineStatus" });
export type PipelineStatus = z.infer<typeof PipelineStatus>;

/** States of the iteration machine, plus CANCELLED. */
export const IterationMachineState = z
  .enum(["PENDING", "DEVELOPING", "TESTING", "STAGING", "RELEASE", "RELEASED", "CANCELLED"])
  .meta({ id: "IterationMachineState" });
export type IterationMachineState = z.infer<typeof IterationMachineState>;

/** States of the phase machine, plus CANCELLED. */
export const PhaseMachineState = z
  .enum([
    "PENDING",
    "RUNNING",
    "CODE_CHECK",
    "BUILD",
    "PACKAGE",
    "QUALITY_GATE",
    "DEPLOY",
    "DEPLOYING",
    "SUCCESS",
    "FAILED",
    "CANCELLED",
  ])
  .meta({ id: "PhaseMachineState" });
export type PhaseMachineState = z.infer<typeof PhaseMachineState>;

/** The machine state of a pipeline of either type (`Pipeline.state`). */
export const PipelineState = z
  .enum([
    ...IterationMachineState.options,
    ...PhaseMachineState.options.filter(
      (s): s is Exclude<PhaseMachineState, IterationMachineState> =>
        !(IterationMachineState.options as readonly string[]).includes(s),
    ),
  ])
  .meta({ id: "PipelineState" });
export type PipelineState = z.infer<typeof PipelineState>;

/** The stages of a phase pipeline, in order. */
export const PhaseStage = z.enum(PHASE_STAGES).meta({ id: "PhaseStage" });
export type PhaseStage = z.infer<typeof PhaseStage>;
export const PHASE_STAGE_ORDER: readonly PhaseStage[] = PHASE_STAGES;

/** Any stage name of either pipeline type (stage_configs keys). */
export const StageName = z.enum([...IterationPhase.options, ...PhaseStage.options]).meta({ id: "StageName" });
export type StageName = z.infer<typeof StageName>;

/** How a stage's success moves the pipeline on. */
export const DriveMode = z.enum(["MANUAL", "AUTO", "ASYNC"]).meta({ id: "DriveMode" });
export type DriveMode = z.infer<typeof DriveMode>;

/** Whether a failed stage is re-run by itself. */
export const RetryMode = z.enum(["AUTO", "MANUAL"]).meta({ id: "RetryMode" });
export type RetryMode = z.infer<typeof RetryMode>;

/**
 * Sub-status of the DEPLOY stage (deploy_status). WAITING_OPS: the ops module did not answer
 * yet (the pipeline waits at DEPLOY, nothing fails for that alone).
 */
export const DeployStatus = z
  .enum([
    "PENDING",
    "WAITING_OPS",
    "DEPLOYING",
    "DEPLOY_SUCCESS",
    "DEPLOY_FAILED",
    "DEPLOY_TIMEOUT",
    "DEPLOY_CANCELLED",
  ])
  .meta({ id: "DeployStatus" });
export type DeployStatus = z.infer<typeof DeployStatus>;

/** Status of one stage attempt as recorded in a checkpoint. */
export const CheckpointStatus = z
  .enum(["RUNNING", "SUCCESS", "FAILED", "CANCELLED"])
  .meta({ id: "CheckpointStatus" });
export type CheckpointStatus = z.infer<typeof CheckpointStatus>;

/** What a stage result says. */
export const StageOutcome = z.enum(["SUCCESS", "FAILED"]).meta({ id: "StageOutcome" });
export type StageOutcome = z.infer<typeof StageOutcome>;

/** What to do with a second release of an app while one runs (the concurrency policy). */
export const ConcurrencyPolicy = z.enum(["QUEUE", "REJECT"]).meta({ id: "ConcurrencyPolicy" });
export type ConcurrencyPolicy = z.infer<typeof ConcurrencyPolicy>;

/** Status of a deployment as the ops module reports it. */
export const OpsDeployStatus = z
  .enum(["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"])
  .meta({ id: "OpsDeployStatus" });
export type OpsDeployStatus = z.infer<typeof OpsDeployStatus>;

/** State of an app's repository binding in dev-svc. */
export const RepoBindingState = z
  .enum(["PENDING", "BOUND", "NEEDS_CREDENTIAL", "ERROR"])
  .meta({ id: "RepoBindingState" });
export type RepoBindingState = z.infer<typeof RepoBindingState>;

/** State of the scaffold push for an app bound with a scaffoldTemplate. */
export const ScaffoldState = z
  .enum(["NOT_REQUESTED", "PENDING", "PUSHED", "SKIPPED_NOT_EMPTY", "FAILED"])
  .meta({ id: "ScaffoldState" });
export type ScaffoldState = z.infer<typeof ScaffoldState>;

/** Phase type of an iteration_phase row. */
export const IterationPhaseStatus = z
  .enum(["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"])
  .meta({ id: "IterationPhaseStatus" });
export type IterationPhaseStatus = z.infer<typeof IterationPhaseStatus>;
