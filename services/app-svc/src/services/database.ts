import {
  dependencyUnavailable,
  isDatabaseRefusal,
  isDatabaseUnavailable,
  isDomainError,
  withTimeout,
  type Database,
} from "@procode/service-kit";

/**
 * Runs `fn`; a database that cannot be reached answers 503 naming it (the error envelope), never a
 * bare internal error. A failure mid-transaction does not always say it was the connection, so an
 * unexplained error is followed by a ping: if the database does not answer either, it is reported
 * as unavailable.
 */
export async function withDatabase<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isDomainError(err) || isDatabaseRefusal(err)) throw err;
    const down =
      isDatabaseUnavailable(err) ||
      (await withTimeout(db.ping(), 1000, "database").then(
        () => false,
        () => true,
      ));
    if (down) throw dependencyUnavailable("the database");
    throw err;
  }
}
