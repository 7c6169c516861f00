import type { IterationPhase, IterationPhaseStatus, PipelineStatus } from "@procode/contracts";
import type { Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

/** An iteration_phase row: a release of an iteration, with its phase pipeline. */
export interface IterationPhaseRow {
  id: number;
  iterationId: number;
  appId: number;
  phaseType: IterationPhase;
  branch: string | null;
  tag: string | null;
  commitId: string | null;
  rollback: boolean;
  status: IterationPhaseStatus;
  reason: string | null;
  pipelineId: number | null;
  eventSeq: number;
  createdAt: string;
}

interface Row {
  id: string;
  iteration_id: string;
  app_id: string;
  phase_type: IterationPhase;
  branch: string | null;
  tag: string | null;
  commit_id: string | null;
  rollback: boolean;
  status: IterationPhaseStatus;
  reason: string | null;
  pipeline_id: string | null;
  event_seq: number;
  created_at: Date;
}

const toRow = (r: Row): IterationPhaseRow => ({
  id: Number(r.id),
  iterationId: Number(r.iteration_id),
  appId: Number(r.app_id),
  phaseType: r.phase_type,
  branch: r.branch,
  tag: r.tag,
  commitId: r.commit_id,
  rollback: r.rollback,
  status: r.status,
  reason: r.reason,
  pipelineId: r.pipeline_id === null ? null : Number(r.pipeline_id),
  eventSeq: r.event_seq,
  createdAt: iso(r.created_at)!,
});

export interface NewRelease {
  iterationId: number;
  appId: number;
  branch: string;
  tag: string;
  commitId: string;
  rollback: boolean;
  createdBy: string;
}

/** Records a release (phase RELEASE, status PENDING until the engine tells more). */
export async function insertRelease(db: Sql, r: NewRelease): Promise<IterationPhaseRow> {
  const res = await db.query<Row>(
    `insert into ${S}.iteration_phase (iteration_id, app_id, phase_type, branch, tag, commit_id, rollback, created_by)
     values ($1, $2, 'RELEASE', $3, $4, $5, $6, $7) returning *`,
    [r.iterationId, r.appId, r.branch, r.tag, r.commitId, r.rollback, r.createdBy],
  );
  return toRow(res.rows[0]!);
}

/** One phase row by id. */
export async function findPhase(db: Sql, id: number): Promise<IterationPhaseRow | null> {
  const res = await db.query<Row>(`select * from ${S}.iteration_phase where id = $1`, [id]);
  return res.rows[0] ? toRow(res.rows[0]) : null;
}

/** Every phase row of an iteration, oldest first. */
export async function phasesOf(db: Sql, iterationId: number): Promise<IterationPhaseRow[]> {
  const res = await db.query<Row>(`select * from ${S}.iteration_phase where iteration_id = $1 order by id`, [
    iterationId,
  ]);
  return res.rows.map(toRow);
}

/** The app's releases of a tag, by any of its iterations. */
export async function releasesOfTag(db: Sql, appId: number, tag: string): Promise<IterationPhaseRow[]> {
  const res = await db.query<Row>(
    `select * from ${S}.iteration_phase where app_id = $1 and tag = $2 and phase_type = 'RELEASE' order by id`,
    [appId, tag],
  );
  return res.rows.map(toRow);
}

/** A release nobody has heard the engine answer, with who asked for it. */
export interface UnansweredRelease extends IterationPhaseRow {
  team: string;
  createdBy: string;
}

/**
 * Releases recorded at least `olderThanMs` ago that have neither a phase pipeline nor a refusal: the
 * engine was down when they were asked, or its answer was lost. Oldest first.
 */
export async function unansweredReleases(
  db: Sql,
  olderThanMs: number,
  limit: number,
): Promise<UnansweredRelease[]> {
  const res = await db.query<Row & { team: string; created_by: string }>(
    `select p.*, i.team from ${S}.iteration_phase p join ${S}.iteration i on i.id = p.iteration_id
     where p.phase_type = 'RELEASE' and p.status = 'PENDING' and p.pipeline_id is null
       and p.created_at < now() - make_interval(secs => $1::float8 / 1000)
     order by p.id limit $2`,
    [olderThanMs, limit],
  );
  return res.rows.map((r) => ({ ...toRow(r), team: r.team, createdBy: r.created_by }));
}

/**
 * The engine's answer to a release request: the phase pipeline's id, and its status unless an event
 * of that pipeline has already been applied (events are ordered; an answer has no sequence).
 */
export async function applyPipelineAnswer(
  db: Sql,
  id: number,
  pipelineId: number,
  status: PipelineStatus | null,
): Promise<void> {
  await db.query(
    `update ${S}.iteration_phase set pipeline_id = coalesce(pipeline_id, $2),
       status = case when event_seq = 0 and $3::text is not null then $3 else status end,
       updated_at = now()
     where id = $1`,
    [id, pipelineId, status],
  );
}

/**
 * The engine refused the release (e.g. 2001, 3005): recorded with its reason. An event of a phase
 * pipeline for this row, should one come after all, still applies (the engine is the judge).
 */
export async function recordRefusal(
  db: Sql,
  id: number,
  status: "CANCELLED" | "FAILED",
  reason: string,
): Promise<void> {
  await db.query(
    `update ${S}.iteration_phase set status = $2, reason = $3, updated_at = now() where id = $1 and event_seq = 0`,
    [id, status, reason.slice(0, 2000)],
  );
}

/**
 * A phase pipeline's status change, applied when its sequence is newer than the last one applied.
 * The iteration's latest phase pipeline is the newest of its releases' pipelines (ids grow), so the
 * iteration learns it here too: the engine's event for entering RELEASE is sent before the release's
 * pipeline is attached to it. Returns "applied", "stale" (an older or repeated event) or "missing" (no such row yet).
 */
export async function applyPhasePipelineEvent(
  db: Sql,
  e: {
    iterationPhaseId: number;
    iterationId: number;
    pipelineId: number;
    parentId: number;
    status: PipelineStatus;
    reason: string | null;
    sequence: number;
  },
): Promise<"applied" | "stale" | "missing"> {
  const res = await db.query<{ applied: boolean; present: boolean }>(
    `with upd as (
       update ${S}.iteration_phase p set status = $3, pipeline_id = $2, reason = $4, event_seq = $5,
         updated_at = now()
       where p.id = $1 and p.event_seq < $5
       returning p.id
     ),
     latest as (
       update ${S}.iteration i set phase_pipeline_id = greatest(coalesce(i.phase_pipeline_id, 0), $2),
         iteration_pipeline_id = coalesce(i.iteration_pipeline_id, $7), updated_at = now()
       where i.id = $6 and exists(select 1 from upd)
         and (i.phase_pipeline_id is null or i.phase_pipeline_id < $2 or i.iteration_pipeline_id is null)
     )
     select exists(select 1 from upd) as applied,
       exists(select 1 from ${S}.iteration_phase where id = $1) as present`,
    [e.iterationPhaseId, e.pipelineId, e.status, e.reason, e.sequence, e.iterationId, e.parentId],
  );
  const r = res.rows[0]!;
  if (r.applied) return "applied";
  return r.present ? "stale" : "missing";
}
