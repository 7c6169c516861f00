import { stagesOf, stageView } from "@procode/contracts/pipeline-view";
import type { ReactNode } from "react";
import type { Pipeline } from "../api/types";
import { useStateMarks } from "../live/marks";
import { StateBadge } from "../ui/state";
import { Elapsed } from "../ui/time";
import { WaitingNote, waitingOf } from "./WaitingNote";

/**
 * The stages of a pipeline as a graph: CODE_CHECK → BUILD → PACKAGE → DEPLOY (or the iteration's
 * phases), each node with its state, attempt count and duration. A node is a button that selects
 * the stage; `nodeActions` puts the action a stage needs on the node itself (Proceed on a waiting
 * gate, Retry / Resume on a failed stage). A running stage whose attempt waits for an outside system
 * says for which, why and since when.
 */
export function StageGraph({
  pipeline,
  selected,
  onSelect,
  nodeActions,
}: {
  pipeline: Pipeline;
  selected: string | null;
  onSelect: (stage: string) => void;
  nodeActions?: (stage: string) => ReactNode;
}) {
  const stages = stagesOf(pipeline);
  useStateMarks(pipeline.id, Object.fromEntries(stages.map((s) => [s, stageView(pipeline, s).view])));
  return (
    <ol className="graph" aria-label="Stages">
      {stages.map((stage) => {
        const { view, latest, attempts } = stageView(pipeline, stage);
        const waiting = view === "running" ? waitingOf(latest) : null;
        const deploy =
          !waiting && stage === "DEPLOY" && pipeline.deployStatus && (view === "running" || view === "failed")
            ? pipeline.deployStatus
            : null;
        return (
          <li
            key={stage}
            className={`node node-${view}${waiting ? " node-outside-wait" : ""}`}
            data-stage={stage}
            data-state={view}
            data-waiting={waiting?.state}
          >
            <button
              type="button"
              className="node-main"
              aria-pressed={selected === stage}
              aria-label={`${stage}: ${view}${waiting ? ", waiting for an outside system" : ""}${attempts.length > 1 ? `, attempt ${latest?.attempt}` : ""}`}
              onClick={() => onSelect(stage)}
            >
              <span className="node-stage">{stage}</span>
              <StateBadge view={view} />
              <span className="node-meta">
                {latest ? <Elapsed from={latest.startedAt} to={latest.finishedAt} /> : <span>–</span>}
                {attempts.length > 1 ? <span className="attempts">attempt {latest?.attempt}</span> : null}
                {attempts.length === 1 ? <span className="attempts">1 attempt</span> : null}
              </span>
              {deploy ? <span className="node-sub mono">{deploy}</span> : null}
              {waiting && latest ? <WaitingNote stage={stage} c={latest} compact /> : null}
            </button>
            {nodeActions ? <div className="node-actions">{nodeActions(stage)}</div> : null}
          </li>
        );
      })}
    </ol>
  );
}
