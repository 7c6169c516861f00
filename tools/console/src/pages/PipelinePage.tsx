import {
  isFinished,
  isRetryAccepted,
  pipelineView,
  stagesOf,
  stageView,
} from "@procode/contracts/pipeline-view";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useLocation, useSearch } from "wouter";
import { useApp, usePipeline } from "../api/queries";
import type { Pipeline } from "../api/types";
import { ActionButton } from "../ui/action";
import { NotFound, queryGate } from "../ui/feedback";
import { StateBadge } from "../ui/state";
import { Ago, Elapsed } from "../ui/time";
import { usePaintedMark } from "../live/marks";
import { NodePanel } from "./NodePanel";
import { refusalOf, runAction, type PipelineAction } from "./pipeline-actions";
import { StageGraph } from "./StageGraph";

const LABELS: Record<PipelineAction, string> = {
  proceed: "Proceed",
  retry: "Retry",
  resume: "Resume",
  waive: "Waive gate",
  cancel: "Cancel",
};

/** The stage worth looking at first: the one waiting for a person, the failed one, the running one. */
function focusStage(p: Pipeline): string {
  if (p.awaiting) return p.awaiting.stage;
  const stages = stagesOf(p);
  const failed = stages.find((s) => stageView(p, s).view === "failed");
  return failed ?? p.currentStage ?? stages[0]!;
}

function Actions({
  pipeline,
  only,
  onRun,
}: {
  pipeline: Pipeline;
  only?: PipelineAction[];
  onRun?: () => void;
}) {
  const where = only ? "node" : "bar";
  const client = useQueryClient();
  const [reason, setReason] = useState("");
  // Waive only where a quality gate runs; it takes the reason written beside the buttons.
  const gate = stagesOf(pipeline).includes("QUALITY_GATE");
  const actions =
    only ??
    (gate
      ? (["proceed", "retry", "resume", "waive", "cancel"] as const)
      : (["proceed", "retry", "resume", "cancel"] as const));
  return (
    <div className="actions" role="group" aria-label="Pipeline actions">
      {only ? null : (
        <label className="field-inline">
          <span className="sr-only">Reason (optional; a waiver needs one)</span>
          <input
            value={reason}
            maxLength={500}
            onChange={(e) => setReason(e.target.value)}
            placeholder="Reason (optional)"
          />
        </label>
      )}
      {actions.map((action) => (
        <ActionButton
          key={action}
          label={LABELS[action]}
          testId={`${where}-${action}`}
          tone={action === "cancel" ? "danger" : refusalOf(pipeline, action) === null ? "primary" : "default"}
          disabledReason={refusalOf(pipeline, action)}
          run={async () => {
            onRun?.();
            const said = await runAction(pipeline.id, action, reason);
            await client.invalidateQueries({ queryKey: ["pipeline", pipeline.id] });
            return said;
          }}
        />
      ))}
    </div>
  );
}

export function PipelinePage({ pipelineId }: { pipelineId: number }) {
  const valid = Number.isSafeInteger(pipelineId) && pipelineId > 0;
  const pipeline = usePipeline(valid ? pipelineId : null);
  const app = useApp(pipeline.data?.appId ?? 0);
  const [, navigate] = useLocation();
  const search = useSearch();
  const asked = new URLSearchParams(search).get("stage");
  const [closed, setClosed] = useState(false);
  // A node keeps the buttons pressed on it (then disabled, with why) so their answer stays in view
  // after the pipeline has moved on.
  const [pressed, setPressed] = useState<Record<string, PipelineAction[]>>({});
  const p = pipeline.data;
  usePaintedMark("pipeline-painted", p !== undefined);
  const selected = closed ? null : (asked ?? (p ? focusStage(p) : null));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !document.querySelector("dialog[open]")) setClosed(true);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  if (!valid) return <NotFound what="Pipeline" />;
  const gate = queryGate(pipeline, "pipeline", { page: true });
  if (gate || !pipeline.data) return gate;
  const data = pipeline.data;
  const select = (stage: string) => {
    setClosed(false);
    navigate(`/pipelines/${data.id}?stage=${stage}`, { replace: true });
  };
  return (
    <>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link href="/">Apps</Link> <span aria-hidden="true">/</span>{" "}
            <Link href={`/apps/${data.appId}`}>{app.data?.name ?? `app ${data.appId}`}</Link>{" "}
            <span aria-hidden="true">/</span>{" "}
            <Link href={`/iterations/${data.iterationId}`}>iteration #{data.iterationId}</Link>
          </p>
          <h1>
            {data.type === "PHASE" ? `Release ${data.tag ?? ""}` : "Iteration pipeline"}{" "}
            <span className="muted">#{data.id}</span>{" "}
            {data.rollback ? <span className="badge badge-rollback">rollback</span> : null}
          </h1>
          <p className="muted" data-testid="pipeline-status">
            <StateBadge
              view={pipelineView(data)}
              label={data.status === data.state ? data.status : `${data.status} · ${data.state}`}
            />{" "}
            started <Ago at={data.createdAt} /> ·{" "}
            <Elapsed from={data.createdAt} to={isFinished(data) ? data.updatedAt : null} />
            {data.queued ? <span className="tag">queued behind another release of this app</span> : null}
          </p>
        </div>
        {data.type === "PHASE" ? (
          <Actions pipeline={data} />
        ) : (
          <p className="muted">
            Move it on from <Link href={`/iterations/${data.iterationId}`}>its iteration</Link>.
          </p>
        )}
      </div>
      {data.awaiting ? (
        <p
          className={data.awaiting.action === "PROCEED" ? "note note-wait" : "note note-error"}
          role="status"
          title={data.awaiting.hint}
        >
          {data.awaiting.action === "PROCEED"
            ? `◆ ${data.awaiting.stage} succeeded and waits for a person: Proceed moves the release on.`
            : isRetryAccepted(data)
              ? `✖ ${data.awaiting.stage} failed: Retry runs it once more, Resume starts it afresh (earlier stages are not run again).`
              : `✖ ${data.awaiting.stage} failed and its retries are used up: Resume starts it afresh (earlier stages are not run again).`}
        </p>
      ) : null}
      <div className={selected ? "run run-with-panel" : "run"}>
        <section className="card graph-card" aria-label="Stage graph">
          <StageGraph
            pipeline={data}
            selected={selected}
            onSelect={select}
            nodeActions={
              data.type === "PHASE"
                ? (stage) => {
                    const waiting = data.awaiting?.stage === stage ? data.awaiting.action : null;
                    const only: PipelineAction[] | undefined =
                      waiting === "PROCEED" ? ["proceed"] : waiting ? ["retry", "resume"] : pressed[stage];
                    return only ? (
                      <Actions
                        pipeline={data}
                        only={only}
                        onRun={() => setPressed((s) => ({ ...s, [stage]: only }))}
                      />
                    ) : null;
                  }
                : undefined
            }
          />
        </section>
        {selected ? <NodePanel pipeline={data} stage={selected} onClose={() => setClosed(true)} /> : null}
      </div>
    </>
  );
}
