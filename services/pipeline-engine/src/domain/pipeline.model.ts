import type {
  Checkpoint,
  DeployConfig,
  DeployStatus,
  IterationMachineState,
  IterationStatus,
  PhaseMachineState,
  PhaseStage,
  PipelineStatus,
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

/** What pipelines of both types keep (one row of `pipeline.pipeline`). */
interface PipelineFields {
  id: number;
  /** PHASE: the iteration pipeline. */
  parentId: number | null;
  /** ITERATION: the iteration id; PHASE: the iteration_phase id. */
  refId: number;
  appId: number;
  team: string;
  iterationId: number;
  status: PipelineStatus;
  currentStage: StageName | null;
  stageConfigs: Record<string, StageConfig>;
  error: string | null;
  checkpoints: Checkpoint[];
  /** Sequence of the events this pipeline published (per pipeline, grows by one). */
  eventSeq: number;
  /** Sequence of the last transition in the log. */
  transitionSeq: number;
  createdAt: string;
  updatedAt: string;
}

/** A release's pipeline: its stages and attempts, its timer, its deployment and its app's lease. */
export interface PhasePipelineRecord extends PipelineFields {
  type: "PHASE";
  state: PhaseMachineState;
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
  /** Durable timer, epoch ms (null: nothing scheduled). */
  wakeAt: number | null;
  /** Times the current request was published again (grows the delay). */
  republishCount: number;
}

/** An iteration's pipeline: its phases, moved by people, and its latest release. */
export interface IterationPipelineRecord extends PipelineFields {
  type: "ITERATION";
  state: IterationMachineState;
  /** Its latest phase pipeline and that pipeline's status. */
  latestChildId: number | null;
  latestChildStatus: PipelineStatus | null;
  latestIterationPhaseId: number | null;
  /** The iteration status last published. */
  iterationStatus: IterationStatus | null;
}

/** One pipeline as the engine keeps it: a release's or an iteration's, told apart by `type`. */
export type PipelineRecord = PhasePipelineRecord | IterationPipelineRecord;

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

/** A pipeline's durable timer: a release's `wakeAt`; an iteration pipeline has none. */
export const wakeAtOf = (p: PipelineRecord): number | null => (p.type === "PHASE" ? p.wakeAt : null);

export const TERMINAL_STATUSES: readonly PipelineStatus[] = ["SUCCESS", "CANCELLED"];

export function isFinished(p: PipelineRecord): boolean {
  return p.status === "SUCCESS" || p.status === "CANCELLED";
}

type Required<R extends PipelineRecord> = Partial<R> &
  Pick<R, "refId" | "appId" | "team" | "iterationId" | "state" | "stageConfigs">;

const blankFields = {
  id: 0,
  parentId: null,
  status: "PENDING",
  currentStage: null,
  error: null,
  eventSeq: 0,
  transitionSeq: 0,
  createdAt: "",
  updatedAt: "",
} as const;

/** A new phase pipeline with every other field at its starting value. */
export function blankPhasePipeline(fields: Required<PhasePipelineRecord>): PhasePipelineRecord {
  return {
    ...blankFields,
    type: "PHASE",
    checkpoints: [],
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
    wakeAt: null,
    republishCount: 0,
    ...fields,
  };
}

/** A new iteration pipeline with every other field at its starting value. */
export function blankIterationPipeline(fields: Required<IterationPipelineRecord>): IterationPipelineRecord {
  return {
    ...blankFields,
    type: "ITERATION",
    checkpoints: [],
    latestChildId: null,
    latestChildStatus: null,
    latestIterationPhaseId: null,
    iterationStatus: null,
    ...fields,
  };
}
