import { Migration } from "@mikro-orm/migrations";

/**
 * dev-svc's git integration: the projection of apps from app-svc's events, the seed's git_repo
 * (4.1, unique uk_app_id) with the state of its binding, credentials (token sealed, never in clear),
 * webhook deliveries (every one, rejected ones with their reason; never a secret), branch heads and
 * tag pushes learnt from deliveries, and the read-through cache of branch and tag lists.
 */
export class Migration20260301000001_git_integration extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "dev".app_projection (
      app_id bigint primary key,
      team varchar(100) not null,
      name varchar(100) not null,
      dev_mode varchar(20) not null,
      tech_stack varchar(50) null,
      revision int not null,
      procode jsonb null,
      created_by varchar(200) not null,
      app_updated_at timestamptz not null,
      projected_at timestamptz not null default now()
    )`);
    this.addSql(`create index app_projection_team_idx on "dev".app_projection (team)`);

    this.addSql(`create table "dev".credential (
      id uuid primary key,
      team varchar(100) not null,
      git_type varchar(20) not null,
      name varchar(100) not null,
      username varchar(200) null,
      token_key_id varchar(50) not null,
      token_ciphertext text not null,
      created_by varchar(200) not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    this.addSql(`create index credential_team_idx on "dev".credential (team, created_at)`);

    this.addSql(`create table "dev".git_repo (
      id bigserial primary key,
      app_id bigint not null,
      team varchar(100) not null,
      external_git_url varchar(500) not null,
      git_type varchar(20) not null,
      credential_id varchar(100) null,
      webhook_url varchar(500) null,
      webhook_secret_key_id varchar(50) null,
      webhook_secret_ciphertext text null,
      webhook_id varchar(100) null,
      webhook_repo_url varchar(500) null,
      webhook_git_type varchar(20) null,
      webhook_credential_id varchar(100) null,
      state varchar(20) not null default 'PENDING',
      last_error text null,
      attempts int not null default 0,
      next_attempt_at timestamptz null,
      generation int not null default 1,
      default_branch varchar(255) null,
      is_empty boolean null,
      scaffold_template varchar(100) null,
      scaffold_state varchar(30) not null default 'NOT_REQUESTED',
      scaffold_message text null,
      bound_at timestamptz null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint uk_app_id unique (app_id)
    )`);
    this.addSql(
      `create index git_repo_due_idx on "dev".git_repo (next_attempt_at) where next_attempt_at is not null`,
    );
    this.addSql(`create index git_repo_credential_idx on "dev".git_repo (credential_id)`);

    this.addSql(`create table "dev".webhook_delivery (
      id bigserial primary key,
      app_id bigint not null,
      git_type varchar(20) not null,
      delivery_id varchar(200) not null,
      event varchar(100) null,
      status varchar(20) not null,
      reason text null,
      headers jsonb not null,
      payload jsonb null,
      body_sha256 char(64) not null,
      body_bytes int not null,
      remote_addr varchar(100) null,
      attempts int not null default 0,
      next_attempt_at timestamptz null,
      received_at timestamptz not null default now(),
      processed_at timestamptz null
    )`);
    // Dedupe by delivery id; a rejected (forged) delivery never blocks the genuine one.
    this.addSql(
      `create unique index webhook_delivery_dedupe_uk on "dev".webhook_delivery (app_id, git_type, delivery_id) where status <> 'REJECTED'`,
    );
    this.addSql(
      `create index webhook_delivery_queue_idx on "dev".webhook_delivery (next_attempt_at, id) where status = 'RECEIVED'`,
    );
    this.addSql(`create index webhook_delivery_app_idx on "dev".webhook_delivery (app_id, received_at)`);
    this.addSql(`create index webhook_delivery_received_idx on "dev".webhook_delivery (received_at)`);

    this.addSql(`create table "dev".branch_head (
      app_id bigint not null,
      branch varchar(255) not null,
      commit_id varchar(64) not null,
      before_commit_id varchar(64) null,
      delivery_seq bigint not null,
      updated_at timestamptz not null default now(),
      primary key (app_id, branch)
    )`);

    this.addSql(`create table "dev".tag_push (
      id bigserial primary key,
      app_id bigint not null,
      tag varchar(255) not null,
      commit_id varchar(64) null,
      before_commit_id varchar(64) null,
      deleted boolean not null,
      delivery_seq bigint not null,
      recorded_at timestamptz not null default now()
    )`);
    this.addSql(`create unique index tag_push_delivery_uk on "dev".tag_push (delivery_seq)`);
    this.addSql(`create index tag_push_app_tag_idx on "dev".tag_push (app_id, tag, id)`);

    this.addSql(`create table "dev".ref_cache (
      app_id bigint not null,
      kind varchar(10) not null,
      items jsonb not null,
      fetched_at timestamptz not null,
      invalidated_at timestamptz null,
      primary key (app_id, kind)
    )`);
  }
}
