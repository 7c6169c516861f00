import type { MigrationEntry } from "@procode/service-kit";
import { Migration20260301000001_deployment } from "./migrations/Migration20260301000001_deployment.js";
import { Migration20260302000001_stage_logs } from "./migrations/Migration20260302000001_stage_logs.js";

/** ops-gateway's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [
  { name: "Migration20260301000001_deployment", class: Migration20260301000001_deployment },
  { name: "Migration20260302000001_stage_logs", class: Migration20260302000001_stage_logs },
];
