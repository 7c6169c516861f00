import type {
  Checkpoint,
  DeployConfig,
  DeployStatus,
  IterationMachineState,
  IterationStatus,
  PhaseMachineState,
  PhaseStage,
  PipelineStatus,
  PipelineType,
  StageConfig,
  StageName,
} from "@procode/contracts";

/**
 * What a pipeline is waiting for, besides its machine state (drives the durable timer `wakeAt`;
 * stored in the column `step`, its name in the first schema):
 * - REQUESTED: a stage attempt was requested; its request is published again at wakeAt until a
 *   result arrives or the pipeline leaves the stage.
 * - RETRY_WAIT: the attempt failed and an AUTO retry starts at wakeAt.
 * - AWAIT_PROCEED: a MANUAL stage succeeded; `proceed` moves on.
 * - QUEUED: a release waiting for its app's lease (concurrency policy QUEUE); it checks at wakeAt
 *   and is woken when the holder ends.
 */
export type Wait = "REQUESTED" | "RETRY_WAIT" | "AWAIT_PROCEED" | "QUEUED";

/** One pipeline of either type as the engine keeps it (one row of `pipeline.pipeline`). */
export interface PipelineRecord {
  id: number;
  type: PipelineType;
  /** PHASE: the iteration pipeline. */
  parentId: number | null;
  /** ITERATION: the iteration id; PHASE: the iteration_phase id. */
  refId: number;
  appId: number;
  team: string;
  iterationId: number;
  status: PipelineStatus;
  state: IterationMachineState | PhaseMachineState;
  currentStage: StageName | null;
  stageConfigs: Record<string, StageConfig>;
  /** Retries of the current stage so far (AUTO and manual); reset by resume and on a new stage. */
  currentRetries: number;
  /** Attempt number of the current stage's latest run. */
  attempt: number;
  waitingFor: Wait | null;
  deployStatus: DeployStatus | null;
  deployId: string | null;
  deployConfig: DeployConfig | null;
  /** When ops-gateway gives the current deployment up (from deployment_started), epoch ms. */
  deployDeadline: number | null;
  tag: string | null;
  rollback: boolean;
  /** A release waiting for its app's lease (PENDING). */
  queued: boolean;
  /** Refused by the app's REJECT concurrency policy (CANCELLED at birth). */
  rejected: boolean;
  failedStage: PhaseStage | null;
  error: string | null;
  checkpoints: Checkpoint[];
  /** Durable timer, epoch ms (null: nothing scheduled). */
  wakeAt: number | null;
  /** Times the current request was published again (grows the delay). */
  republishCount: number;
  /** Sequence of the events this pipeline published (per pipeline, grows by one). */
  eventSeq: number;
  /** Sequence of the last transition in the log. */
  transitionSeq: number;
  /** ITERATION: its latest phase pipeline and that pipeline's status. */
  latestChildId: number | null;
  latestChildStatus: PipelineStatus | null;
  latestIterationPhaseId: number | null;
  /** ITERATION: the iteration status last published. */
  iterationStatus: IterationStatus | null;
  createdAt: string;
  updatedAt: string;
}

/** One row of the transition log. */
export interface TransitionRecord {
  pipelineId: number;
  seq: number;
  from: string;
  to: string;
  event: string;
  actor: string;
  at: string;
}

/** Delays the engine schedules with (from the configuration). */
export interface EngineTimings {
  republishBaseMs: number;
  republishMaxMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  leaseTtlMs: number;
  queueRecheckMs: number;
}

export const TERMINAL_STATUSES: readonly PipelineStatus[] = ["SUCCESS", "CANCELLED"];

export function isFinished(p: PipelineRecord): boolean {
  return p.status === "SUCCESS" || p.status === "CANCELLED";
}

/** A pipeline record with every optional field at its starting value. */
export function blankPipelineRecord(
  fields: Partial<PipelineRecord> &
    Pick<PipelineRecord, "type" | "refId" | "appId" | "team" | "iterationId" | "state" | "stageConfigs">,
): PipelineRecord {
  return {
    id: 0,
    parentId: null,
    status: "PENDING",
    currentStage: null,
    currentRetries: 0,
    attempt: 0,
    waitingFor: null,
    deployStatus: null,
    deployId: null,
    deployConfig: null,
    deployDeadline: null,
    tag: null,
    rollback: false,
    queued: false,
    rejected: false,
    failedStage: null,
    error: null,
    checkpoints: [],
    wakeAt: null,
    republishCount: 0,
    eventSeq: 0,
    transitionSeq: 0,
    latestChildId: null,
    latestChildStatus: null,
    latestIterationPhaseId: null,
    iterationStatus: null,
    createdAt: "",
    updatedAt: "",
    ...fields,
  };
}
