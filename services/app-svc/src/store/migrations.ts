import type { MigrationEntry } from "@procode/service-kit";
import { Migration20260301000001_app_tables } from "./migrations/Migration20260301000001_app_tables.js";
import { Migration20260316000001_app_names_per_team } from "./migrations/Migration20260316000001_app_names_per_team.js";
import { Migration20261204000001_notifications } from "./migrations/Migration20261204000001_notifications.js";

/** app-svc's migrations, in order (static imports: STACK.md). */
export const migrations: MigrationEntry[] = [
  { name: "Migration20260301000001_app_tables", class: Migration20260301000001_app_tables },
  { name: "Migration20260316000001_app_names_per_team", class: Migration20260316000001_app_names_per_team },
  { name: "Migration20261204000001_notifications", class: Migration20261204000001_notifications },
];
