import { Migration } from "@mikro-orm/migrations";

/**
 * Iterations and releases: the seed's `iteration` and `iteration_phase` (4.1, indexes 4.2), with what
 * dev-svc learns from pipeline-engine (pipeline ids, the last event sequence applied), and a count of
 * an app's iterations per status kept by a statement trigger, so that a page of a long list never
 * counts its rows.
 */
export class Migration20260302000001_iterations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "dev".iteration (
      id bigserial primary key,
      app_id bigint not null,
      team varchar(100) not null,
      name varchar(100) not null,
      status varchar(20) not null default 'DRAFT',
      source_branch varchar(100) not null,
      current_phase varchar(20) null,
      head_commit varchar(64) null,
      head_commit_at timestamptz null,
      iteration_pipeline_id bigint null,
      phase_pipeline_id bigint null,
      event_seq int not null default 0,
      release_lock_id uuid null,
      release_lock_until timestamptz null,
      created_by varchar(200) not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    // idx_app_id, with the id as second column: a page of an app's iterations, newest first,
    // is read from this index alone (the primary key could serve the order too, but would walk
    // through every other app's newer rows to find it).
    this.addSql(`create index idx_app_id on "dev".iteration (app_id, id desc)`);
    this.addSql(`create index idx_app_status on "dev".iteration (app_id, status, id desc)`);

    this.addSql(`create table "dev".iteration_phase (
      id bigserial primary key,
      iteration_id bigint not null,
      app_id bigint not null,
      phase_type varchar(20) not null,
      branch varchar(100) null,
      tag varchar(100) null,
      commit_id varchar(64) null,
      rollback boolean not null default false,
      status varchar(20) not null default 'PENDING',
      reason text null,
      pipeline_id bigint null,
      event_seq int not null default 0,
      created_by varchar(200) not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    this.addSql(`create index idx_iteration_id on "dev".iteration_phase (iteration_id, id)`);
    // "Did this app release that tag before?" (rollback).
    this.addSql(`create index idx_app_tag on "dev".iteration_phase (app_id, tag)`);

    this.addSql(`create table "dev".iteration_count (
      app_id bigint not null,
      status varchar(20) not null,
      n bigint not null,
      primary key (app_id, status)
    )`);
    // Statement triggers with transition tables: one upsert per statement however many rows it
    // touched; counter rows are locked in (app_id, status) order so two transactions never deadlock.
    this.addSql(`create function "dev".iteration_count_apply() returns trigger language plpgsql as $fn$
    begin
      if tg_op = 'INSERT' then
        insert into "dev".iteration_count (app_id, status, n)
          select app_id, status, count(*) from new_rows group by app_id, status order by app_id, status
        on conflict (app_id, status) do update set n = "dev".iteration_count.n + excluded.n;
      elsif tg_op = 'UPDATE' then
        insert into "dev".iteration_count (app_id, status, n)
          select app_id, status, sum(d) from (
            select app_id, status, -1 as d from old_rows
            union all
            select app_id, status, 1 as d from new_rows
          ) c group by app_id, status having sum(d) <> 0 order by app_id, status
        on conflict (app_id, status) do update set n = "dev".iteration_count.n + excluded.n;
      else
        insert into "dev".iteration_count (app_id, status, n)
          select app_id, status, -count(*) from old_rows group by app_id, status order by app_id, status
        on conflict (app_id, status) do update set n = "dev".iteration_count.n + excluded.n;
      end if;
      return null;
    end
    $fn$`);
    this.addSql(`create trigger iteration_count_insert after insert on "dev".iteration
      referencing new table as new_rows for each statement execute function "dev".iteration_count_apply()`);
    this.addSql(`create trigger iteration_count_update after update on "dev".iteration
      referencing old table as old_rows new table as new_rows
      for each statement execute function "dev".iteration_count_apply()`);
    this.addSql(`create trigger iteration_count_delete after delete on "dev".iteration
      referencing old table as old_rows for each statement execute function "dev".iteration_count_apply()`);
  }
}
