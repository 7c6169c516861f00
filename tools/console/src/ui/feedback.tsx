import type { ReactNode } from "react";
import { Link } from "wouter";
import { ApiError } from "../api/client";

/** An error as the API said it: its code and its message. */
export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  const api = error instanceof ApiError ? error : null;
  return (
    <div className="note note-error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {api && api.code ? <code className="code">{api.code}</code> : null}{" "}
      <span>{api ? api.message : String((error as Error)?.message ?? error)}</span>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

/** An empty state that says what to do next. */
export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <div className="empty-next">{children}</div> : null}
    </div>
  );
}

/** The page for an id the API does not know (or that belongs to another team: it answers the same). */
export function NotFound({ what, error }: { what: string; error?: unknown }) {
  return (
    <section className="not-found" aria-labelledby="not-found-title">
      <h1 id="not-found-title">{what} not found</h1>
      <p>It does not exist, or it belongs to another team.</p>
      {error ? <ErrorNote error={error} /> : null}
      <p>
        <Link href="/">Back to the apps</Link>
      </p>
    </section>
  );
}
