import { useDeferredValue, useState } from "react";
import { Link } from "wouter";
import { useApps } from "../api/queries";
import { Empty, ErrorNote, Loading, TableHead } from "../ui/feedback";
import { Ago } from "../ui/time";
import { CreateAppDialog } from "./CreateAppDialog";

type DevModeFilter = "" | "pro-code" | "low-code";

export function AppsPage() {
  const [name, setName] = useState("");
  const [devMode, setDevMode] = useState<DevModeFilter>("");
  const [creating, setCreating] = useState(false);
  const search = useDeferredValue(name.trim());
  const apps = useApps({ name: search || undefined, devMode: devMode || undefined });
  const filtered = search !== "" || devMode !== "";
  return (
    <section aria-labelledby="apps-title">
      <div className="page-head">
        <h1 id="apps-title">Apps</h1>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
          New app
        </button>
      </div>
      <div className="toolbar" role="search">
        <label className="field-inline">
          <span className="sr-only">Search apps by name</span>
          <input
            type="search"
            placeholder="Search by name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        <label className="field-inline">
          <span className="sr-only">Development mode</span>
          <select value={devMode} onChange={(e) => setDevMode(e.target.value as DevModeFilter)}>
            <option value="">All modes</option>
            <option value="pro-code">pro-code</option>
            <option value="low-code">low-code</option>
          </select>
        </label>
        {apps.data ? (
          <span className="muted count">
            {apps.data.total} app{apps.data.total === 1 ? "" : "s"}
          </span>
        ) : null}
      </div>
      {apps.isPending ? (
        <Loading what="apps" />
      ) : apps.isError ? (
        <ErrorNote error={apps.error} title="The apps could not be listed." />
      ) : apps.data.items.length === 0 ? (
        filtered ? (
          <Empty title="No app matches these filters.">Clear the search or choose “All modes”.</Empty>
        ) : (
          <Empty title="No apps yet.">
            Create one with <strong>New app</strong>: give it a repository (a LOCAL one such as{" "}
            <code>local://sample-agent</code> works at once) and the python-agent scaffold as its first
            commit.
          </Empty>
        )
      ) : (
        <table className="table table-cards">
          <TableHead columns={["Name", "Mode", "Repository", "Created by", "Created"]} />
          <tbody>
            {apps.data.items.map((app) => (
              <tr key={app.id}>
                <td data-label="Name">
                  <Link href={`/apps/${app.id}`} className="strong">
                    {app.name}
                  </Link>
                </td>
                <td data-label="Mode">
                  <span className="tag">{app.devMode}</span>
                  {app.techStack ? <span className="tag">{app.techStack}</span> : null}
                </td>
                <td data-label="Repository" className="mono truncate">
                  {app.procodeConfig ? (
                    <>
                      <span className="tag">{app.procodeConfig.gitType}</span> {app.procodeConfig.gitRepoUrl}
                    </>
                  ) : (
                    "–"
                  )}
                </td>
                <td data-label="Created by">{app.createdBy}</td>
                <td data-label="Created">
                  <Ago at={app.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating ? <CreateAppDialog onClose={() => setCreating(false)} /> : null}
    </section>
  );
}
