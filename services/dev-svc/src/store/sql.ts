/** Timestamps as the API shows them (`2026-03-02T10:00:00.000Z`), from PostgreSQL's text or a Date. */
export const iso = (v: Date | string | null): string | null =>
  v === null ? null : v instanceof Date ? v.toISOString() : new Date(v).toISOString();

/** Where dev-svc's tables live. */
export const S = `"dev"`;
