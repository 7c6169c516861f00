import type { IterationMachineState, PhaseMachineState, PhaseStage } from "@procode/contracts";
import { decideIteration, type IterationEvent } from "./iteration.machine.js";
import { decidePhase, type PhaseEvent } from "./phase.machine.js";

/** One row of `pipeline.transition`, as the checks read it. */
export interface TransitionRow {
  pipeline_id: string;
  seq: number;
  from_state: string;
  to_state: string;
  event: string;
  actor: string;
}

/**
 * The transition log's soundness, as the tests and the chaos bench check it (docs/reliability.md).
 * Checks a transition log: per pipeline the sequence is 1..n with no gap and no repeat, each
 * transition starts where the previous ended (the first at PENDING), and each edge is one the
 * pipeline's machine allows. Returns the problems found (empty when the log is sound).
 */
export function transitionLogProblems(
  rows: TransitionRow[],
  typeOf: Map<string, "ITERATION" | "PHASE">,
): string[] {
  const problems: string[] = [];
  const byPipeline = new Map<string, TransitionRow[]>();
  for (const r of rows) {
    const list = byPipeline.get(r.pipeline_id) ?? [];
    list.push(r);
    byPipeline.set(r.pipeline_id, list);
  }
  for (const [id, list] of byPipeline) {
    list.sort((a, b) => a.seq - b.seq);
    let expectedFrom = "PENDING";
    list.forEach((t, i) => {
      if (t.seq !== i + 1) problems.push(`pipeline ${id}: seq ${t.seq} at position ${i + 1} (gap or repeat)`);
      if (t.from_state !== expectedFrom)
        problems.push(`pipeline ${id} seq ${t.seq}: from ${t.from_state}, previous ended at ${expectedFrom}`);
      try {
        const to =
          typeOf.get(id) === "ITERATION"
            ? decideIteration(t.from_state as IterationMachineState, { type: t.event } as IterationEvent)
            : decidePhase(
                t.from_state as PhaseMachineState,
                // RETRY/RESUME name their stage, PACKAGE_SUCCESS whether the quality gate came next.
                {
                  type: t.event,
                  stage: t.to_state as PhaseStage,
                  gate: t.to_state === "QUALITY_GATE",
                } as PhaseEvent,
              );
        if (to !== t.to_state)
          problems.push(
            `pipeline ${id} seq ${t.seq}: ${t.from_state} -${t.event}-> ${t.to_state}, machine says ${to}`,
          );
      } catch (err) {
        problems.push(
          `pipeline ${id} seq ${t.seq}: illegal ${t.from_state} -${t.event}-> ${t.to_state} (${(err as Error).message})`,
        );
      }
      expectedFrom = t.to_state;
    });
  }
  return problems;
}
