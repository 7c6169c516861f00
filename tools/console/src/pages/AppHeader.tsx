import { Link, useRoute } from "wouter";
import type { App } from "../api/types";

/** The app's name and its tabs (overview, iterations, quality), shared by the app's pages. */
export function AppHeader({ app }: { app: App }) {
  const [onIterations] = useRoute("/apps/:id/iterations");
  const [onQuality] = useRoute("/apps/:id/quality");
  return (
    <div className="page-head page-head-tabs">
      <div>
        <p className="crumbs">
          <Link href="/">Apps</Link> <span aria-hidden="true">/</span>
        </p>
        <h1>{app.name}</h1>
        <p className="muted">
          <span className="tag">{app.devMode}</span>
          {app.techStack ? <span className="tag">{app.techStack}</span> : null} created by {app.createdBy} ·
          team {app.team}
        </p>
      </div>
      <nav className="tabs" aria-label="App">
        <Link href={`/apps/${app.id}`} aria-current={onIterations || onQuality ? undefined : "page"}>
          Overview
        </Link>
        <Link href={`/apps/${app.id}/iterations`} aria-current={onIterations ? "page" : undefined}>
          Iterations
        </Link>
        <Link href={`/apps/${app.id}/quality`} aria-current={onQuality ? "page" : undefined}>
          Quality
        </Link>
      </nav>
    </div>
  );
}
