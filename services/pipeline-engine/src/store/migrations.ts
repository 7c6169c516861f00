import type { MigrationEntry } from "@procode/service-kit";
import { Migration20260301000001Pipeline } from "./migrations/Migration20260301000001_pipeline.js";

/** pipeline-engine's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [
  { name: "Migration20260301000001_pipeline", class: Migration20260301000001Pipeline },
];
