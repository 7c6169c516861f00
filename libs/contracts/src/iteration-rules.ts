import {
  TargetPhase,
  type IterationMachineState,
  type IterationPhase,
  type IterationStatus,
  type PipelineStatus,
} from "./enums.js";
import type { ErrorName } from "./errors.js";
import { nextPhase, normalizePhases } from "./settings.js";

/**
 * The iteration's rules, in one place (docs/architecture.md, "Iterations and releases"): the order
 * of its phases, its status, and why a proceed or a release is refused, with the product's code and
 * a message naming the problem. Pure: pipeline-engine judges with them; dev-svc checks the same
 * rules before it creates a tag, with what it last heard from the engine.
 */

/** A refusal with the product's code and a message naming the problem. */
export interface IterationRefusal {
  kind: Extract<ErrorName, "PHASE_CANNOT_PROCEED" | "INVALID_TARGET_PHASE" | "PRECONDITION_FAILED">;
  message: string;
}

/** How far along the iteration machine a state is (it only moves forward). */
export const ITERATION_STATE_RANK: Readonly<Record<IterationMachineState, number>> = {
  PENDING: 0,
  DEVELOPING: 1,
  TESTING: 2,
  STAGING: 3,
  RELEASE: 4,
  RELEASED: 5,
  CANCELLED: 6,
};

/** The iteration's status from its machine state and the status of its latest release. */
export function iterationStatusOf(
  state: IterationMachineState,
  latestRelease: PipelineStatus | null,
): IterationStatus {
  switch (state) {
    case "PENDING":
      return "DRAFT";
    case "DEVELOPING":
    case "TESTING":
    case "STAGING":
      return state;
    case "CANCELLED":
      return "FAILED";
    case "RELEASE":
    case "RELEASED":
      if (latestRelease === "FAILED" || latestRelease === "CANCELLED") return "FAILED";
      if (latestRelease === "SUCCESS") return "RELEASED";
      if (latestRelease === null) return state === "RELEASED" ? "RELEASED" : "RELEASING";
      return "RELEASING";
  }
}

/** A target phase that is not a phase at all, or not one of the app's phases (2002). */
export function targetPhaseRefusal(
  raw: string,
  phases: readonly IterationPhase[],
): { refusal: IterationRefusal; target?: undefined } | { refusal: null; target: TargetPhase } {
  const target = TargetPhase.safeParse(raw);
  if (!target.success) {
    return {
      refusal: {
        kind: "INVALID_TARGET_PHASE",
        message: `targetPhase: must be one of ${TargetPhase.options.join(", ")} (got "${raw.slice(0, 50)}")`,
      },
    };
  }
  const own = normalizePhases(phases);
  if (!own.includes(target.data)) {
    return {
      refusal: {
        kind: "INVALID_TARGET_PHASE",
        message: `targetPhase: ${target.data} is not a phase of this app (phases: ${own.join(", ")})`,
      },
    };
  }
  return { refusal: null, target: target.data };
}

/**
 * Moving an iteration to `target`, a phase other than RELEASE (that one is a release). An iteration
 * in RELEASE, RELEASED or CANCELLED moves no more (2001); the target must be the app's next phase
 * (2002). Who may know less than the engine (dev-svc, which hears of moves a little later) asks
 * only `ahead`: a target not ahead of the current phase is refused, whether it is the next one is
 * left to the engine.
 */
export function proceedRefusal(input: {
  iterationId: number;
  /** The iteration machine's state; PENDING counts as DEVELOPING (it is started when moved). */
  state: IterationMachineState;
  phases: readonly IterationPhase[];
  target: Exclude<TargetPhase, "RELEASE">;
  rule: "next" | "ahead";
}): IterationRefusal | null {
  const { iterationId: id, target } = input;
  const state = input.state === "PENDING" ? "DEVELOPING" : input.state;
  if (state === "RELEASE" || state === "RELEASED" || state === "CANCELLED") {
    return { kind: "PHASE_CANNOT_PROCEED", message: `iteration ${id} is ${state} and cannot proceed` };
  }
  if (ITERATION_STATE_RANK[target] <= ITERATION_STATE_RANK[state]) {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: iteration ${id} is already in ${state}; ${target} is not ahead of it`,
    };
  }
  const next = nextPhase(input.phases, state);
  if (input.rule === "next" && next !== target) {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: iteration ${id} is in ${state}; the next phase is ${next ?? "none"}, not ${target}`,
    };
  }
  return null;
}

/** The iteration's latest release, as the release rules need it. */
export interface LatestRelease {
  tag: string | null;
  status: PipelineStatus;
}

/**
 * Releasing a tag (entering RELEASE, releasing again after a failure, or rolling back to an older
 * tag): a cancelled iteration releases nothing; a rollback needs something released before and no
 * release running; an iteration RELEASED takes only rollbacks; in RELEASE, a release runs at most
 * once at a time and a succeeded one is final; before RELEASE, RELEASE must be the next phase.
 */
export function releaseRefusal(input: {
  iterationId: number;
  state: IterationMachineState;
  phases: readonly IterationPhase[];
  latest: LatestRelease | null;
  rollback: boolean;
}): IterationRefusal | null {
  const { iterationId: id, latest } = input;
  const state = input.state === "PENDING" ? "DEVELOPING" : input.state;
  const running =
    latest && (latest.status === "PENDING" || latest.status === "RUNNING")
      ? `release ${latest.tag ?? ""} of iteration ${id} is still ${latest.status}`
      : null;
  if (state === "CANCELLED") {
    return { kind: "PHASE_CANNOT_PROCEED", message: `iteration ${id} was cancelled` };
  }
  if (input.rollback) {
    if (state !== "RELEASE" && state !== "RELEASED") {
      return {
        kind: "PHASE_CANNOT_PROCEED",
        message: `iteration ${id} is in ${state}: nothing was released yet to roll back`,
      };
    }
    return running ? { kind: "PHASE_CANNOT_PROCEED", message: running } : null;
  }
  if (state === "RELEASED") {
    return {
      kind: "PHASE_CANNOT_PROCEED",
      message: `iteration ${id} is already RELEASED; release an older tag as a rollback instead`,
    };
  }
  if (state === "RELEASE") {
    if (running) return { kind: "PHASE_CANNOT_PROCEED", message: running };
    if (latest?.status === "SUCCESS") {
      return { kind: "PHASE_CANNOT_PROCEED", message: `iteration ${id} is already released` };
    }
    return null;
  }
  const next = nextPhase(input.phases, state);
  if (next !== "RELEASE") {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: iteration ${id} is in ${state}; the next phase is ${next ?? "none"}, not RELEASE (proceed to ${next ?? "it"} first)`,
    };
  }
  return null;
}

/**
 * Where `POST /pipelines/{id}/proceed` takes an iteration pipeline: the app's next phase, under the
 * rules of `POST /iterations/{id}/proceed`. RELEASE is refused (2003) because entering it needs a
 * tag, which only the iteration's release carries; a finished or releasing iteration cannot
 * proceed (2001).
 */
export function pipelineProceedTarget(
  iterationId: number,
  state: IterationMachineState,
  phases: readonly IterationPhase[],
):
  | {
      from: "DEVELOPING" | "TESTING" | "STAGING";
      target: Exclude<TargetPhase, "RELEASE">;
      refusal?: undefined;
    }
  | { refusal: IterationRefusal } {
  const from = state === "DEVELOPING" || state === "TESTING" || state === "STAGING" ? state : null;
  const next = from ? nextPhase(phases, from) : null;
  if (!next || next === "DEVELOPING") {
    return {
      refusal: {
        kind: "PHASE_CANNOT_PROCEED",
        message: `iteration ${iterationId} is ${state} and cannot proceed`,
      },
    };
  }
  if (next === "RELEASE") {
    return {
      refusal: {
        kind: "PRECONDITION_FAILED",
        message: `entering RELEASE needs a tag: POST /iterations/${iterationId}/release with {"tag": "v1.0.0"}`,
      },
    };
  }
  return { from: from!, target: next };
}
