import { Migration } from "@mikro-orm/migrations";

/**
 * Stage runners (CODE_CHECK, BUILD, PACKAGE): one row per stage attempt, unique on
 * (pipeline_id, stage, attempt), so a redelivered or re-published request finds the attempt's
 * recorded result instead of doing the work again. A RUNNING row carries a lease (owner and expiry)
 * that the replica doing the work renews; another replica takes the attempt over only once the
 * lease has run out (its runner died).
 */
export class Migration20260303000001_stage_runs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "dev".stage_run (
      id bigserial primary key,
      pipeline_id bigint not null,
      stage varchar(20) not null,
      attempt int not null,
      app_id bigint not null,
      status varchar(20) not null,
      output jsonb null,
      error jsonb null,
      runs int not null default 1,
      lease_owner varchar(200) null,
      lease_until timestamptz null,
      correlation_id varchar(200) null,
      started_at timestamptz not null default now(),
      finished_at timestamptz null,
      constraint stage_run_attempt_uk unique (pipeline_id, stage, attempt),
      constraint stage_run_status_ck check (status in ('RUNNING', 'SUCCESS', 'FAILED'))
    )`);
    this.addSql(`create index stage_run_app_idx on "dev".stage_run (app_id, started_at)`);
  }
}
