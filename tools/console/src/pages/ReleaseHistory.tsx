import { pipelineView, isFinished } from "@procode/contracts/pipeline-view";
import { useQueryClient } from "@tanstack/react-query";
import { Link } from "wouter";
import { api, unwrap } from "../api/client";
import { releasedCommit } from "../api/outputs";
import { useReleases } from "../api/queries";
import { ActionButton } from "../ui/action";
import { Empty, queryGate, TableHead } from "../ui/feedback";
import { StateBadge } from "../ui/state";
import { Ago, Elapsed, shortCommit } from "../ui/time";

/**
 * An app's releases, newest first, as a deployments list: outcome, tag, commit, when, how long;
 * the release now in production marked; "Roll back to this" on older successful ones (releasing
 * that tag again from the iteration now in production).
 */
export function ReleaseHistory({ appId }: { appId: number }) {
  const releases = useReleases(appId);
  const client = useQueryClient();
  const gate = queryGate(releases, "releases");
  if (gate || !releases.data) return gate;
  const items = releases.data.items;
  const current = items.find((p) => p.status === "SUCCESS");
  const running = items.find((p) => !isFinished(p));
  const rollbackRefusal = running
    ? `release ${running.tag ?? `#${running.id}`} is still ${running.status}: wait for it or cancel it`
    : null;
  return (
    <section className="card span-2" aria-labelledby="releases-title">
      <h2 id="releases-title">Releases</h2>
      {items.length === 0 ? (
        <Empty title="Nothing released yet.">
          Open <Link href={`/apps/${appId}/iterations`}>Iterations</Link>, take one to STAGING and release it
          with a tag such as v1.0.0.
        </Empty>
      ) : (
        <table className="table table-cards" data-testid="release-history">
          <TableHead columns={["Outcome", "Tag", "Commit", "Iteration", "Started", "Duration", ""]} />
          <tbody>
            {items.map((p) => (
              <tr key={p.id} className={p === current ? "row-current" : undefined} data-tag={p.tag ?? ""}>
                <td data-label="Outcome">
                  <StateBadge view={pipelineView(p)} label={p.status} />
                </td>
                <td data-label="Tag">
                  <Link href={`/pipelines/${p.id}`} className="strong mono">
                    {p.tag ?? `#${p.id}`}
                  </Link>{" "}
                  {p === current ? <span className="badge badge-current">in production</span> : null}
                  {p.rollback ? <span className="badge badge-rollback">rollback</span> : null}
                </td>
                <td data-label="Commit" className="mono">
                  {shortCommit(releasedCommit(p))}
                </td>
                <td data-label="Iteration">
                  <Link href={`/iterations/${p.iterationId}`}>#{p.iterationId}</Link>
                </td>
                <td data-label="Started">
                  <Ago at={p.createdAt} />
                </td>
                <td data-label="Duration">
                  <Elapsed from={p.createdAt} to={isFinished(p) ? p.updatedAt : null} />
                </td>
                <td data-label="">
                  {current && p !== current && p.status === "SUCCESS" && p.tag && p.tag !== current.tag ? (
                    <ActionButton
                      label="Roll back to this"
                      testId={`rollback-${p.tag}`}
                      disabledReason={rollbackRefusal}
                      run={async () => {
                        const r = await unwrap(
                          api.POST("/iterations/{id}/release", {
                            params: { path: { id: current.iterationId } },
                            body: { tag: p.tag! },
                          }),
                        );
                        await client.invalidateQueries({ queryKey: ["releases", appId] });
                        return r.pipelineId ? (
                          <>
                            Rolling back:{" "}
                            <Link href={`/pipelines/${r.pipelineId}`}>pipeline #{r.pipelineId}</Link>
                          </>
                        ) : (
                          `Recorded (${r.status}); it starts when the engine answers`
                        );
                      }}
                    />
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
