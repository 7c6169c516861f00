import { ITERATION_PHASES } from "@procode/contracts/pipeline-view";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useLocation } from "wouter";
import { api, unwrap } from "../api/client";
import { useApp, useIteration, usePipeline, useReleases, useTags } from "../api/queries";
import type { Iteration, Pipeline, TargetPhase } from "../api/types";
import { ActionButton, ReasonButton } from "../ui/action";
import { Empty, NotFound, queryGate, TableHead } from "../ui/feedback";
import { StatusBadge } from "../ui/state";
import { Ago, shortCommit } from "../ui/time";
import { PhaseTrack, phaseViews } from "./PhaseTrack";
import { ReleaseDialog } from "./ReleaseDialog";
import { StageGraph } from "./StageGraph";

/** The phase after the iteration's current one in the app's phases (DRAFT counts as DEVELOPING). */
function nextPhaseOf(it: Iteration, phases: readonly string[]): TargetPhase | null {
  const used = ITERATION_PHASES.filter((p) => p === "DEVELOPING" || phases.includes(p));
  const current = it.currentPhase === null || it.currentPhase === "PENDING" ? "DEVELOPING" : it.currentPhase;
  const next = used[used.indexOf(current as (typeof used)[number]) + 1];
  return next && next !== "DEVELOPING" ? next : null;
}

/** Why a proceed or release would be refused now, or null when the iteration waits for it. */
function waitingRefusal(it: Iteration, pipeline: Pipeline | undefined, target: string): string | null {
  if (pipeline?.awaiting?.action === "PROCEED") return null;
  if (it.status === "DRAFT") return "the iteration is still starting (DRAFT)";
  return `the iteration is ${it.status}, not waiting to move to ${target}`;
}

export function IterationPage({ iterationId }: { iterationId: number }) {
  const [, navigate] = useLocation();
  const client = useQueryClient();
  const [releasing, setReleasing] = useState(false);
  const iteration = useIteration(iterationId);
  const appId = iteration.data?.appId ?? 0;
  const app = useApp(appId);
  const flow = usePipeline(iteration.data?.iterationPipelineId);
  const phasePipeline = usePipeline(iteration.data?.phasePipelineId);
  const releases = useReleases(appId);
  const tags = useTags(appId, releasing);

  if (!Number.isSafeInteger(iterationId) || iterationId < 1) return <NotFound what="Iteration" />;
  const gate = queryGate(iteration, "iteration", { page: true });
  if (gate || !iteration.data) return gate;
  const it = iteration.data;
  const phases = app.data?.procodeConfig?.phases ?? ITERATION_PHASES;
  const next = nextPhaseOf(it, phases);
  const inRelease = it.currentPhase === "RELEASE" || it.currentPhase === "RELEASED";
  const releaseRunning = it.status === "RELEASING";
  const releaseRefusal = inRelease
    ? releaseRunning
      ? "a release of this iteration is running: wait for it or cancel it"
      : null
    : next === "RELEASE"
      ? waitingRefusal(it, flow.data, "RELEASE")
      : `release comes after ${phases[phases.indexOf("RELEASE") - 1] ?? "the last phase"}; the iteration is in ${it.currentPhase ?? "DRAFT"}`;
  const releaseRows = it.phases.filter((p) => p.phaseType === "RELEASE").reverse();

  return (
    <>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link href="/">Apps</Link> <span aria-hidden="true">/</span>{" "}
            <Link href={`/apps/${it.appId}`}>{app.data?.name ?? `app ${it.appId}`}</Link>{" "}
            <span aria-hidden="true">/</span> <Link href={`/apps/${it.appId}/iterations`}>iterations</Link>
          </p>
          <h1>
            {it.name} <span className="muted">#{it.id}</span>
          </h1>
          <p className="muted">
            <StatusBadge status={it.status} /> from <span className="mono">{it.sourceBranch}</span> at{" "}
            <span className="mono">{shortCommit(it.headCommit)}</span> · created <Ago at={it.createdAt} /> by{" "}
            {it.createdBy}
          </p>
        </div>
        <div className="actions">
          {next && next !== "RELEASE" ? (
            <ActionButton
              label={`Proceed to ${next}`}
              tone="primary"
              testId="proceed-iteration"
              disabledReason={waitingRefusal(it, flow.data, next)}
              run={async () => {
                const r = await unwrap(
                  api.POST("/iterations/{id}/proceed", {
                    params: { path: { id: it.id } },
                    body: { targetPhase: next },
                  }),
                );
                await client.invalidateQueries({ queryKey: ["iteration", it.id] });
                await client.invalidateQueries({ queryKey: ["pipeline", it.iterationPipelineId] });
                return `Now in ${r.currentPhase}`;
              }}
            />
          ) : null}
          <ReasonButton
            label="Release…"
            className={next === "RELEASE" || inRelease ? "button button-primary" : "button"}
            disabledReason={releaseRefusal}
            onPress={() => setReleasing(true)}
          />
        </div>
      </div>

      <section className="card" aria-labelledby="track-title">
        <h2 id="track-title">Phases</h2>
        <PhaseTrack views={phaseViews(it, phases, flow.data)} />
      </section>

      {phasePipeline.data ? (
        <section className="card" aria-labelledby="latest-title">
          <h2 id="latest-title">
            Latest release:{" "}
            <Link href={`/pipelines/${phasePipeline.data.id}`} className="mono">
              {phasePipeline.data.tag ?? `pipeline #${phasePipeline.data.id}`}
            </Link>
          </h2>
          <StageGraph
            pipeline={phasePipeline.data}
            selected={null}
            onSelect={(stage) => navigate(`/pipelines/${phasePipeline.data.id}?stage=${stage}`)}
          />
        </section>
      ) : null}

      <section className="card" aria-labelledby="rel-title">
        <h2 id="rel-title">Releases of this iteration</h2>
        {releaseRows.length === 0 ? (
          <Empty title="Not released yet.">
            {next === "RELEASE" || inRelease
              ? "Press Release… and give a tag such as v1.0.0."
              : `Proceed through the phases first; Release… opens after ${phases[phases.indexOf("RELEASE") - 1] ?? "the last phase"}.`}
          </Empty>
        ) : (
          <table className="table table-cards">
            <TableHead columns={["Status", "Tag", "Commit", "Pipeline", "When"]} />
            <tbody>
              {releaseRows.map((r) => (
                <tr key={r.id}>
                  <td data-label="Status">
                    <StatusBadge status={r.status} />
                    {r.reason ? <div className="error-text">{r.reason}</div> : null}
                  </td>
                  <td data-label="Tag" className="mono">
                    {r.tag} {r.rollback ? <span className="badge badge-rollback">rollback</span> : null}
                  </td>
                  <td data-label="Commit" className="mono">
                    {shortCommit(r.commitId)}
                  </td>
                  <td data-label="Pipeline">
                    {r.pipelineId ? <Link href={`/pipelines/${r.pipelineId}`}>#{r.pipelineId}</Link> : "–"}
                  </td>
                  <td data-label="When">
                    <Ago at={r.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {releasing ? (
        <ReleaseDialog
          iteration={it}
          repoTags={tags.data?.items}
          tagsProblem={
            tags.isPending
              ? "Reading the repository's tags…"
              : tags.isError
                ? `The repository's tags could not be read (${tags.error.message}).`
                : tags.data.stale
                  ? `The repository's tags are from ${tags.data.fetchedAt} (the provider is not answering).`
                  : null
          }
          releases={releases.data?.items ?? []}
          release={(tag) =>
            unwrap(api.POST("/iterations/{id}/release", { params: { path: { id: it.id } }, body: { tag } }))
          }
          onReleased={(r) => {
            setReleasing(false);
            void client.invalidateQueries({ queryKey: ["iteration", it.id] });
            void client.invalidateQueries({ queryKey: ["releases", it.appId] });
            if (r.pipelineId) navigate(`/pipelines/${r.pipelineId}`);
          }}
          onClose={() => setReleasing(false)}
        />
      ) : null}
    </>
  );
}
