import type { QueryClient } from "@tanstack/react-query";
import { PHASE_STAGES } from "@procode/contracts/pipeline-view";
import type { LogLine, StageLog } from "./types";

/**
 * Stage logs (docs/console.md "Stage log"): an attempt's lines as `GET /pipelines/{id}/logs` gives
 * them, then each `log` event of the stream appended to them.
 */

/** Whether a stage keeps a log: the phase pipeline's stages do, an iteration's phases do not. */
export const keepsLog = (stage: string): stage is LogLine["stage"] =>
  (PHASE_STAGES as readonly string[]).includes(stage);

export const logKey = (pipelineId: number, stage: string, attempt: number) =>
  ["logs", pipelineId, stage, attempt] as const;

const LEVELS: readonly string[] = ["INFO", "WARN", "ERROR"];

/** The line a `log` event carries (its `data`: the pipeline's id, its app's, and the line), or null. */
export function lineOf(event: unknown): (LogLine & { pipelineId: number }) | null {
  const d = (event as { data?: Record<string, unknown> } | null)?.data;
  if (typeof d !== "object" || d === null) return null;
  const int = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
  if (!int(d["pipelineId"]) || !int(d["attempt"]) || !int(d["seq"])) return null;
  if (typeof d["stage"] !== "string" || typeof d["at"] !== "string" || typeof d["text"] !== "string")
    return null;
  if (typeof d["level"] !== "string" || !LEVELS.includes(d["level"])) return null;
  return {
    pipelineId: d["pipelineId"] as number,
    stage: d["stage"] as LogLine["stage"],
    attempt: d["attempt"] as number,
    seq: d["seq"] as number,
    at: d["at"],
    level: d["level"] as LogLine["level"],
    text: d["text"],
  };
}

/**
 * The log with one more line: the same log when it already has the line, null when the line does not
 * follow the last one (a line in between is missing, so the log has to be read again).
 */
export function withLine(log: StageLog, line: LogLine): StageLog | null {
  const last = log.lines.at(-1)?.seq ?? 0;
  if (line.seq <= last) return log;
  if (line.seq !== last + 1) return null;
  return { ...log, lines: [...log.lines, line] };
}

/**
 * A `log` event: appended to its attempt's log when that log is shown (in the cache), once its first
 * read is in when it is still being read; the log is read again when the line does not follow.
 * Nothing else is made stale: a line is no news about the pipeline.
 */
export async function applyLogEvent(client: QueryClient, event: unknown): Promise<void> {
  const line = lineOf(event);
  if (!line) return;
  const { pipelineId, ...rest } = line;
  const queryKey = logKey(pipelineId, line.stage, line.attempt);
  const add = (): boolean => {
    const log = client.getQueryData<StageLog>(queryKey);
    if (!log) return false;
    const next = withLine(log, rest);
    if (!next) void client.invalidateQueries({ queryKey, exact: true });
    else if (next !== log) client.setQueryData(queryKey, next);
    return true;
  };
  // Not read yet (or not shown: then there is nothing to wait for): the read may or may not have it.
  if (add()) return;
  await client.refetchQueries({ queryKey, exact: true }, { cancelRefetch: false });
  add();
}
