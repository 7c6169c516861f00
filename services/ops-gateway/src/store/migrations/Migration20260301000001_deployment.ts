import { Migration } from "@mikro-orm/migrations";

/**
 * ops.deployment: one row per DEPLOY stage attempt (unique per pipeline + attempt), with the
 * deployment's status, the poll schedule and lease, the outage state and the last event published
 * (re-sent when the engine repeats its request). ops.deployment_observation: every status ops
 * reported, by poll or callback, and what it did (audit).
 */
export class Migration20260301000001_deployment extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table ops.deployment (
      id bigserial primary key,
      pipeline_id bigint not null,
      attempt int not null,
      app_id bigint not null,
      team text not null default '',
      image text not null default '',
      deploy_config jsonb not null default '{}'::jsonb,
      poll_interval_ms int not null,
      poll_timeout_ms bigint not null,
      correlation_id text not null,
      request_key uuid not null,
      status text not null,
      deploy_id text null,
      ops_status text null,
      ops_message text null,
      deadline timestamptz null,
      next_poll_at timestamptz null,
      lease_owner text null,
      lease_until timestamptz null,
      failures int not null default 0,
      waiting_since timestamptz null,
      last_error text null,
      cancel_state text null,
      cancel_attempts int not null default 0,
      outcome text null,
      outcome_via text null,
      outcome_message text null,
      finished_at timestamptz null,
      last_event_type text null,
      last_event_data jsonb null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint deployment_pipeline_attempt_uk unique (pipeline_id, attempt),
      constraint deployment_status_ck check (status in
        ('CREATING', 'DEPLOYING', 'SUCCESS', 'FAILED', 'TIMEOUT', 'CANCELLED', 'SUPERSEDED'))
    )`);
    this.addSql(
      `create index deployment_due_idx on ops.deployment (next_poll_at) where next_poll_at is not null`,
    );
    this.addSql(
      `create index deployment_deploy_id_idx on ops.deployment (deploy_id) where deploy_id is not null`,
    );
    this.addSql(`create index deployment_status_idx on ops.deployment (status)`);
    this.addSql(`create table ops.deployment_observation (
      id bigserial primary key,
      deployment_id bigint not null references ops.deployment (id) on delete cascade,
      deploy_id text not null,
      attempt int not null,
      source text not null,
      ops_status text null,
      message text null,
      reported_at text null,
      effect text not null,
      observer text not null,
      observed_at timestamptz not null default now()
    )`);
    this.addSql(
      `create index deployment_observation_deployment_idx on ops.deployment_observation (deployment_id, id)`,
    );
  }
}
