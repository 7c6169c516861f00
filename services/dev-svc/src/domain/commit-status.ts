import { PHASE_STAGE_ORDER, type GitType, type PhaseStage, type PipelineStatus } from "@procode/contracts";

/**
 * Commit statuses of a release (docs/services/dev-svc.md "Commit statuses"): one context per stage
 * on the released commit, moved pending -> running -> success / failed / canceled by the engine's
 * events. Events arrive on two streams and may be redelivered or reordered, so each context keeps
 * an order key, (attempt, rank), and a state replaces the recorded one only when its key is higher:
 * a late "pending" or "running" never overwrites what came after it, while a new attempt of a stage
 * (retry, resume) does move a finished context again.
 */
export type CommitState = "pending" | "running" | "success" | "failed" | "canceled";

export interface StageStatus {
  stage: PhaseStage;
  state: CommitState;
  /** The stage's attempt the state is about (0 before its first run). */
  attempt: number;
  /** 0 pending, 1 running, 2 finished: orders states of one attempt. */
  rank: number;
  description: string;
  /**
   * Moves the context only where it exists: an optional stage (one the pipeline runs only when the
   * app uses it) gets its context from its own request, never from the pipeline's other events.
   */
  ifRun: boolean;
}

/** Stages a phase pipeline runs only for apps that use them (docs/quality-gate.md). */
const OPTIONAL_STAGES: readonly string[] = ["QUALITY_GATE"];

/** Above any real attempt: a stage that succeeded before a later one started is never run again. */
const SETTLED_ATTEMPT = 1_000_000;

/** Descriptions are kept short: providers show one line (GitHub and Gitee cut them at 140 characters). */
export const DESCRIPTION_MAX = 140;

const RANK: Record<CommitState, number> = { pending: 0, running: 1, success: 2, failed: 2, canceled: 2 };

/** The context a stage reports under, e.g. `procode/CODE_CHECK`. */
export const statusContext = (stage: PhaseStage) => `procode/${stage}`;

/** True when `next` comes after `current` in the context's order. */
export function isLater(
  next: Pick<StageStatus, "attempt" | "rank">,
  current: Pick<StageStatus, "attempt" | "rank">,
) {
  return next.attempt > current.attempt || (next.attempt === current.attempt && next.rank > current.rank);
}

function status(stage: PhaseStage, state: CommitState, attempt: number, description: string): StageStatus {
  const text = description.replace(/\s+/g, " ").trim();
  return {
    stage,
    state,
    attempt,
    rank: RANK[state],
    description: text.length > DESCRIPTION_MAX ? `${text.slice(0, DESCRIPTION_MAX - 1)}…` : text,
    ifRun: OPTIONAL_STAGES.includes(stage),
  };
}

const before = (stage: PhaseStage) => PHASE_STAGE_ORDER.slice(0, PHASE_STAGE_ORDER.indexOf(stage));
const after = (stage: PhaseStage) => PHASE_STAGE_ORDER.slice(PHASE_STAGE_ORDER.indexOf(stage) + 1);

/** Stages before `stage` succeeded: the engine moves to a stage only after the ones before it. */
const settledBefore = (stage: PhaseStage) =>
  before(stage).map((s) => status(s, "success", SETTLED_ATTEMPT, `${s} passed`));

/** Attempt `attempt` of `stage` was requested: it runs, and every stage before it passed. */
export function statusesForStageRequest(stage: PhaseStage, attempt: number): StageStatus[] {
  return [
    ...settledBefore(stage),
    {
      ...status(
        stage,
        "running",
        attempt,
        attempt > 1 ? `${stage} running (attempt ${attempt})` : `${stage} running`,
      ),
      // Its own request makes the context, optional stage or not.
      ifRun: false,
    },
  ];
}

/** What a phase pipeline's status change says about each stage. */
export interface PhaseStatusFacts {
  status: PipelineStatus;
  stage: PhaseStage | null;
  attempt: number;
  failedStage: PhaseStage | null;
  error: string | null;
}

export function statusesForPhase(f: PhaseStatusFacts): StageStatus[] {
  switch (f.status) {
    case "PENDING":
      return PHASE_STAGE_ORDER.map((s) => status(s, "pending", 0, "waiting to run"));
    case "RUNNING":
      if (!f.stage) return PHASE_STAGE_ORDER.map((s) => status(s, "pending", 0, "waiting to run"));
      return [
        ...statusesForStageRequest(f.stage, f.attempt),
        ...after(f.stage).map((s) => status(s, "pending", 0, "waiting to run")),
      ];
    case "SUCCESS":
      return PHASE_STAGE_ORDER.map((s) => status(s, "success", SETTLED_ATTEMPT, `${s} passed`));
    case "FAILED": {
      const failed = f.failedStage ?? f.stage;
      if (!failed) return [];
      // The stages after it did not run; a retry or resume that reaches them moves them on
      // (any attempt of theirs is later than 0).
      return [
        ...settledBefore(failed),
        status(failed, "failed", f.attempt, f.error ?? `${failed} failed`),
        ...after(failed).map((s) => status(s, "canceled", 0, `not run: ${failed} failed`)),
      ];
    }
    case "CANCELLED": {
      const reason = f.error ? `cancelled: ${f.error}` : "cancelled";
      if (!f.stage) return PHASE_STAGE_ORDER.map((s) => status(s, "canceled", 0, reason));
      return [
        ...settledBefore(f.stage),
        status(f.stage, "canceled", f.attempt, reason),
        ...after(f.stage).map((s) => status(s, "canceled", 0, `not run: ${reason}`)),
      ];
    }
  }
}

/**
 * A state in the provider's words. GitLab has all five; GitHub and Gitee know pending, success,
 * failure and error (a stage that runs is pending there, one that was cancelled or not run an error).
 */
export function providerState(gitType: GitType, state: CommitState): string {
  if (gitType === "GITLAB") return state;
  switch (state) {
    case "pending":
    case "running":
      return "pending";
    case "success":
      return "success";
    case "failed":
      return "failure";
    case "canceled":
      return "error";
  }
}

/** Whether a repository on this provider gets commit statuses (a LOCAL repository has no status API). */
export const hasCommitStatuses = (gitType: GitType) => gitType !== "LOCAL";
