import type { Sql, WithPart } from "@procode/service-kit";
import type { ListPipelinesQuery } from "@procode/contracts";
import type { PipelineRecord, TransitionRecord } from "../domain/pipeline.model.js";
import {
  iso,
  ms,
  mutableColumns,
  pgArray,
  S,
  SELECT,
  RECORD,
  FROM,
  SELECT_WITH_APP_PHASES,
  toRecord,
  type PipelineRow,
  type Stamp,
} from "./pipeline-row.js";

/**
 * SQL of the engine's tables: parameterized statements on the connection of the outbox's plain SQL
 * transaction (`outbox.sqlTransaction`) rather than the ORM's unit of work, because the hot path
 * reads and writes whole batches of pipelines in a few set-based statements, and the ORM's cost per
 * transaction and the query builder's per statement (and per byte of inlined JSON) would dominate it.
 */

/** A pool of plain connections for the REST reads (outside any transaction, no query builder). */
export interface ReadPool {
  query<T extends object>(text: string, params: unknown[]): Promise<{ rows: T[] }>;
  query<T extends object>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: T[] }>;
}

export class PipelineRepository {
  /**
   * Pipelines by id, with the iteration pipelines of the phase pipelines among them. The parents'
   * ids are gathered into the id array (rather than `id = any(..) or id in (select ..)`, which
   * PostgreSQL can only answer with a scan of the whole table), so it is one primary-key lookup.
   */
  async loadWithParents(db: Sql, ids: readonly number[]) {
    if (!ids.length) return [];
    const { rows } = await db.query<PipelineRow>(
      `${SELECT} where p.id = any($1::bigint[] || array(
         select parent_id from ${S}.pipeline where id = any($1::bigint[]) and parent_id is not null))`,
      [pgArray(ids)],
      "pipeline-load-with-parents",
    );
    return rows.map(toRecord);
  }

  /** Iteration pipelines by iteration id and phase pipelines by iteration_phase id. */
  async loadByRefs(db: Sql, iterationIds: readonly number[], iterationPhaseIds: readonly number[]) {
    if (!iterationIds.length && !iterationPhaseIds.length) return [];
    const { rows } = await db.query<PipelineRow>(
      `${SELECT} where (p.type = 'ITERATION' and p.ref_id = any($1::bigint[]))
       or (p.type = 'PHASE' and p.ref_id = any($2::bigint[]))`,
      [pgArray(iterationIds), pgArray(iterationPhaseIds)],
      "pipeline-load-by-refs",
    );
    return rows.map(toRecord);
  }

  /** Inserts a new pipeline (version 0); null when one exists for its (type, refId). */
  async insert(db: Sql, p: PipelineRecord): Promise<{ id: number; createdAt: string } | null> {
    const { rows } = await db.query<{ id: string; created_at: Stamp }>(
      `insert into ${S}.pipeline (type, parent_id, ref_id, app_id, team, iteration_id, status, state,
         current_stage, stage_configs, deploy_config, tag, rollback)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, $13)
       on conflict (type, ref_id) do nothing
       returning id, created_at`,
      [
        p.type,
        p.parentId,
        p.refId,
        p.appId,
        p.team,
        p.iterationId,
        p.status,
        p.state,
        p.currentStage,
        JSON.stringify(p.stageConfigs),
        p.type === "PHASE" && p.deployConfig ? JSON.stringify(p.deployConfig) : null,
        p.type === "PHASE" ? p.tag : null,
        p.type === "PHASE" && p.rollback,
      ],
      "pipeline-insert",
    );
    const row = rows[0];
    return row ? { id: Number(row.id), createdAt: iso(row.created_at) } : null;
  }

  /**
   * Writes a unit of work in one statement (one round trip): the changed pipelines, each only if
   * its version is still the one read (optimistic lock), the transitions, the timers and the lease
   * renewals, and the transaction's outbox rows when given (`SqlTxContext.takeOutboxInsert`, its
   * parameters from $6). Returns how many pipelines were written; fewer than given means another
   * transaction changed one of them first, and the caller rolls the whole transaction back.
   */
  async persist(
    db: Sql,
    w: {
      pipelines: { record: PipelineRecord; version: number }[];
      transitions: TransitionRecord[];
      timers: { id: number; wakeAt: number | null }[];
      leaseRenewals: { appId: number; holderId: number; expiresAtMs: number | null }[];
      outbox: WithPart | null;
    },
  ): Promise<number> {
    const setTimers = w.timers.filter((t) => t.wakeAt !== null).map((t) => ({ id: t.id, ms: t.wakeAt }));
    const clearTimers = w.timers.filter((t) => t.wakeAt === null).map((t) => t.id);
    const { rows } = await db.query<{ written: number }>(
      `with upd as (
         update ${S}.pipeline p set
           status = v.status, state = v.state, current_stage = v.current_stage,
           current_retries = v.current_retries, attempt = v.attempt, step = v.step,
           deploy_status = v.deploy_status, deploy_id = v.deploy_id,
           deploy_deadline = to_timestamp(v.deploy_deadline_ms / 1000.0),
           queued = v.queued, rejected = v.rejected, failed_stage = v.failed_stage, error = v.error,
           checkpoints = v.checkpoints, republish_count = v.republish_count, event_seq = v.event_seq,
           transition_seq = v.transition_seq, latest_child_id = v.latest_child_id,
           latest_child_status = v.latest_child_status,
           latest_iteration_phase_id = v.latest_iteration_phase_id, iteration_status = v.iteration_status,
           version = p.version + 1, updated_at = now()
         from jsonb_to_recordset($1::jsonb) as v(
           id bigint, version int, status text, state text, current_stage text, current_retries int,
           attempt int, step text, deploy_status text, deploy_id text, deploy_deadline_ms float8,
           queued boolean, rejected boolean, failed_stage text, error text, checkpoints jsonb,
           republish_count int, event_seq int, transition_seq int, latest_child_id bigint,
           latest_child_status text, latest_iteration_phase_id bigint, iteration_status text)
         where p.id = v.id and p.version = v.version
         returning p.id),
       tr as (
         insert into ${S}.transition (pipeline_id, seq, from_state, to_state, event, actor, at)
         select pipeline_id, seq, from_state, to_state, event, actor, at
         from jsonb_to_recordset($2::jsonb) as t(pipeline_id bigint, seq int, from_state text, to_state text,
           event text, actor text, at timestamptz)),
       ts as (
         insert into ${S}.timer (pipeline_id, wake_at)
         select x.id, to_timestamp(x.ms / 1000.0) from jsonb_to_recordset($3::jsonb) as x(id bigint, ms float8)
         on conflict (pipeline_id) do update set wake_at = excluded.wake_at),
       td as (delete from ${S}.timer where pipeline_id = any($4::bigint[])),
       lr as (
         update ${S}.app_lease l set expires_at = to_timestamp(r.ms / 1000.0)
         from jsonb_to_recordset($5::jsonb) as r(app_id bigint, holder_id bigint, ms float8)
         where l.app_id = r.app_id and l.holder_id = r.holder_id)
       ${w.outbox ? `, ob as (${w.outbox.text})` : ""}
       select count(*)::int as written from upd`,
      [
        JSON.stringify(w.pipelines.map((i) => ({ ...mutableColumns(i.record), version: i.version }))),
        JSON.stringify(
          w.transitions.map((t) => ({
            pipeline_id: t.pipelineId,
            seq: t.seq,
            from_state: t.from,
            to_state: t.to,
            event: t.event,
            actor: t.actor,
            at: t.at,
          })),
        ),
        JSON.stringify(setTimers),
        pgArray(clearTimers),
        JSON.stringify(
          w.leaseRenewals.map((i) => ({ app_id: i.appId, holder_id: i.holderId, ms: i.expiresAtMs })),
        ),
        ...(w.outbox?.params ?? []),
      ],
      w.outbox ? "pipeline-persist-outbox" : "pipeline-persist",
    );
    return rows[0]?.written ?? 0;
  }

  /** Pipelines whose timer is due, locked for this transaction (other engines skip them). */
  async lockDue(db: Sql, limit: number): Promise<number[]> {
    const { rows } = await db.query<{ pipeline_id: string }>(
      `select pipeline_id from ${S}.timer where wake_at <= now() order by wake_at limit $1 for update skip locked`,
      [limit],
      "pipeline-lock-due",
    );
    return rows.map((r) => Number(r.pipeline_id));
  }

  /** Brings every waiting stage request forward to within `spreadMs` (run once on start). */
  async redriveRequests(db: Sql, spreadMs: number): Promise<number> {
    const res = await db.query(
      `update ${S}.timer t set wake_at = now() + (random() * $1) * interval '1 millisecond'
       from ${S}.pipeline p
       where p.id = t.pipeline_id and p.step = 'REQUESTED' and t.wake_at > now() + $2 * interval '1 millisecond'`,
      [spreadMs, spreadMs],
    );
    return res.rowCount;
  }

  // --- app release leases -------------------------------------------------------------------

  /** Takes the app's lease for `holderId` when it is free, expired or already its own. */
  async tryAcquireLease(
    db: Sql,
    appId: number,
    holderId: number,
    expiresAtMs: number | null,
  ): Promise<boolean> {
    const { rows } = await db.query<{ holder_id: string }>(
      `insert into ${S}.app_lease (app_id, holder_id, expires_at) values ($1, $2, to_timestamp($3 / 1000.0))
       on conflict (app_id) do update set holder_id = excluded.holder_id, expires_at = excluded.expires_at,
         acquired_at = now()
       where ${S}.app_lease.holder_id = excluded.holder_id
          or (${S}.app_lease.expires_at is not null and ${S}.app_lease.expires_at < now())
       returning holder_id`,
      [appId, holderId, expiresAtMs],
      "pipeline-lease-acquire",
    );
    return rows.length === 1;
  }

  /** When the app's lease expires (null: no lease or no expiry). */
  async leaseExpiry(db: Sql, appId: number): Promise<number | null> {
    const { rows } = await db.query<{ expires_at: Stamp | null }>(
      `select expires_at from ${S}.app_lease where app_id = $1`,
      [appId],
    );
    return ms(rows[0]?.expires_at ?? null);
  }

  /** Whether an older queued release of the app is waiting (queues start in creation order). */
  async hasOlderQueued(db: Sql, appId: number, id: number): Promise<boolean> {
    const { rows } = await db.query<unknown>(
      `select 1 from ${S}.pipeline where app_id = $1 and queued and status = 'PENDING' and id < $2 limit 1`,
      [appId, id],
    );
    return rows.length > 0;
  }

  /**
   * Hands back leases and wakes the oldest queued release of each app now. Returns the woken
   * pipelines (so the local sweeper can look at once).
   */
  async releaseLeases(
    db: Sql,
    items: { appId: number; pipelineId: number }[],
    exclude: readonly number[],
  ): Promise<number[]> {
    if (!items.length) return [];
    const apps = [...new Set(items.map((i) => i.appId))];
    // One statement: the leases go, and the next queued release of each app gets a timer due now.
    const { rows } = await db.query<{ id: string }>(
      `with released as (
         delete from ${S}.app_lease l using jsonb_to_recordset($3::jsonb) as v(app_id bigint, holder_id bigint)
         where l.app_id = v.app_id and l.holder_id = v.holder_id)
       insert into ${S}.timer (pipeline_id, wake_at)
       select distinct on (app_id) id, now() from ${S}.pipeline
       where app_id = any($1::bigint[]) and queued and status = 'PENDING' and not (id = any($2::bigint[]))
       order by app_id, id
       on conflict (pipeline_id) do update set wake_at = excluded.wake_at
       returning pipeline_id as id`,
      [
        pgArray(apps),
        pgArray(exclude),
        JSON.stringify(items.map((i) => ({ app_id: i.appId, holder_id: i.pipelineId }))),
      ],
      "pipeline-lease-release",
    );
    return rows.map((r) => Number(r.id));
  }

  // --- reads for the REST API ---------------------------------------------------------------

  /**
   * A pipeline of the team, and for an iteration pipeline the phases of its app as the engine keeps
   * them (what its `awaiting` names), in one statement: GET /pipelines/{id} is one round trip.
   */
  async findForTeam(
    db: ReadPool,
    id: number,
    team: string,
  ): Promise<{ pipeline: PipelineRecord; appPhases: unknown } | null> {
    const { rows } = await db.query<PipelineRow & { app_phases: unknown }>({
      name: "pipeline-get",
      text: `${SELECT_WITH_APP_PHASES} where p.id = $1 and p.team = $2`,
      values: [id, team],
    });
    return rows[0] ? { pipeline: toRecord(rows[0]).record, appPhases: rows[0].app_phases } : null;
  }

  async list(
    db: ReadPool,
    q: ListPipelinesQuery,
    team: string,
  ): Promise<{ items: PipelineRecord[]; total: number }> {
    const where: string[] = ["p.team = $1"];
    const params: unknown[] = [team];
    const filters: [keyof ListPipelinesQuery, string][] = [
      ["refId", "p.ref_id"],
      ["parentId", "p.parent_id"],
      ["appId", "p.app_id"],
      ["type", "p.type"],
      ["status", "p.status"],
    ];
    for (const [key, column] of filters) {
      if (q[key] !== undefined) {
        params.push(q[key]);
        where.push(`${column} = $${params.length}`);
      }
    }
    const { rows } = await db.query<PipelineRow & { total: string }>(
      `select ${RECORD}, count(*) over () as total ${FROM}
       where ${where.join(" and ")} order by p.id desc limit $${params.length + 1} offset $${params.length + 2}`,
      [...params, q.pageSize, (q.page - 1) * q.pageSize],
    );
    let total = rows[0] ? Number(rows[0].total) : 0;
    if (!rows.length && q.page > 1) {
      const c = await db.query<{ n: string }>(
        `select count(*) as n from ${S}.pipeline p where ${where.join(" and ")}`,
        params,
      );
      total = Number(c.rows[0]?.n ?? 0);
    }
    return { items: rows.map((r) => toRecord(r).record), total };
  }
}
