import type { PhaseStage } from "@procode/contracts";
import { Leases, nowPlusMs, type Sql } from "@procode/service-kit";
import type { CommitState, StageStatus } from "../domain/commit-status.js";
import { iso, S } from "./sql.js";

const TABLE = `${S}.commit_status`;
/** The worker holds a row while it pushes it; a worker that died leaves the lease to run out. */
const leases = new Leases({ table: TABLE, key: "id", until: "lease_until" });

/** The release a status is about: its pipeline, app and released commit. */
export interface StatusTarget {
  pipelineId: number;
  appId: number;
  iterationPhaseId: number;
  commitId: string;
}

/** A row of commit_status (one stage's context on the released commit). */
export interface CommitStatusRecord extends StatusTarget {
  id: number;
  stage: PhaseStage;
  state: CommitState;
  attempt: number;
  description: string;
  version: number;
  pushedVersion: number;
  refusedVersion: number;
  pushAttempts: number;
  lastError: string | null;
  pushedAt: string | null;
}

interface Row {
  id: string;
  pipeline_id: string;
  stage: PhaseStage;
  app_id: string;
  iteration_phase_id: string;
  commit_id: string;
  state: CommitState;
  attempt: number;
  description: string;
  version: number;
  pushed_version: number;
  refused_version: number;
  push_attempts: number;
  last_error: string | null;
  pushed_at: Date | null;
}

const toRecord = (r: Row): CommitStatusRecord => ({
  id: Number(r.id),
  pipelineId: Number(r.pipeline_id),
  stage: r.stage,
  appId: Number(r.app_id),
  iterationPhaseId: Number(r.iteration_phase_id),
  commitId: r.commit_id,
  state: r.state,
  attempt: r.attempt,
  description: r.description,
  version: r.version,
  pushedVersion: r.pushed_version,
  refusedVersion: r.refused_version,
  pushAttempts: r.push_attempts,
  lastError: r.last_error,
  pushedAt: iso(r.pushed_at),
});

/**
 * Records each stage's new state where it is later than the recorded one (the order key (attempt,
 * rank), compared in the statement so concurrent consumers cannot undo each other). Returns how
 * many rows changed.
 */
export async function recordStatuses(
  sql: Sql,
  target: StatusTarget,
  statuses: StageStatus[],
): Promise<number> {
  let changed = 0;
  for (const s of statuses) {
    if (s.onlyIfShown) {
      const moved = await sql.query(
        `update ${TABLE} set state = $3, attempt = $4, rank = $5, description = $6, version = version + 1,
           push_attempts = 0, next_attempt_at = now(), updated_at = now()
         where pipeline_id = $1 and stage = $2 and ($4::int, $5::int) > (attempt, rank)`,
        [target.pipelineId, s.stage, s.state, s.attempt, s.rank, s.description],
        "commit_status_move",
      );
      changed += moved.rowCount;
      continue;
    }
    const res = await sql.query(
      `insert into ${TABLE} (pipeline_id, stage, app_id, iteration_phase_id, commit_id, state, attempt, rank, description)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (pipeline_id, stage) do update set
         state = excluded.state, attempt = excluded.attempt, rank = excluded.rank,
         description = excluded.description, version = ${TABLE}.version + 1,
         push_attempts = 0, next_attempt_at = now(), updated_at = now()
       where (excluded.attempt, excluded.rank) > (${TABLE}.attempt, ${TABLE}.rank)`,
      [
        target.pipelineId,
        s.stage,
        target.appId,
        target.iterationPhaseId,
        target.commitId,
        s.state,
        s.attempt,
        s.rank,
        s.description,
      ],
      "commit_status_record",
    );
    changed += res.rowCount;
  }
  return changed;
}

/**
 * Leases up to `limit` rows whose newest state is not on the provider yet and whose next attempt is
 * due, for `ms`; rows of one pipeline in stage order, older pipelines first.
 */
export async function claimDueStatuses(sql: Sql, limit: number, ms: number): Promise<CommitStatusRecord[]> {
  const rows = await leases.claimDue<Row>(sql, {
    due: `pushed_version < version and refused_version < version and next_attempt_at <= now() and ${leases.free}`,
    orderBy: "pipeline_id, id",
    limit,
    ms,
  });
  return rows.map(toRecord);
}

/** The provider shows version `version` (or the row had nothing to show): done with it. */
export async function markPushed(sql: Sql, id: number, version: number): Promise<void> {
  await sql.query(
    `update ${TABLE} set pushed_version = greatest(pushed_version, $2), push_attempts = 0, last_error = null,
       pushed_at = now(), lease_until = null where id = $1`,
    [id, version],
  );
}

/** The provider refused version `version` for a reason a retry cannot fix: wait for a newer state. */
export async function markRefused(sql: Sql, id: number, version: number, error: string): Promise<void> {
  await sql.query(
    `update ${TABLE} set refused_version = greatest(refused_version, $2), last_error = $3, lease_until = null
     where id = $1`,
    [id, version, error],
  );
}

/** The provider could not be reached: try again after `delayMs`. */
export async function markRetry(sql: Sql, id: number, error: string, delayMs: number): Promise<void> {
  await sql.query(
    `update ${TABLE} set push_attempts = push_attempts + 1, last_error = $2,
       next_attempt_at = ${nowPlusMs("$3")}, lease_until = null where id = $1`,
    [id, error, delayMs],
  );
}
