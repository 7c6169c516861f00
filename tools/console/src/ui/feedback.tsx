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

/**
 * What to show while a read is loading or after it failed (null once its data is there): loading;
 * for a page's own subject, "not found" when the API says 404; else the API's error.
 */
export function queryGate(
  query: { isPending: boolean; isError: boolean; error: unknown },
  what: string,
  opts: { page?: boolean } = {},
): ReactNode | null {
  if (query.isPending) return <Loading what={what} />;
  if (!query.isError) return null;
  if (opts.page && query.error instanceof ApiError && query.error.isNotFound)
    return <NotFound what={what.charAt(0).toUpperCase() + what.slice(1)} error={query.error} />;
  return <ErrorNote error={query.error} title={`The ${what} could not be read.`} />;
}

/** A table's header row. */
export function TableHead({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c || <span className="sr-only">Actions</span>}
          </th>
        ))}
      </tr>
    </thead>
  );
}
