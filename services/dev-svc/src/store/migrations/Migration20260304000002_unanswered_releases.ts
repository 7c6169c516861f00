import { Migration } from "@mikro-orm/migrations";

/**
 * Releases recorded and not answered by the engine yet (it was down or its answer was lost): the
 * release asker of dev-svc looks for them every few seconds, so they get an index of their own that
 * holds only them (docs/services/dev-svc.md, "Release").
 */
export class Migration20260304000002_unanswered_releases extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index idx_unanswered_release on "dev".iteration_phase (id)
       where phase_type = 'RELEASE' and status = 'PENDING' and pipeline_id is null`,
    );
  }
}
