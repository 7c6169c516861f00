import { Migration } from "@mikro-orm/migrations";

/**
 * The quality gate's reports (docs/quality-gate.md, "Reports"): one per QUALITY_GATE attempt,
 * unique on (pipeline_id, attempt) so an attempt run again after a takeover replaces its report
 * instead of adding one. The columns a list shows and a baseline is chosen by are columns; the
 * cases, reasons and settings are one jsonb document. A waiver is recorded on the report it let
 * through.
 */
export class Migration20260306000001_quality_reports extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "dev".quality_report (
      id bigserial primary key,
      app_id bigint not null,
      team varchar(100) not null,
      pipeline_id bigint not null,
      attempt int not null,
      iteration_phase_id bigint null,
      tag varchar(200) not null,
      commit_id varchar(64) null,
      verdict varchar(30) not null,
      pass_rate double precision not null,
      interval_low double precision not null,
      interval_high double precision not null,
      passed int not null,
      total int not null,
      newly_failing_count int not null,
      baseline_report_id bigint null,
      baseline_tag varchar(200) null,
      duration_ms int not null,
      document jsonb not null,
      waiver jsonb null,
      created_at timestamptz not null default now(),
      constraint quality_report_attempt_uk unique (pipeline_id, attempt),
      constraint quality_report_verdict_ck check (verdict in ('PASS', 'BLOCK', 'CONFIGURATION_ERROR'))
    )`);
    this.addSql(`create index quality_report_app_idx on "dev".quality_report (app_id, id desc)`);
  }
}
