import pg from "pg";

/** Error codes of a database that cannot be reached or is shutting down (not of a bad query). */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  // admin_shutdown, crash_shutdown, cannot_connect_now
  "57P01",
  "57P02",
  "57P03",
]);

/** True when `err` says the database cannot be reached now, as opposed to a bug or a bad query. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  if (typeof e.code === "string" && UNAVAILABLE_CODES.has(e.code)) return true;
  const message = typeof e.message === "string" ? e.message : "";
  if (
    /Connection terminated|Connection ended|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    )
  ) {
    return true;
  }
  return e.cause !== undefined && e.cause !== err ? isDatabaseUnavailable(e.cause) : false;
}

/** True when PostgreSQL answered with an error (a constraint, a bad query): it is there and working. */
export function isDatabaseRefusal(err: unknown): boolean {
  return err instanceof pg.DatabaseError && !isDatabaseUnavailable(err);
}

/** True when `err` is PostgreSQL's unique violation (23505) of `constraint`, e.g. `uk_name`. */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  return err instanceof pg.DatabaseError && err.code === "23505" && err.constraint === constraint;
}
