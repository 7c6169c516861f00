import { ITERATION_PHASES, stageView, type StageView } from "@procode/contracts/pipeline-view";
import type { Iteration, Pipeline } from "../api/types";
import { StateBadge } from "../ui/state";

const ORDER = ["PENDING", ...ITERATION_PHASES, "RELEASED"];

/**
 * DEVELOPING → TESTING → STAGING → RELEASE: each phase's state, from the iteration pipeline when it
 * is loaded (so a phase waiting for a person shows as waiting), else from the iteration's phase.
 */
export function phaseViews(
  iteration: Pick<Iteration, "currentPhase" | "status">,
  phases: readonly string[],
  pipeline?: Pipeline,
): { phase: string; view: StageView }[] {
  const used = ITERATION_PHASES.filter((p) => p === "DEVELOPING" || phases.includes(p));
  return used.map((phase) => {
    if (phase === "RELEASE") {
      const s = iteration.status;
      const view: StageView =
        s === "RELEASED"
          ? "succeeded"
          : s === "FAILED"
            ? "failed"
            : s === "RELEASING"
              ? "running"
              : "pending";
      return { phase, view };
    }
    if (pipeline) return { phase, view: stageView(pipeline, phase).view };
    const at = ORDER.indexOf(iteration.currentPhase ?? "PENDING");
    const mine = ORDER.indexOf(phase);
    return { phase, view: mine < at ? "succeeded" : mine === at ? "waiting" : "pending" };
  });
}

export function PhaseTrack({
  views,
  compact,
}: {
  views: { phase: string; view: StageView }[];
  compact?: boolean;
}) {
  return (
    <ol className={compact ? "track track-compact" : "track"} aria-label="Phases">
      {views.map(({ phase, view }) => (
        <li key={phase} className={`track-step track-${view}`} data-phase={phase} data-state={view}>
          {compact ? (
            <span className="sr-only">
              {phase}: {view}
            </span>
          ) : null}
          {compact ? (
            <span aria-hidden="true" title={`${phase}: ${view}`} className={`dot dot-${view}`} />
          ) : (
            <>
              <span className="track-name">{phase}</span>
              <StateBadge view={view} />
            </>
          )}
        </li>
      ))}
    </ol>
  );
}
