import type { Checkpoint, LogLine, Pipeline, StageLog } from "../src/api/types";

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

/** A log line of BUILD's first attempt, `s` seconds after t0, as GET /pipelines/{id}/logs gives it. */
export function logLine(seq: number, text: string, level: LogLine["level"] = "INFO", s = seq): LogLine {
  return { stage: "BUILD", attempt: 1, seq, at: at(s), level, text };
}

/** A stage log of pipeline 7 with lines 1..n (or the lines given). */
export function stageLog(lines: number | LogLine[], truncated = false): StageLog {
  return {
    pipelineId: 7,
    lines:
      typeof lines === "number"
        ? Array.from({ length: lines }, (_, i) => logLine(i + 1, `line ${i + 1}`))
        : lines,
    truncated,
  };
}

/**
 * A `log` event of the stream as the console parses it: the envelope (whose other fields the console
 * does not read), with the line and its ids as data.
 */
export function logEvent(line: LogLine, pipelineId = 7) {
  return { data: { pipelineId, appId: 1, ...line } };
}
