import type { MigrationEntry } from "@procode/service-kit";

/** pipeline-engine's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [];
