import { Migration } from "@mikro-orm/migrations";

/**
 * The pipeline table (both types) with.2 indexes, plus: a version column
 * (optimistic locking), the append-only transition log, durable timers, app settings projected from
 * app-svc's events, and one release lease per app (concurrency policy).
 *
 * Durable timers live in their own small table so that the frequent stage transitions do not touch
 * an indexed column of `pipeline` (they stay HOT updates, fillfactor leaves room for them).
 */
export class Migration20260301000001Pipeline extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table pipeline.pipeline (
      id bigserial primary key,
      type varchar(20) not null,
      parent_id bigint null,
      ref_id bigint not null,
      app_id bigint not null,
      team varchar(100) not null,
      iteration_id bigint not null,
      status varchar(20) not null default 'PENDING',
      state varchar(20) not null,
      current_stage varchar(50) null,
      stage_configs jsonb not null,
      current_retries int not null default 0,
      attempt int not null default 0,
      step varchar(20) null,
      deploy_status varchar(20) null,
      deploy_id varchar(100) null,
      deploy_config jsonb null,
      deploy_deadline timestamptz null,
      tag varchar(100) null,
      rollback boolean not null default false,
      queued boolean not null default false,
      rejected boolean not null default false,
      failed_stage varchar(20) null,
      error text null,
      checkpoints jsonb not null default '[]',
      republish_count int not null default 0,
      event_seq int not null default 0,
      transition_seq int not null default 0,
      latest_child_id bigint null,
      latest_child_status varchar(20) null,
      latest_iteration_phase_id bigint null,
      iteration_status varchar(20) null,
      version int not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint pipeline_type_ref_uk unique (type, ref_id)
    ) with (fillfactor = 70)`);
    this.addSql(`create index idx_ref_id on pipeline.pipeline (ref_id)`);
    this.addSql(`create index idx_parent_id on pipeline.pipeline (parent_id)`);
    this.addSql(`create index idx_status on pipeline.pipeline (status)`);
    this.addSql(`create index idx_type on pipeline.pipeline (type)`);
    this.addSql(`create index idx_app_id on pipeline.pipeline (app_id, id)`);
    this.addSql(`create index idx_queued on pipeline.pipeline (app_id, id) where queued`);

    this.addSql(`create table pipeline.transition (
      pipeline_id bigint not null,
      seq int not null,
      from_state varchar(20) not null,
      to_state varchar(20) not null,
      event varchar(40) not null,
      actor varchar(200) not null,
      at timestamptz not null,
      constraint transition_pipeline_seq_uk primary key (pipeline_id, seq)
    )`);

    this.addSql(`create table pipeline.timer (
      pipeline_id bigint primary key,
      wake_at timestamptz not null
    )`);
    this.addSql(`create index idx_timer_wake_at on pipeline.timer (wake_at)`);

    this.addSql(`create table pipeline.app_settings (
      app_id bigint primary key,
      team varchar(100) not null,
      revision int not null,
      stage_configs jsonb not null default '{}',
      phases jsonb null,
      concurrency varchar(20) not null default 'QUEUE',
      deploy_config jsonb null,
      updated_at timestamptz not null default now()
    )`);

    this.addSql(`create table pipeline.app_lease (
      app_id bigint primary key,
      holder_id bigint not null,
      expires_at timestamptz null,
      acquired_at timestamptz not null default now()
    )`);
  }
}
