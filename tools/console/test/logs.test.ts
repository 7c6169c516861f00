import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { applyLogEvent, lineOf, logKey, withLine } from "../src/api/logs";
import type { StageLog } from "../src/api/types";
import { logEvent, logLine, stageLog } from "./fixtures";

const seqs = (log: StageLog | undefined) => log?.lines.map((l) => l.seq);

describe("stage log lines from the stream", () => {
  it("reads a log event's line and its pipeline; refuses what is not one", () => {
    const line = logLine(4, "pushed", "WARN");
    expect(lineOf(logEvent(line))).toEqual({ pipelineId: 7, ...line });
    expect(lineOf(null)).toBeNull();
    expect(lineOf({ data: { ...line } })).toBeNull(); // no pipelineId
    expect(lineOf(logEvent({ ...line, seq: 0 }))).toBeNull();
    expect(lineOf(logEvent({ ...line, level: "DEBUG" as "INFO" }))).toBeNull();
    expect(lineOf({ data: { pipelineId: 7, ...line, text: 3 } })).toBeNull();
  });

  it("adds a line that follows the last one, keeps a line it has, and asks for a read on a gap", () => {
    const log = stageLog(2);
    expect(seqs(withLine(log, logLine(3, "c"))!)).toEqual([1, 2, 3]);
    expect(withLine(log, logLine(2, "b"))).toBe(log);
    expect(withLine(log, logLine(4, "d"))).toBeNull();
    expect(seqs(withLine(stageLog(0), logLine(1, "a"))!)).toEqual([1]);
  });

  it("makes a shown log stale when a line is missing, and nothing else", async () => {
    const client = new QueryClient();
    client.setQueryData(logKey(7, "BUILD", 1), stageLog(2));
    client.setQueryData(["pipeline", 7], { id: 7 });
    await applyLogEvent(client, logEvent(logLine(5, "after a gap")));
    expect(client.getQueryState(logKey(7, "BUILD", 1))?.isInvalidated).toBe(true);
    expect(seqs(client.getQueryData(logKey(7, "BUILD", 1)))).toEqual([1, 2]);
    expect(client.getQueryState(["pipeline", 7])?.isInvalidated).toBe(false);
  });

  it("adds a line that comes while the log is first read once the read is in, whether it had it or not", async () => {
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    let answer: (log: StageLog) => void = () => {};
    let reads = 0;
    const observer = new QueryObserver<StageLog>(client, {
      queryKey: logKey(7, "BUILD", 1),
      queryFn: () => {
        reads += 1;
        return new Promise<StageLog>((resolve) => (answer = resolve));
      },
    });
    const unsubscribe = observer.subscribe(() => {});
    // Lines 3 and 4 come while the first read is under way; the read has lines up to 3.
    const third = applyLogEvent(client, logEvent(logLine(3, "c")));
    const fourth = applyLogEvent(client, logEvent(logLine(4, "d")));
    answer(stageLog(3));
    await Promise.all([third, fourth]);
    expect(seqs(client.getQueryData(logKey(7, "BUILD", 1)))).toEqual([1, 2, 3, 4]);
    expect(reads).toBe(1);
    unsubscribe();
  });
});
