import type { MigrationEntry } from "@procode/service-kit";
import { Migration20260301000001_git_integration } from "./migrations/Migration20260301000001_git_integration.js";
import { Migration20260302000001_iterations } from "./migrations/Migration20260302000001_iterations.js";
import { Migration20260303000001_stage_runs } from "./migrations/Migration20260303000001_stage_runs.js";
import { Migration20260304000001_commit_statuses } from "./migrations/Migration20260304000001_commit_statuses.js";
import { Migration20260304000002_unanswered_releases } from "./migrations/Migration20260304000002_unanswered_releases.js";
import { Migration20260305000001_stage_logs } from "./migrations/Migration20260305000001_stage_logs.js";
import { Migration20260306000001_quality_reports } from "./migrations/Migration20260306000001_quality_reports.js";

/** dev-svc's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [
  { name: "Migration20260301000001_git_integration", class: Migration20260301000001_git_integration },
  { name: "Migration20260302000001_iterations", class: Migration20260302000001_iterations },
  { name: "Migration20260303000001_stage_runs", class: Migration20260303000001_stage_runs },
  { name: "Migration20260304000001_commit_statuses", class: Migration20260304000001_commit_statuses },
  { name: "Migration20260304000002_unanswered_releases", class: Migration20260304000002_unanswered_releases },
  { name: "Migration20260305000001_stage_logs", class: Migration20260305000001_stage_logs },
  { name: "Migration20260306000001_quality_reports", class: Migration20260306000001_quality_reports },
];
