import { Migration } from "@mikro-orm/migrations";

/**
 * App names are unique within a team, not across teams: the seed's uk_name keeps its name and now
 * covers (team, name), so a 1002 only ever speaks of the caller's own team's apps and another team's
 * names are never revealed (docs/services/app-svc.md).
 */
export class Migration20260316000001_app_names_per_team extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop index if exists app.uk_name`);
    this.addSql(`create unique index uk_name on app.agent_app (team, name)`);
    // Reads by team and name (the name search) use the same index; the team-and-id one stays for paging.
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists app.uk_name`);
    this.addSql(`create unique index uk_name on app.agent_app (name)`);
  }
}
