import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RPC,
  ReadStageLogsReply,
  ReadStageLogsRequest,
  STAGE_LOG_LINE_MAX_CHARS,
  STAGE_LOG_MAX_BYTES,
  type StageLogLine,
} from "@procode/contracts";
import { callRpc, STAGE_LOG_CUT_TEXT, StageLog, StageLogStore } from "@procode/service-kit";
import { createTestInfra, sql, type TestInfra } from "@procode/test-kit";
import { newAppId, newKeys, startDevSvc, type DevSvc } from "./support/dev-svc.js";

/**
 * The stage log writer on dev-svc's own schema and outbox: lines numbered from 1 in the order they
 * were written, at most 1 MiB of text per attempt and then one line saying the log was cut, a live
 * event per stored line, and the engine's paged read over request/reply within the team.
 */

let infra: TestInfra;
let svc: DevSvc;
let nextPipeline = Math.floor(Math.random() * 1e6) + 1000;

beforeAll(async () => {
  infra = await createTestInfra("dev_stage_log");
  svc = await startDevSvc(infra, newKeys());
});

afterAll(async () => {
  await svc?.close();
  await infra?.cleanup();
});

const store = new StageLogStore("dev");

function writer(pipelineId: number, team = "team-a", attempt = 1) {
  return new StageLog(
    store,
    svc.deps.outbox,
    { pipelineId, stage: "BUILD", attempt, appId: newAppId(), team },
    `test-${pipelineId}`,
    svc.deps.log,
  );
}

/** Every page, as the engine reads them. */
async function readAll(pipelineId: number, team: string, attempt?: number) {
  const lines: StageLogLine[] = [];
  let truncated = false;
  let after: ReadStageLogsRequest["after"];
  for (;;) {
    const page = await callRpc(
      svc.deps.nats,
      RPC.READ_DEV_STAGE_LOGS,
      ReadStageLogsRequest,
      ReadStageLogsReply,
      {
        pipelineId,
        team,
        ...(attempt ? { stage: "BUILD" as const, attempt } : {}),
        ...(after ? { after } : {}),
      },
      { correlationId: "test", timeoutMs: 5000, peer: "dev-svc" },
    );
    lines.push(...page.lines);
    truncated ||= page.truncated;
    if (!page.next) return { lines, truncated };
    after = page.next;
  }
}

describe("a stage attempt's log", () => {
  it("keeps the lines in the order written, numbered from 1, each with its live event", async () => {
    const pipelineId = nextPipeline++;
    const log = writer(pipelineId);
    for (let i = 1; i <= 30; i++)
      if (i % 3) log.info(`line ${i}`);
      else log.warn(`line ${i}`);
    log.error("the last one");
    await log.flush();
    const { lines, truncated } = await readAll(pipelineId, "team-a");
    expect(truncated).toBe(false);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(lines.map((l) => l.text)).toEqual([
      ...Array.from({ length: 30 }, (_, i) => `line ${i + 1}`),
      "the last one",
    ]);
    expect(lines.map((l) => l.level).slice(0, 3)).toEqual(["INFO", "INFO", "WARN"]);
    expect(lines.at(-1)!.level).toBe("ERROR");
    const events = await sql<{ n: string }>(
      infra.databaseUrl,
      `select count(*)::text as n from dev.outbox where type = 'live.log.v1' and payload->'data'->>'pipelineId' = $1`,
      [String(pipelineId)],
    );
    expect(Number(events[0]!.n)).toBe(31);
  });

  it("keeps at most 1 MiB of text per attempt, then one line saying it was cut, and says truncated", async () => {
    const pipelineId = nextPipeline++;
    const log = writer(pipelineId);
    // Lines longer than a line may be are cut to the line bound first.
    const long = "é".repeat(STAGE_LOG_LINE_MAX_CHARS + 100);
    const written = 70;
    for (let i = 0; i < written; i++) log.info(long);
    await log.flush();
    log.info("after the cut");
    await log.flush();

    const { lines, truncated } = await readAll(pipelineId, "team-a");
    expect(truncated).toBe(true);
    const last = lines.at(-1)!;
    expect(last).toMatchObject({ level: "WARN", text: STAGE_LOG_CUT_TEXT });
    const kept = lines.slice(0, -1);
    const bytes = kept.reduce((n, l) => n + Buffer.byteLength(l.text, "utf8"), 0);
    expect(bytes).toBeLessThanOrEqual(STAGE_LOG_MAX_BYTES);
    // Every line that fitted was kept: one more would not have.
    expect(bytes + Buffer.byteLength(kept[0]!.text, "utf8")).toBeGreaterThan(STAGE_LOG_MAX_BYTES);
    expect(kept.length).toBeLessThan(written);
    expect(kept[0]!.text).toMatch(/… \(line cut at 16384 characters\)$/);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.some((l) => l.text === "after the cut")).toBe(false);
    // Paged below NATS's largest message, yet the pages join up without a gap or a repeat.
    expect(new Set(lines.map((l) => l.seq)).size).toBe(lines.length);
  });

  it("reads only the team's lines, and one attempt when asked", async () => {
    const pipelineId = nextPipeline++;
    const first = writer(pipelineId, "team-a", 1);
    first.info("attempt one");
    await first.flush();
    const second = writer(pipelineId, "team-a", 2);
    second.info("attempt two");
    await second.flush();
    expect((await readAll(pipelineId, "team-b")).lines).toEqual([]);
    expect((await readAll(pipelineId, "team-a", 2)).lines.map((l) => [l.attempt, l.text])).toEqual([
      [2, "attempt two"],
    ]);
    expect((await readAll(pipelineId, "team-a")).lines.map((l) => l.attempt)).toEqual([1, 2]);
  });

  it("stores text the database cannot hold as it can: no NUL, no unpaired surrogate", async () => {
    const pipelineId = nextPipeline++;
    const log = writer(pipelineId);
    log.info("a\u0000b\ud800c");
    await log.flush();
    expect((await readAll(pipelineId, "team-a")).lines.map((l) => l.text)).toEqual(["ab\ufffdc"]);
  });
});
