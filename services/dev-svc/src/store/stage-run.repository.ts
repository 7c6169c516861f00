import type { PhaseStage, StageError } from "@procode/contracts";
import { iso, one, run, S, type Db } from "./sql.js";

export type StageRunStatus = "RUNNING" | "SUCCESS" | "FAILED";

/** One attempt of a stage as a runner saw it (table stage_run). */
export interface StageRunRecord {
  id: number;
  pipelineId: number;
  stage: PhaseStage;
  attempt: number;
  appId: number;
  status: StageRunStatus;
  output: Record<string, unknown> | null;
  error: StageError | null;
  /** How many times the work was started (more than 1 after a takeover from a runner that died). */
  runs: number;
  leaseOwner: string | null;
  leaseUntil: string | null;
  startedAt: string;
  finishedAt: string | null;
}

interface Row {
  id: string;
  pipeline_id: string;
  stage: PhaseStage;
  attempt: number;
  app_id: string;
  status: StageRunStatus;
  output: Record<string, unknown> | null;
  error: StageError | null;
  runs: number;
  lease_owner: string | null;
  lease_until: Date | null;
  started_at: Date;
  finished_at: Date | null;
}

const toRecord = (r: Row): StageRunRecord => ({
  id: Number(r.id),
  pipelineId: Number(r.pipeline_id),
  stage: r.stage,
  attempt: r.attempt,
  appId: Number(r.app_id),
  status: r.status,
  output: r.output,
  error: r.error,
  runs: r.runs,
  leaseOwner: r.lease_owner,
  leaseUntil: iso(r.lease_until),
  startedAt: iso(r.started_at)!,
  finishedAt: iso(r.finished_at),
});

export interface StageAttemptKey {
  pipelineId: number;
  stage: PhaseStage;
  attempt: number;
}

export async function findStageRun(em: Db, key: StageAttemptKey): Promise<StageRunRecord | null> {
  const r = await one<Row>(
    em,
    `select * from ${S}.stage_run where pipeline_id = ? and stage = ? and attempt = ?`,
    [key.pipelineId, key.stage, key.attempt],
  );
  return r ? toRecord(r) : null;
}

/** True while another runner holds the attempt (RUNNING with a lease that has not run out). */
export async function isLeased(em: Db, id: number): Promise<boolean> {
  const r = await one<{ leased: boolean }>(
    em,
    `select (status = 'RUNNING' and lease_until > now()) as leased from ${S}.stage_run where id = ?`,
    [id],
  );
  return r?.leased ?? false;
}

/**
 * Takes an attempt for `owner` for `leaseMs`: a new row, or a RUNNING row whose lease ran out (its
 * runner died; `runs` counts the takeover). Null when the attempt is finished or leased by another
 * runner: the caller then re-reads it.
 */
export async function claimStageRun(
  em: Db,
  key: StageAttemptKey,
  appId: number,
  owner: string,
  leaseMs: number,
  correlationId: string,
): Promise<StageRunRecord | null> {
  const r = await one<Row>(
    em,
    `insert into ${S}.stage_run (pipeline_id, stage, attempt, app_id, status, lease_owner, lease_until, correlation_id)
     values (?, ?, ?, ?, 'RUNNING', ?, now() + (? || ' milliseconds')::interval, ?)
     on conflict (pipeline_id, stage, attempt) do update set
       lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,
       correlation_id = excluded.correlation_id, runs = ${S}.stage_run.runs + 1, started_at = now()
     where ${S}.stage_run.status = 'RUNNING' and ${S}.stage_run.lease_until <= now()
     returning *`,
    [key.pipelineId, key.stage, key.attempt, appId, owner, String(leaseMs), correlationId],
  );
  return r ? toRecord(r) : null;
}

/** Extends the lease while the work goes on; false when the attempt is no longer this runner's. */
export async function renewStageRunLease(
  em: Db,
  id: number,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  return (
    (await run(
      em,
      `update ${S}.stage_run set lease_until = now() + (? || ' milliseconds')::interval
       where id = ? and lease_owner = ? and status = 'RUNNING'`,
      [String(leaseMs), id, owner],
    )) === 1
  );
}

/** Gives the attempt up without a result (shutdown, retry later): another runner may take it at once. */
export async function releaseStageRun(em: Db, id: number, owner: string): Promise<void> {
  await run(
    em,
    `update ${S}.stage_run set lease_until = now() where id = ? and lease_owner = ? and status = 'RUNNING'`,
    [id, owner],
  );
}

/**
 * Records the attempt's result, only while `owner` still holds it; the caller publishes the result
 * in the same transaction. False when another runner took the attempt over meanwhile.
 */
export async function finishStageRun(
  em: Db,
  id: number,
  owner: string,
  result: { status: "SUCCESS" | "FAILED"; output: Record<string, unknown> | null; error: StageError | null },
): Promise<StageRunRecord | null> {
  const r = await one<Row>(
    em,
    `update ${S}.stage_run set status = ?, output = ?::jsonb, error = ?::jsonb, finished_at = now(),
       lease_owner = null, lease_until = null
     where id = ? and lease_owner = ? and status = 'RUNNING'
     returning *`,
    [
      result.status,
      result.output === null ? null : JSON.stringify(result.output),
      result.error === null ? null : JSON.stringify(result.error),
      id,
      owner,
    ],
  );
  return r ? toRecord(r) : null;
}
