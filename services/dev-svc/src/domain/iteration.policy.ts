import {
  nextPhase,
  normalizePhases,
  TargetPhase,
  type ErrorName,
  type IterationMachineState,
  type IterationPhase,
  type IterationPhaseStatus,
  type IterationStatus,
  type PipelineStatus,
} from "@procode/contracts";

/**
 * The rules dev-svc applies to iterations before it asks pipeline-engine, and when it merges what
 * the engine tells it. Pure: no I/O, so every case is a table row in the unit tests. The engine
 * stays the judge (it answers PROCEED_ITERATION with the same codes); these checks only refuse what
 * is certainly refused, before a tag is created or a request is sent.
 */

/** A refusal with the product's code and a message naming the problem. */
export interface Refusal {
  kind: Extract<ErrorName, "PHASE_CANNOT_PROCEED" | "INVALID_TARGET_PHASE" | "PRECONDITION_FAILED">;
  message: string;
}

const ORDER: Record<IterationMachineState, number> = {
  PENDING: 0,
  DEVELOPING: 1,
  TESTING: 2,
  STAGING: 3,
  RELEASE: 4,
  RELEASED: 5,
  CANCELLED: 6,
};

/** What dev-svc knows of an iteration's progress. */
export interface Progress {
  /** The iteration machine's state; null while DRAFT (nothing heard from the engine yet). */
  phase: IterationMachineState | null;
  /** The phase pipeline of the iteration's latest release, when known. */
  phasePipelineId: number | null;
}

/**
 * Whether `incoming` is at least as far as `stored`. The iteration machine only moves forward, and a
 * newer release always has a larger phase pipeline id, so (phase order, phase pipeline id) never goes
 * back; an event that would move it back was overtaken by a request's answer, and only its sequence
 * number is kept.
 */
export function isNotBehind(stored: Progress, incoming: Progress): boolean {
  const a = stored.phase === null ? -1 : ORDER[stored.phase];
  const b = incoming.phase === null ? -1 : ORDER[incoming.phase];
  if (b !== a) return b > a;
  return (incoming.phasePipelineId ?? 0) >= (stored.phasePipelineId ?? 0);
}

/** True when `incoming` is strictly further than `stored` (a request's answer moved the iteration). */
export function isAhead(stored: Progress, incoming: Progress): boolean {
  return isNotBehind(stored, incoming) && !isNotBehind(incoming, stored);
}

/** The iteration's status for a phase and its latest release (the engine's derivation, SPEC 4). */
export function iterationStatusOf(
  phase: IterationMachineState,
  latestRelease: PipelineStatus | null,
): IterationStatus {
  switch (phase) {
    case "PENDING":
      return "DRAFT";
    case "DEVELOPING":
    case "TESTING":
    case "STAGING":
      return phase;
    case "CANCELLED":
      return "FAILED";
    case "RELEASE":
    case "RELEASED":
      if (latestRelease === "FAILED" || latestRelease === "CANCELLED") return "FAILED";
      if (latestRelease === "SUCCESS") return "RELEASED";
      if (latestRelease === null) return phase === "RELEASED" ? "RELEASED" : "RELEASING";
      return "RELEASING";
  }
}

/** An iteration_phase row of a release, as the rules need it. */
export interface ReleaseRow {
  id: number;
  iterationId: number;
  tag: string | null;
  status: IterationPhaseStatus;
  pipelineId: number | null;
}

/** A release the engine refused: it never got a phase pipeline. */
export const isRefused = (r: ReleaseRow): boolean => r.status === "CANCELLED" && r.pipelineId === null;
const isActive = (r: ReleaseRow): boolean =>
  r.status === "PENDING" || r.status === "RUNNING" || r.status === "SUCCESS";
const isRunning = (r: ReleaseRow): boolean => r.status === "PENDING" || r.status === "RUNNING";

/**
 * The release of this iteration that a request for `tag` repeats: one with the same tag that is
 * pending, running or succeeded (asking again answers the same row and pipeline). A failed,
 * cancelled or refused one is not repeated: releasing its tag again is a new attempt.
 */
export function repeatedRelease<R extends ReleaseRow>(own: readonly R[], tag: string): R | null {
  return [...own].reverse().find((r) => r.tag === tag && isActive(r)) ?? null;
}

/** The latest release of an iteration that the engine did not refuse (its latest phase pipeline). */
export function latestRelease<R extends ReleaseRow>(own: readonly R[]): R | null {
  return [...own].reverse().find((r) => !isRefused(r)) ?? null;
}

/**
 * Whether releasing `tag` is a rollback (seed 6.2: re-release an older tag): the iteration has been
 * released or is in RELEASE, and the tag was released before by another iteration of the app (or by
 * this one, once it is RELEASED). A rollback creates no tag: it deploys the commit the tag names.
 */
export function isRollback(
  phase: IterationMachineState | null,
  iterationId: number,
  appReleasesOfTag: readonly ReleaseRow[],
): boolean {
  if (phase !== "RELEASE" && phase !== "RELEASED") return false;
  const prior = appReleasesOfTag.filter((r) => !isRefused(r));
  return prior.some((r) => r.iterationId !== iterationId) || (phase === "RELEASED" && prior.length > 0);
}

/**
 * Local checks of a release (seed 3.4, 3.7) before anything is tagged: the phase before RELEASE in
 * the app's phases, or RELEASE whose latest phase pipeline FAILED or was CANCELLED; a rollback in
 * RELEASE or RELEASED with no release running. DRAFT counts as DEVELOPING (the engine starts a
 * pipeline that has not started yet when it is asked to move it).
 */
export function releaseRefusal(input: {
  iterationId: number;
  phase: IterationMachineState | null;
  phases: readonly IterationPhase[];
  latest: ReleaseRow | null;
  rollback: boolean;
}): Refusal | null {
  const { iterationId: id, latest } = input;
  const phase = input.phase ?? "PENDING";
  const running =
    latest && isRunning(latest)
      ? `release ${latest.tag ?? ""} (iteration phase ${latest.id}) of iteration ${id} is still ${latest.status}`
      : null;
  if (phase === "CANCELLED") {
    return { kind: "PHASE_CANNOT_PROCEED", message: `iteration ${id} was cancelled` };
  }
  if (input.rollback) {
    if (phase !== "RELEASE" && phase !== "RELEASED") {
      return {
        kind: "PHASE_CANNOT_PROCEED",
        message: `iteration ${id} is in ${phase}: nothing was released yet to roll back`,
      };
    }
    return running ? { kind: "PHASE_CANNOT_PROCEED", message: running } : null;
  }
  if (phase === "RELEASED") {
    return {
      kind: "PHASE_CANNOT_PROCEED",
      message: `iteration ${id} is already RELEASED; release an older tag as a rollback instead`,
    };
  }
  if (phase === "RELEASE") {
    if (running) return { kind: "PHASE_CANNOT_PROCEED", message: running };
    if (latest?.status === "SUCCESS") {
      return { kind: "PHASE_CANNOT_PROCEED", message: `iteration ${id} is already released` };
    }
    return null;
  }
  const from = phase === "PENDING" ? "DEVELOPING" : phase;
  const next = nextPhase(input.phases, from);
  if (next !== "RELEASE") {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: iteration ${id} is in ${from}; the next phase is ${next ?? "none"}, not RELEASE (proceed to ${next ?? "it"} first)`,
    };
  }
  return null;
}

/**
 * Local checks of `POST /iterations/{id}/proceed` (seed 3.7): an unknown target or one that is not a
 * phase of the app -> 2002; RELEASE without a tag -> 2003; an iteration in RELEASE, RELEASED or
 * CANCELLED cannot move to another phase (2001); a target behind the current phase -> 2002. Whether a
 * forward target is the next one is the engine's to say (what dev-svc knows may lag behind it).
 */
export function proceedRefusal(input: {
  iterationId: number;
  phase: IterationMachineState | null;
  phases: readonly IterationPhase[];
  targetPhase: string;
  hasTag: boolean;
}): Refusal | null {
  const id = input.iterationId;
  const target = TargetPhase.safeParse(input.targetPhase);
  if (!target.success) {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: must be one of ${TargetPhase.options.join(", ")} (got "${input.targetPhase.slice(0, 50)}")`,
    };
  }
  const phases = normalizePhases(input.phases);
  if (!phases.includes(target.data)) {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: ${target.data} is not a phase of this app (phases: ${phases.join(", ")})`,
    };
  }
  if (target.data === "RELEASE") {
    return input.hasTag
      ? null
      : { kind: "PRECONDITION_FAILED", message: "tag: entering RELEASE needs a tag, e.g. v1.0.0" };
  }
  const phase = input.phase ?? "PENDING";
  if (phase === "RELEASE" || phase === "RELEASED" || phase === "CANCELLED") {
    return { kind: "PHASE_CANNOT_PROCEED", message: `iteration ${id} is ${phase} and cannot proceed` };
  }
  const current = phase === "PENDING" ? "DEVELOPING" : phase;
  if (ORDER[target.data] <= ORDER[current]) {
    return {
      kind: "INVALID_TARGET_PHASE",
      message: `targetPhase: iteration ${id} is already in ${current}; ${target.data} is not ahead of it`,
    };
  }
  return null;
}
