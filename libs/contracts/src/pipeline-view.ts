/**
 * How a person sees a pipeline's stages: one rule for the CLI's `watch` and the web console, so
 * both draw the same state with the same symbol and word. Runtime code here imports nothing (only
 * types), so the console can bundle it without zod.
 */
import type { Checkpoint, Pipeline } from "./http/pipelines.js";
import type { StageConfig } from "./stage-config.js";

/** The stages of a phase pipeline, in order. */
/** QUALITY_GATE runs only where it is on (`qualityGateOn`); the others always run. */
export const PHASE_STAGES = ["CODE_CHECK", "BUILD", "PACKAGE", "QUALITY_GATE", "DEPLOY"] as const;
/** The phases of an iteration, in order (the stages of an iteration pipeline). */
export const ITERATION_PHASES = ["DEVELOPING", "TESTING", "STAGING", "RELEASE"] as const;

/**
 * Whether a phase pipeline runs the agent quality gate (docs/quality-gate.md): as its QUALITY_GATE
 * setting says when that says so (`enabled`), else when CODE_CHECK found evaluation cases at the
 * release commit (`evals` in its output). A pipeline created before the stage existed has no setting
 * for it and never runs it. The engine decides with this; the CLI and the console show the stage by it.
 */
export function qualityGateOn(p: {
  stageConfigs: Readonly<Record<string, { enabled?: boolean | undefined } | undefined>>;
  checkpoints: readonly Pick<Checkpoint, "stage" | "status" | "output">[];
}): boolean {
  const config = p.stageConfigs["QUALITY_GATE"];
  if (!config) return false;
  if (config.enabled !== undefined) return config.enabled;
  const checked = p.checkpoints.filter((c) => c.stage === "CODE_CHECK" && c.status === "SUCCESS").at(-1);
  return checked?.output?.["evals"] === true;
}

/** The stages a pipeline shows, in order: QUALITY_GATE only where it runs (or ran). */
export function stagesOf(p: Pick<Pipeline, "type"> & Parameters<typeof qualityGateOn>[0]): readonly string[] {
  if (p.type !== "PHASE") return ITERATION_PHASES;
  const gate = qualityGateOn(p) || p.checkpoints.some((c) => c.stage === "QUALITY_GATE");
  return gate ? PHASE_STAGES : PHASE_STAGES.filter((s) => s !== "QUALITY_GATE");
}

export type StageView = "pending" | "running" | "succeeded" | "failed" | "waiting" | "cancelled";

/** Symbol, word and colour of each view; never colour alone. */
export const STAGE_VIEWS: Record<
  StageView,
  { symbol: string; word: string; tone: "green" | "cyan" | "red" | "yellow" | "dim" }
> = {
  pending: { symbol: "○", word: "pending", tone: "dim" },
  running: { symbol: "●", word: "running", tone: "cyan" },
  succeeded: { symbol: "✔", word: "succeeded", tone: "green" },
  failed: { symbol: "✖", word: "failed", tone: "red" },
  waiting: { symbol: "◆", word: "waiting for a person", tone: "yellow" },
  cancelled: { symbol: "■", word: "cancelled", tone: "dim" },
};

/** What a stage view needs of a pipeline (the API's Pipeline has all of it). */
export type PipelineStages = Pick<Pipeline, "status" | "currentStage" | "awaiting"> & {
  checkpoints: readonly Pick<Checkpoint, "stage" | "status" | "attempt">[];
};

/**
 * The view of one stage: its latest attempt decides, and the pipeline's awaiting/state refine it. A
 * stage that waits at a MANUAL gate is "waiting"; a failed one stays "failed" (with its error) even
 * while the pipeline waits for a retry or resume: the next step is said beside it, not instead of it.
 */
export function stageView<P extends PipelineStages>(
  p: P,
  stage: string,
): { view: StageView; latest: P["checkpoints"][number] | undefined; attempts: P["checkpoints"][number][] } {
  const attempts = p.checkpoints.filter((c) => c.stage === stage);
  const latest = attempts[attempts.length - 1];
  const view = ((): StageView => {
    if (p.awaiting?.action === "PROCEED" && p.awaiting.stage === stage) return "waiting";
    if (!latest) return p.status === "RUNNING" && p.currentStage === stage ? "running" : "pending";
    if (latest.status === "SUCCESS") return "succeeded";
    if (latest.status === "FAILED")
      return p.currentStage === stage && p.status === "RUNNING" ? "running" : "failed";
    if (latest.status === "CANCELLED") return "cancelled";
    return p.status === "CANCELLED" ? "cancelled" : "running";
  })();
  return { view, latest, attempts };
}

/** The view of a whole pipeline from its coarse status and what it waits for. */
export function pipelineView(p: Pick<Pipeline, "status" | "awaiting">): StageView {
  if (p.awaiting) return p.awaiting.action === "PROCEED" ? "waiting" : "failed";
  switch (p.status) {
    case "SUCCESS":
      return "succeeded";
    case "FAILED":
      return "failed";
    case "CANCELLED":
      return "cancelled";
    case "RUNNING":
      return "running";
    default:
      return "pending";
  }
}

/**
 * Whether the failed stage may be retried once more (docs/api.md "Retry and resume"): an AUTO stage
 * while the engine's own retries are not used up (`currentRetries` < `maxRetries`); a MANUAL stage
 * waits for a person, and its `maxRetries` bounds those manual retries, 0 meaning no bound. The
 * engine refuses a retry outside the budget with 3002, and resume starts the stage afresh.
 */
export function isWithinRetryBudget(
  config: Pick<StageConfig, "retryMode" | "maxRetries">,
  currentRetries: number,
): boolean {
  if (config.retryMode === "MANUAL" && config.maxRetries === 0) return true;
  return currentRetries < config.maxRetries;
}

/** Whether `POST /pipelines/{id}/retry` is accepted now: a failure waits, within its retry budget. */
export function isRetryAccepted(p: Pick<Pipeline, "awaiting" | "stageConfigs" | "currentRetries">): boolean {
  if (p.awaiting?.action !== "RETRY_OR_RESUME") return false;
  const config = p.stageConfigs[p.awaiting.stage];
  return config !== undefined && isWithinRetryBudget(config, p.currentRetries);
}

export function isFinished(p: Pick<Pipeline, "status">): boolean {
  return p.status === "SUCCESS" || p.status === "FAILED" || p.status === "CANCELLED";
}

/** A duration as people read it: 42s, 3m05s, 1h02m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
