import { Migration } from "@mikro-orm/migrations";

/**
 * Commit statuses of releases: one row per (phase pipeline, stage), the state dev-svc wants the
 * provider to show for that stage's context on the released commit. `version` grows with each new
 * state (only a later one by the order key `attempt`, `rank` is accepted); the status worker pushes
 * the newest version and records it as `pushed_version`, so a row is due while the two differ. A
 * refused push (`refused_version`) waits for a newer state instead of being retried.
 */
export class Migration20260304000001_commit_statuses extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "dev".commit_status (
      id bigserial primary key,
      pipeline_id bigint not null,
      stage varchar(20) not null,
      app_id bigint not null,
      iteration_phase_id bigint not null,
      commit_id varchar(64) not null,
      state varchar(20) not null,
      attempt int not null,
      rank int not null,
      description text not null,
      version int not null default 1,
      pushed_version int not null default 0,
      refused_version int not null default 0,
      push_attempts int not null default 0,
      next_attempt_at timestamptz not null default now(),
      lease_until timestamptz null,
      last_error text null,
      pushed_at timestamptz null,
      updated_at timestamptz not null default now(),
      constraint commit_status_stage_uk unique (pipeline_id, stage),
      constraint commit_status_state_ck check (state in ('pending', 'running', 'success', 'failed', 'canceled'))
    )`);
    this.addSql(`create index commit_status_due_idx on "dev".commit_status (next_attempt_at)
      where pushed_version < version and refused_version < version`);
    this.addSql(`create index commit_status_commit_idx on "dev".commit_status (app_id, commit_id)`);
  }
}
