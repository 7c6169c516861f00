import type { MigrationEntry } from "@procode/service-kit";

/** dev-svc's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [];
