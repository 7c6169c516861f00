import type { PhaseStage, StageError } from "@procode/contracts";
import { Leases, nowPlusMs, type Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

const RUNS = `${S}.stage_run`;
/** A runner holds an attempt while it works on it (renewed; taken over when its runner died). */
const leases = new Leases({ table: RUNS, key: "id", owner: "lease_owner", until: "lease_until" });

type StageRunStatus = "RUNNING" | "SUCCESS" | "FAILED";

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

export async function findStageRun(db: Sql, key: StageAttemptKey): Promise<StageRunRecord | null> {
  const r =
    (
      await db.query<Row>(
        `select * from ${S}.stage_run where pipeline_id = $1 and stage = $2 and attempt = $3`,
        [key.pipelineId, key.stage, key.attempt],
      )
    ).rows[0] ?? null;
  return r ? toRecord(r) : null;
}

/** True while another runner holds the attempt (RUNNING with a lease that has not run out). */
export async function isLeased(db: Sql, id: number): Promise<boolean> {
  const r =
    (
      await db.query<{ leased: boolean }>(
        `select (status = 'RUNNING' and lease_until > now()) as leased from ${S}.stage_run where id = $1`,
        [id],
      )
    ).rows[0] ?? null;
  return r?.leased ?? false;
}

/**
 * Takes an attempt for `owner` for `leaseMs`: a new row, or a RUNNING row whose lease ran out (its
 * runner died; `runs` counts the takeover). Null when the attempt is finished or leased by another
 * runner: the caller then re-reads it.
 */
export async function claimStageRun(
  db: Sql,
  key: StageAttemptKey,
  appId: number,
  owner: string,
  leaseMs: number,
  correlationId: string,
): Promise<StageRunRecord | null> {
  const { rows } = await db.query<Row>(
    `insert into ${RUNS} as r (pipeline_id, stage, attempt, app_id, status, lease_owner, lease_until, correlation_id)
     values ($1, $2, $3, $4, 'RUNNING', $5, ${nowPlusMs("$6")}, $7)
     on conflict (pipeline_id, stage, attempt) do update set
       lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,
       correlation_id = excluded.correlation_id, runs = r.runs + 1, started_at = now()
     where r.status = 'RUNNING' and (r.lease_until is null or r.lease_until <= now())
     returning *`,
    [key.pipelineId, key.stage, key.attempt, appId, owner, leaseMs, correlationId],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Extends the lease while the work goes on; false when the attempt is no longer this runner's. */
export function renewStageRunLease(db: Sql, id: number, owner: string, leaseMs: number): Promise<boolean> {
  return leases.renew(db, id, owner, leaseMs, "status = 'RUNNING'");
}

/** Gives the attempt up without a result (shutdown, retry later): another runner may take it at once. */
export async function releaseStageRun(db: Sql, id: number, owner: string): Promise<void> {
  await leases.giveBack(db, id, owner, "status = 'RUNNING'");
}

/**
 * Records the attempt's result, only while `owner` still holds it; the caller publishes the result
 * in the same transaction. False when another runner took the attempt over meanwhile.
 */
export async function finishStageRun(
  db: Sql,
  id: number,
  owner: string,
  result: { status: "SUCCESS" | "FAILED"; output: Record<string, unknown> | null; error: StageError | null },
): Promise<StageRunRecord | null> {
  const r =
    (
      await db.query<Row>(
        `update ${S}.stage_run set status = $1, output = $2::jsonb, error = $3::jsonb, finished_at = now(),
       lease_owner = null, lease_until = null
     where id = $4 and lease_owner = $5 and status = 'RUNNING'
     returning *`,
        [
          result.status,
          result.output === null ? null : JSON.stringify(result.output),
          result.error === null ? null : JSON.stringify(result.error),
          id,
          owner,
        ],
      )
    ).rows[0] ?? null;
  return r ? toRecord(r) : null;
}
