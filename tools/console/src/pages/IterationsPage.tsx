import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useLocation } from "wouter";
import { api, unwrap } from "../api/client";
import { useApp, useIterations } from "../api/queries";
import { Empty, ErrorNote, queryGate, TableHead } from "../ui/feedback";
import { StatusBadge } from "../ui/state";
import { Ago, shortCommit } from "../ui/time";
import { AppHeader } from "./AppHeader";
import { PhaseTrack, phaseViews } from "./PhaseTrack";

function CreateIteration({ appId }: { appId: number }) {
  const [name, setName] = useState("");
  const [branch, setBranch] = useState("main");
  const [, navigate] = useLocation();
  const client = useQueryClient();
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/iterations", { body: { appId, name, sourceBranch: branch } })),
    onSuccess: (it) => {
      void client.invalidateQueries({ queryKey: ["iterations", appId] });
      navigate(`/iterations/${it.id}`);
    },
  });
  return (
    <form
      className="card form form-inline"
      aria-labelledby="new-iteration"
      onSubmit={(e) => {
        e.preventDefault();
        if (!create.isPending) create.mutate();
      }}
    >
      <h2 id="new-iteration">New iteration</h2>
      <label>
        Name
        <input
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="first"
        />
      </label>
      <label>
        From branch
        <input required value={branch} onChange={(e) => setBranch(e.target.value)} spellCheck={false} />
      </label>
      <button type="submit" className="button button-primary" aria-disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create iteration"}
      </button>
      {create.isError ? <ErrorNote error={create.error} title="Not created." /> : null}
    </form>
  );
}

export function IterationsPage({ appId }: { appId: number }) {
  const app = useApp(appId);
  const iterations = useIterations(appId);
  const gate = queryGate(app, "app", { page: true });
  if (gate || !app.data) return gate;
  const phases = app.data.procodeConfig?.phases ?? [];
  return (
    <>
      <AppHeader app={app.data} />
      <CreateIteration appId={appId} />
      {queryGate(iterations, "iterations") ??
        (iterations.data!.items.length === 0 ? (
          <Empty title="No iterations yet.">
            Create one above from branch main: it starts in DEVELOPING.
          </Empty>
        ) : (
          <table className="table table-cards" aria-label="Iterations">
            <TableHead columns={["Iteration", "Status", "Phases", "Branch", "Latest release", "Created"]} />
            <tbody>
              {iterations.data!.items.map((it) => {
                const latest = it.phases.filter((p) => p.phaseType === "RELEASE").at(-1);
                return (
                  <tr key={it.id}>
                    <td data-label="Iteration">
                      <Link href={`/iterations/${it.id}`} className="strong">
                        {it.name}
                      </Link>{" "}
                      <span className="muted">#{it.id}</span>
                    </td>
                    <td data-label="Status">
                      <StatusBadge status={it.status} />
                    </td>
                    <td data-label="Phases">
                      <PhaseTrack compact views={phaseViews(it, phases)} />
                    </td>
                    <td data-label="Branch" className="mono">
                      {it.sourceBranch} <span className="muted">{shortCommit(it.headCommit)}</span>
                    </td>
                    <td data-label="Latest release" className="mono">
                      {latest?.tag ?? "–"}
                    </td>
                    <td data-label="Created">
                      <Ago at={it.createdAt} /> <span className="muted">by {it.createdBy}</span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ))}
    </>
  );
}
