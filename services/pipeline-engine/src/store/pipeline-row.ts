import type { PipelineRecord } from "../domain/pipeline.model.js";

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
  step: PipelineRecord["waitingFor"];
  deploy_status: PipelineRecord["deployStatus"];
  deploy_id: string | null;
  deploy_config: PipelineRecord["deployConfig"];
  deploy_deadline: Stamp | null;
  tag: string | null;
  rollback: boolean;
  queued: boolean;
  rejected: boolean;
  failed_stage: PipelineRecord["failedStage"];
  error: string | null;
  checkpoints: PipelineRecord["checkpoints"];
  wake_at: Stamp | null;
  republish_count: number;
  event_seq: number;
  transition_seq: number;
  latest_child_id: string | null;
  latest_child_status: PipelineRecord["latestChildStatus"];
  latest_iteration_phase_id: string | null;
  iteration_status: PipelineRecord["iterationStatus"];
  version: number;
  created_at: Stamp;
  updated_at: Stamp;
}

export const SELECT = `select p.*, t.wake_at from ${S}.pipeline p left join ${S}.timer t on t.pipeline_id = p.id`;

export const num = (v: string | null): number | null => (v === null ? null : Number(v));
/** Timestamps arrive as Date or as text depending on the driver's settings. */
export type Stamp = Date | string;
export const ms = (v: Stamp | null): number | null => (v === null ? null : new Date(v).getTime());
export const iso = (v: Stamp): string => new Date(v).toISOString();

export function toRecord(r: PipelineRow): { record: PipelineRecord; version: number } {
  return {
    version: r.version,
    record: {
      id: Number(r.id),
      type: r.type,
      parentId: num(r.parent_id),
      refId: Number(r.ref_id),
      appId: Number(r.app_id),
      team: r.team,
      iterationId: Number(r.iteration_id),
      status: r.status,
      state: r.state,
      currentStage: r.current_stage,
      stageConfigs: r.stage_configs,
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
      error: r.error,
      checkpoints: r.checkpoints,
      wakeAt: ms(r.wake_at),
      republishCount: r.republish_count,
      eventSeq: r.event_seq,
      transitionSeq: r.transition_seq,
      latestChildId: num(r.latest_child_id),
      latestChildStatus: r.latest_child_status,
      latestIterationPhaseId: num(r.latest_iteration_phase_id),
      iterationStatus: r.iteration_status,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    },
  };
}

/** Mutable columns, in the order of the bulk update's record type. */
export function mutableColumns(p: PipelineRecord) {
  return {
    id: p.id,
    status: p.status,
    state: p.state,
    current_stage: p.currentStage,
    current_retries: p.currentRetries,
    attempt: p.attempt,
    step: p.waitingFor,
    deploy_status: p.deployStatus,
    deploy_id: p.deployId,
    deploy_deadline_ms: p.deployDeadline,
    queued: p.queued,
    rejected: p.rejected,
    failed_stage: p.failedStage,
    error: p.error,
    checkpoints: p.checkpoints,
    republish_count: p.republishCount,
    event_seq: p.eventSeq,
    transition_seq: p.transitionSeq,
    latest_child_id: p.latestChildId,
    latest_child_status: p.latestChildStatus,
    latest_iteration_phase_id: p.latestIterationPhaseId,
    iteration_status: p.iterationStatus,
  };
}

/** An id list as a PostgreSQL array literal (one parameter however many ids). */
export const pgArray = (ids: readonly number[]) => `{${ids.join(",")}}`;
