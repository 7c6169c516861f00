import {
  type IterationMachineState,
  type IterationPhaseRecord,
  type IterationStatus,
  MAX_PAGE_SIZE,
} from "@procode/contracts";
import { Leases, type Sql } from "@procode/service-kit";
import { S } from "./sql.js";

/** An iteration with its release phases, as dev-svc shows it. */
export interface IterationRecord {
  id: number;
  appId: number;
  team: string;
  name: string;
  status: IterationStatus;
  sourceBranch: string;
  currentPhase: IterationMachineState | null;
  /** The newer of the branch head a push reported and the commit resolved at creation or release. */
  headCommit: string | null;
  iterationPipelineId: number | null;
  phasePipelineId: number | null;
  /** Sequence of the last `iteration_phase_changed` applied. */
  eventSeq: number;
  phases: IterationPhaseRecord[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

interface PhaseJson {
  id: number;
  phaseType: IterationPhaseRecord["phaseType"];
  branch: string | null;
  tag: string | null;
  commitId: string | null;
  status: IterationPhaseRecord["status"];
  pipelineId: number | null;
  rollback: boolean;
  reason: string | null;
  createdAt: string;
}

interface Row {
  id: string;
  app_id: string;
  team: string;
  name: string;
  status: IterationStatus;
  source_branch: string;
  current_phase: IterationMachineState | null;
  head_commit: string | null;
  iteration_pipeline_id: string | null;
  phase_pipeline_id: string | null;
  event_seq: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  phases: PhaseJson[];
}

/** One release request of an iteration at a time (a lease, so a crashed request frees it). */
const releaseLocks = new Leases({
  table: `${S}.iteration`,
  key: "id",
  owner: "release_lock_id",
  until: "release_lock_until",
});

const num = (v: string | null): number | null => (v === null ? null : Number(v));

const toRecord = (r: Row): IterationRecord => ({
  id: Number(r.id),
  appId: Number(r.app_id),
  team: r.team,
  name: r.name,
  status: r.status,
  sourceBranch: r.source_branch,
  currentPhase: r.current_phase,
  headCommit: r.head_commit,
  iterationPipelineId: num(r.iteration_pipeline_id),
  phasePipelineId: num(r.phase_pipeline_id),
  eventSeq: r.event_seq,
  phases: r.phases.map((p) => ({
    id: p.id,
    phaseType: p.phaseType,
    branch: p.branch,
    tag: p.tag,
    commitId: p.commitId,
    status: p.status,
    pipelineId: p.pipelineId,
    rollback: p.rollback,
    reason: p.reason,
    createdAt: p.createdAt,
  })),
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** A timestamp as the API shows it (`2026-03-02T10:00:00.000Z`), formatted by PostgreSQL. */
const ISO = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The columns of an iteration as shown, `i` joined with the head a push reported (`bh`). */
const COLUMNS = `i.id, i.app_id, i.team, i.name, i.status, i.source_branch, i.current_phase,
  case when bh.commit_id is not null and (i.head_commit_at is null or bh.updated_at > i.head_commit_at)
    then bh.commit_id else i.head_commit end as head_commit,
  i.iteration_pipeline_id, i.phase_pipeline_id, i.event_seq, i.created_by,
  ${ISO("i.created_at")} as created_at, ${ISO("i.updated_at")} as updated_at,
  coalesce((select json_agg(json_build_object('id', p.id, 'phaseType', p.phase_type, 'branch', p.branch,
      'tag', p.tag, 'commitId', p.commit_id, 'status', p.status, 'pipelineId', p.pipeline_id,
      'rollback', p.rollback, 'reason', p.reason, 'createdAt', ${ISO("p.created_at")}) order by p.id)
    from ${S}.iteration_phase p where p.iteration_id = i.id), '[]'::json) as phases`;

const HEAD_JOIN = `left join ${S}.branch_head bh on bh.app_id = i.app_id and bh.branch = i.source_branch`;

export interface NewIteration {
  appId: number;
  team: string;
  name: string;
  sourceBranch: string;
  headCommit: string | null;
  createdBy: string;
}

export async function insertIteration(db: Sql, it: NewIteration): Promise<number> {
  const res = await db.query<{ id: string }>(
    `insert into ${S}.iteration (app_id, team, name, source_branch, head_commit, head_commit_at, created_by)
     values ($1, $2, $3, $4, $5::varchar, case when $5::varchar is null then null else now() end, $6) returning id`,
    [it.appId, it.team, it.name, it.sourceBranch, it.headCommit, it.createdBy],
  );
  return Number(res.rows[0]!.id);
}

export async function findIteration(db: Sql, id: number): Promise<IterationRecord | null> {
  const res = await db.query<Row>(
    `select ${COLUMNS} from ${S}.iteration i ${HEAD_JOIN} where i.id = $1`,
    [id],
    "dev_iteration_by_id",
  );
  return res.rows[0] ? toRecord(res.rows[0]) : null;
}

/**
 * A page of an app's iterations, newest first, how many there are (from `iteration_count`, kept by a
 * trigger), whether more follow the page, and the app's team (for the caller's check), in one round
 * trip. The page's ids come from an index-only scan of idx_app_id (or idx_app_status), then the rows
 * are fetched by primary key: the planner never walks the primary key through other apps' rows. By
 * offset a deep page skips index entries; `before` (keyset paging: the last id of the page before)
 * starts the scan where that page ended, so its cost does not grow with depth.
 *
 * The page's ids are taken at most MAX_PAGE_SIZE at a time, then `limit $2`. The inner limit changes
 * no answer (the query schema bounds the page size); it is there for PostgreSQL's plan cache. A
 * named statement is planned for its parameters five times, then PostgreSQL keeps one plan for every
 * call if that plan's estimate is no dearer than theirs. It estimates a LIMIT or OFFSET it cannot see
 * as a tenth of the app's rows, so without the inner limit it judged the shared plan dearer and
 * planned every page anew: 0.65 ms of planning for 0.4 ms of execution, most of PostgreSQL's CPU per
 * page (docs/performance.md, "Round 2, fifth pass").
 */
export async function listIterations(
  db: Sql,
  appId: number,
  q: { status?: IterationStatus | undefined; limit: number; offset: number; before?: number | undefined },
): Promise<{ appTeam: string | null; items: IterationRecord[]; total: number; more: boolean }> {
  const byStatus = q.status !== undefined;
  const keyset = q.before !== undefined;
  const filter = byStatus ? `app_id = $1 and status = $4` : `app_id = $1`;
  // $3 is the offset, or the last id of the page before.
  const position = keyset ? `and id < $3 order by id desc` : `order by id desc offset $3`;
  const res = await db.query<
    Row & { total: string; app_team: string | null; id: string | null; more: boolean }
  >(
    `with page as (
       select id from (select id from ${S}.iteration where ${filter} ${position} limit ${MAX_PAGE_SIZE}) top
       order by id desc limit $2
     )
     select (select team from ${S}.app_projection where app_id = $1) as app_team,
       (select coalesce(sum(n), 0) from ${S}.iteration_count where ${filter}) as total,
       exists (select 1 from ${S}.iteration where ${filter} and id < (select min(id) from page)) as more,
       x.*
     from (select 1) one
     left join lateral (
       select ${COLUMNS} from page join ${S}.iteration i on i.id = page.id ${HEAD_JOIN}
     ) x on true
     order by x.id desc`,
    [appId, q.limit, keyset ? q.before : q.offset, ...(byStatus ? [q.status] : [])],
    `dev_iterations_of_app${byStatus ? "_by_status" : ""}${keyset ? "_after" : ""}`,
  );
  const first = res.rows[0];
  const items = res.rows.filter((r) => r.id !== null).map(toRecord);
  return {
    appTeam: first?.app_team ?? null,
    items,
    total: Number(first?.total ?? 0),
    more: first?.more ?? false,
  };
}

/** The iteration row, locked for the rest of the transaction (null when it does not exist). */
export async function lockIteration(
  db: Sql,
  id: number,
): Promise<{ eventSeq: number; phase: IterationMachineState | null; phasePipelineId: number | null } | null> {
  const res = await db.query<{
    event_seq: number;
    current_phase: IterationMachineState | null;
    phase_pipeline_id: string | null;
  }>(`select event_seq, current_phase, phase_pipeline_id from ${S}.iteration where id = $1 for update`, [id]);
  const r = res.rows[0];
  return r
    ? { eventSeq: r.event_seq, phase: r.current_phase, phasePipelineId: num(r.phase_pipeline_id) }
    : null;
}

export interface ProgressUpdate {
  status: IterationStatus;
  currentPhase: IterationMachineState;
  iterationPipelineId: number | null;
  phasePipelineId: number | null;
}

/** Sets the iteration's progress (pipeline ids only ever filled in, never cleared). */
export async function setProgress(db: Sql, id: number, u: ProgressUpdate, eventSeq?: number): Promise<void> {
  await db.query(
    `update ${S}.iteration set status = $2, current_phase = $3,
       iteration_pipeline_id = coalesce($4, iteration_pipeline_id),
       phase_pipeline_id = coalesce($5, phase_pipeline_id),
       event_seq = greatest(event_seq, coalesce($6, 0)), updated_at = now()
     where id = $1`,
    [id, u.status, u.currentPhase, u.iterationPipelineId, u.phasePipelineId, eventSeq ?? null],
  );
}

/** Records that an event was seen although an answer to a request had already moved further. */
export async function setEventSeq(db: Sql, id: number, eventSeq: number): Promise<void> {
  await db.query(`update ${S}.iteration set event_seq = greatest(event_seq, $2) where id = $1`, [
    id,
    eventSeq,
  ]);
}

/** The head of the source branch as just resolved from the provider. */
export async function setHeadCommit(db: Sql, id: number, commitId: string): Promise<void> {
  await db.query(
    `update ${S}.iteration set head_commit = $2, head_commit_at = now(), updated_at = now() where id = $1`,
    [id, commitId],
  );
}

/**
 * Takes the iteration's release lock until `untilMs` (a release resolves, tags, records and asks the
 * engine under it, so two requests never tag at once); false when another request holds it.
 */
export function takeReleaseLock(db: Sql, id: number, lockId: string, holdMs: number): Promise<boolean> {
  return releaseLocks.take(db, id, lockId, holdMs);
}

export async function freeReleaseLock(db: Sql, id: number, lockId: string): Promise<void> {
  await releaseLocks.giveBack(db, id, lockId);
}
