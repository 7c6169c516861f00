import type { Checkpoint, Pipeline } from "../src/api/types";

const t0 = Date.parse("2026-03-01T10:00:00Z");
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

export function attempt(
  stage: Checkpoint["stage"],
  n: number,
  status: Checkpoint["status"],
  from: number,
  to?: number,
  extra: Partial<Checkpoint> = {},
): Checkpoint {
  return {
    stage,
    status,
    attempt: n,
    output: null,
    error: null,
    startedAt: at(from),
    finishedAt: to === undefined ? null : at(to),
    ...extra,
  };
}

/** A phase pipeline as GET /pipelines/{id} answers it. */
export function pipeline(over: Partial<Pipeline>): Pipeline {
  return {
    id: 7,
    type: "PHASE",
    parentId: 3,
    refId: 4,
    status: "RUNNING",
    currentStage: "CODE_CHECK",
    deployStatus: null,
    checkpoints: [],
    createdAt: at(0),
    updatedAt: at(1),
    state: "CODE_CHECK",
    appId: 1,
    iterationId: 2,
    deployId: null,
    currentRetries: 0,
    stageConfigs: {},
    tag: "v1.0.0",
    rollback: false,
    awaiting: null,
    queued: false,
    ...over,
  };
}
