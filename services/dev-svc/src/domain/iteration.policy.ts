import {
  ITERATION_STATE_RANK,
  proceedRefusal as iterationProceedRefusal,
  releaseRefusal as iterationReleaseRefusal,
  targetPhaseRefusal,
  type IterationMachineState,
  type IterationPhase,
  type IterationPhaseStatus,
  type IterationRefusal,
} from "@procode/contracts";

/**
 * What dev-svc applies of the iteration's rules (libs/contracts `iteration-rules`, the engine's
 * rules) before it asks pipeline-engine, and how it merges what the engine tells it. Pure: no I/O,
 * so every case is a table row in the unit tests. The engine is the judge (it answers
 * PROCEED_ITERATION with the same rules, codes and messages); dev-svc checks them first with what it
 * last heard, so that no tag is created for a release the engine would refuse.
 */

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
  const a = stored.phase === null ? -1 : ITERATION_STATE_RANK[stored.phase];
  const b = incoming.phase === null ? -1 : ITERATION_STATE_RANK[incoming.phase];
  if (b !== a) return b > a;
  return (incoming.phasePipelineId ?? 0) >= (stored.phasePipelineId ?? 0);
}

/** True when `incoming` is strictly further than `stored` (a request's answer moved the iteration). */
export function isAhead(stored: Progress, incoming: Progress): boolean {
  return isNotBehind(stored, incoming) && !isNotBehind(incoming, stored);
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
 * Whether releasing `tag` is a rollback (re-release an older tag): the iteration has been
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
 * The release rules checked before anything is tagged, with what dev-svc knows: its phase (DRAFT,
 * nothing heard yet, counts as DEVELOPING: the engine starts an iteration that has not started when
 * it is asked to move it) and the latest release it recorded.
 */
export function releaseRefusal(input: {
  iterationId: number;
  phase: IterationMachineState | null;
  phases: readonly IterationPhase[];
  latest: ReleaseRow | null;
  rollback: boolean;
}): IterationRefusal | null {
  const latest = input.latest;
  return iterationReleaseRefusal({
    iterationId: input.iterationId,
    state: input.phase ?? "PENDING",
    phases: input.phases,
    latest: latest && { tag: latest.tag, status: latest.status },
    rollback: input.rollback,
  });
}

/**
 * The checks of `POST /iterations/{id}/proceed` dev-svc makes itself: an unknown target or one that
 * is not a phase of the app (2002); RELEASE without a tag (2003); an iteration in RELEASE, RELEASED
 * or CANCELLED (2001); a target not ahead of the current phase (2002). Whether a forward target is
 * the next one is the engine's to say: what dev-svc knows may lag behind it.
 */
export function proceedRefusal(input: {
  iterationId: number;
  phase: IterationMachineState | null;
  phases: readonly IterationPhase[];
  targetPhase: string;
  hasTag: boolean;
}): IterationRefusal | null {
  const target = targetPhaseRefusal(input.targetPhase, input.phases);
  if (target.refusal) return target.refusal;
  if (target.target === "RELEASE") {
    return input.hasTag
      ? null
      : { kind: "PRECONDITION_FAILED", message: "tag: entering RELEASE needs a tag, e.g. v1.0.0" };
  }
  return iterationProceedRefusal({
    iterationId: input.iterationId,
    state: input.phase ?? "PENDING",
    phases: input.phases,
    target: target.target,
    rule: "ahead",
  });
}
