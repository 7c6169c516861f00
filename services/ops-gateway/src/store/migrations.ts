import type { MigrationEntry } from "@procode/service-kit";

/** ops-gateway's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [];
