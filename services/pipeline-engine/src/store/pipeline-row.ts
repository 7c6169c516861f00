import type {
  IterationPipelineRecord,
  PhasePipelineRecord,
  PipelineRecord,
} from "../domain/pipeline.model.js";

/**
 * A row of `pipeline.pipeline` (with its timer's `wake_at`) and the record the domain works on:
 * the mapping both ways, kept apart from the statements (docs/services/pipeline-engine.md, "Store").
 */

export const S = "pipeline";

export interface PipelineRow {
  id: string;
  type: PipelineRecord["type"];
  parent_id: string | null;
  ref_id: string;
  app_id: string;
  team: string;
  iteration_id: string;
  status: PipelineRecord["status"];
  state: PipelineRecord["state"];
  current_stage: PipelineRecord["currentStage"];
  stage_configs: PipelineRecord["stageConfigs"];
  current_retries: number;
  attempt: number;
  step: PhasePipelineRecord["waitingFor"];
  deploy_status: PhasePipelineRecord["deployStatus"];
  deploy_id: string | null;
  deploy_config: PhasePipelineRecord["deployConfig"];
  deploy_deadline: Stamp | null;
  tag: string | null;
  rollback: boolean;
  queued: boolean;
  rejected: boolean;
  failed_stage: PhasePipelineRecord["failedStage"];
  error: string | null;
  checkpoints: PipelineRecord["checkpoints"];
  wake_at: Stamp | null;
  republish_count: number;
  event_seq: number;
  transition_seq: number;
  latest_child_id: string | null;
  latest_child_status: IterationPipelineRecord["latestChildStatus"];
  latest_iteration_phase_id: string | null;
  iteration_status: IterationPipelineRecord["iterationStatus"];
  version: number;
  created_at: Stamp;
  updated_at: Stamp;
}

/**
 * Every column of `pipeline.pipeline`, by name: the record's statements list them rather than `p.*`,
 * so a prepared statement still answers the same columns after a later migration adds one to the
 * table (docs/reliability.md, "Rolling upgrades"). The `Record` keeps this list complete.
 */
const PIPELINE_COLUMNS: Record<Exclude<keyof PipelineRow, "wake_at">, true> = {
  id: true,
  type: true,
  parent_id: true,
  ref_id: true,
  app_id: true,
  team: true,
  iteration_id: true,
  status: true,
  state: true,
  current_stage: true,
  stage_configs: true,
  current_retries: true,
  attempt: true,
  step: true,
  deploy_status: true,
  deploy_id: true,
  deploy_config: true,
  deploy_deadline: true,
  tag: true,
  rollback: true,
  queued: true,
  rejected: true,
  failed_stage: true,
  error: true,
  checkpoints: true,
  republish_count: true,
  event_seq: true,
  transition_seq: true,
  latest_child_id: true,
  latest_child_status: true,
  latest_iteration_phase_id: true,
  iteration_status: true,
  version: true,
  created_at: true,
  updated_at: true,
};

/** A pipeline's columns (`p`) and its timer's wake-up (`t`), the select list of every record read. */
export const RECORD = [...Object.keys(PIPELINE_COLUMNS).map((c) => `p.${c}`), "t.wake_at"].join(", ");

export const FROM = `from ${S}.pipeline p left join ${S}.timer t on t.pipeline_id = p.id`;

export const SELECT = `select ${RECORD} ${FROM}`;

/** SELECT with, for an iteration pipeline, the phases of its app as the engine keeps them. */
export const SELECT_WITH_APP_PHASES = `select ${RECORD},
    case when p.type = 'ITERATION' then (select s.phases from ${S}.app_settings s where s.app_id = p.app_id) end
      as app_phases
  ${FROM}`;

export const num = (v: string | null): number | null => (v === null ? null : Number(v));
/** Timestamps arrive as Date or as text depending on the driver's settings. */
export type Stamp = Date | string;
export const ms = (v: Stamp | null): number | null => (v === null ? null : new Date(v).getTime());
export const iso = (v: Stamp): string => new Date(v).toISOString();

export function toRecord(r: PipelineRow): { record: PipelineRecord; version: number } {
  const common = {
    id: Number(r.id),
    parentId: num(r.parent_id),
    refId: Number(r.ref_id),
    appId: Number(r.app_id),
    team: r.team,
    iterationId: Number(r.iteration_id),
    status: r.status,
    currentStage: r.current_stage,
    stageConfigs: r.stage_configs,
    error: r.error,
    checkpoints: r.checkpoints,
    eventSeq: r.event_seq,
    transitionSeq: r.transition_seq,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
  const record: PipelineRecord =
    r.type === "ITERATION"
      ? {
          ...common,
          type: "ITERATION",
          state: r.state as IterationPipelineRecord["state"],
          latestChildId: num(r.latest_child_id),
          latestChildStatus: r.latest_child_status,
          latestIterationPhaseId: num(r.latest_iteration_phase_id),
          iterationStatus: r.iteration_status,
        }
      : {
          ...common,
          type: "PHASE",
          state: r.state as PhasePipelineRecord["state"],
          currentRetries: r.current_retries,
          attempt: r.attempt,
          waitingFor: r.step,
          deployStatus: r.deploy_status,
          deployId: r.deploy_id,
          deployConfig: r.deploy_config,
          deployDeadline: ms(r.deploy_deadline),
          tag: r.tag,
          rollback: r.rollback,
          queued: r.queued,
          rejected: r.rejected,
          failedStage: r.failed_stage,
          wakeAt: ms(r.wake_at),
          republishCount: r.republish_count,
        };
  return { version: r.version, record };
}

/**
 * Mutable columns, in the order of the bulk update's record type: a release's fields are empty on
 * an iteration pipeline's row, an iteration pipeline's on a release's.
 */
export function mutableColumns(p: PipelineRecord) {
  const phase = p.type === "PHASE" ? p : null;
  const iteration = p.type === "ITERATION" ? p : null;
  return {
    id: p.id,
    status: p.status,
    state: p.state,
    current_stage: p.currentStage,
    current_retries: phase?.currentRetries ?? 0,
    attempt: phase?.attempt ?? 0,
    step: phase?.waitingFor ?? null,
    deploy_status: phase?.deployStatus ?? null,
    deploy_id: phase?.deployId ?? null,
    deploy_deadline_ms: phase?.deployDeadline ?? null,
    queued: phase?.queued ?? false,
    rejected: phase?.rejected ?? false,
    failed_stage: phase?.failedStage ?? null,
    error: p.error,
    checkpoints: p.checkpoints,
    republish_count: phase?.republishCount ?? 0,
    event_seq: p.eventSeq,
    transition_seq: p.transitionSeq,
    latest_child_id: iteration?.latestChildId ?? null,
    latest_child_status: iteration?.latestChildStatus ?? null,
    latest_iteration_phase_id: iteration?.latestIterationPhaseId ?? null,
    iteration_status: iteration?.iterationStatus ?? null,
  };
}

/** An id list as a PostgreSQL array literal (one parameter however many ids). */
export const pgArray = (ids: readonly number[]) => `{${ids.join(",")}}`;
