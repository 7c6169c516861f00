import { Migration } from "@mikro-orm/migrations";

/**
 * Stage logs of the attempts this service runs (CODE_CHECK, BUILD and PACKAGE; docs/api.md "Stage logs"): one
 * `stage_log` row per attempt (its team and app for the live events, the next line number, the
 * bytes of text kept and whether the log was cut at its bound) and its lines in `stage_log_line`,
 * numbered from 1 without gaps.
 */
export class Migration20260305000001_stage_logs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "dev".stage_log (
      pipeline_id bigint not null,
      stage varchar(20) not null,
      attempt int not null,
      app_id bigint not null,
      team varchar(100) not null,
      next_seq int not null default 1,
      bytes bigint not null default 0,
      truncated boolean not null default false,
      created_at timestamptz not null default now(),
      constraint stage_log_pk primary key (pipeline_id, stage, attempt)
    )`);
    this.addSql(`create table "dev".stage_log_line (
      pipeline_id bigint not null,
      stage varchar(20) not null,
      attempt int not null,
      seq int not null,
      at timestamptz not null,
      level varchar(5) not null,
      text text not null,
      constraint stage_log_line_pk primary key (pipeline_id, stage, attempt, seq),
      constraint stage_log_line_level_ck check (level in ('INFO', 'WARN', 'ERROR'))
    )`);
  }
}
