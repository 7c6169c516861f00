import type { MigrationEntry } from "@procode/service-kit";

/** app-svc's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [];
