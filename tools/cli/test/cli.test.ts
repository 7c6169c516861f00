import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "@procode/contracts";
import { stageView } from "@procode/contracts";
import { printable, renderPipeline } from "../src/render.js";
import { allPagesByCursor, apiClient, unwrap } from "../src/client.js";
import { renderQualityReport } from "../src/quality.js";
import { watchPipeline } from "../src/watch.js";

const t0 = Date.parse("2026-11-28T10:00:00Z");
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

function pipeline(over: Partial<Pipeline>): Pipeline {
  return {
    id: 7,
    type: "PHASE",
    parentId: 3,
    refId: 5,
    status: "RUNNING",
    currentStage: "CODE_CHECK",
    deployStatus: null,
    checkpoints: [],
    createdAt: at(0),
    updatedAt: at(0),
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

const ok = (stage: string, s: number, e: number, attempt = 1) => ({
  stage: stage as never,
  status: "SUCCESS" as const,
  attempt,
  output: {},
  error: null,
  startedAt: at(s),
  finishedAt: at(e),
});

describe("pipeline view", () => {
  it("shows succeeded, running with elapsed time, and pending stages", () => {
    const p = pipeline({
      currentStage: "BUILD",
      state: "BUILD",
      checkpoints: [ok("CODE_CHECK", 0, 3), { ...ok("BUILD", 3, 0), status: "RUNNING", finishedAt: null }],
    });
    const lines = renderPipeline(p, t0 + 10_000).join("\n");
    expect(lines).toMatch(/CODE_CHECK\s+succeeded 3s/);
    expect(lines).toMatch(/BUILD\s+running 7s/);
    expect(lines).toMatch(/PACKAGE\s+pending/);
    expect(lines).toMatch(/DEPLOY\s+pending/);
  });

  it("shows a stage waiting for an outside system with the reason, and no command to run", () => {
    const p = pipeline({
      currentStage: "PACKAGE",
      state: "PACKAGE",
      checkpoints: [
        ok("CODE_CHECK", 0, 3),
        ok("BUILD", 3, 4),
        {
          ...ok("PACKAGE", 4, 0),
          status: "RUNNING",
          finishedAt: null,
          waiting: { state: "WAITING_OPS", reason: "image builder unreachable", since: at(5) },
        },
      ],
    });
    const lines = renderPipeline(p, t0 + 10_000).join("\n");
    expect(lines).toMatch(/PACKAGE\s+running 6s WAITING_OPS: image builder unreachable/);
    expect(lines).not.toMatch(/procode pipeline/);
  });

  it("shows a failed stage with its error and the commands that move it on", () => {
    const p = pipeline({
      status: "FAILED",
      state: "FAILED",
      currentRetries: 3,
      stageConfigs: { CODE_CHECK: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 3 } },
      awaiting: { action: "RETRY_OR_RESUME", stage: "CODE_CHECK", hint: "CODE_CHECK failed" },
      checkpoints: [
        { ...ok("CODE_CHECK", 0, 2, 4), status: "FAILED", error: "app/main.py:3: invalid syntax" },
      ],
    });
    expect(stageView(p, "CODE_CHECK").view).toBe("failed");
    const lines = renderPipeline(p, t0).join("\n");
    expect(lines).toMatch(/CODE_CHECK\s+failed 2s \(attempt 4\): app\/main\.py:3: invalid syntax/);
    // CODE_CHECK's 3 retries are used up: only resume is accepted now (retry would answer 3002).
    expect(lines).toMatch(/procode pipeline resume 7/);
    expect(lines).not.toMatch(/procode pipeline retry/);
    const retriesLeft = {
      ...p,
      currentRetries: 1,
      stageConfigs: { CODE_CHECK: { driveMode: "AUTO" as const, retryMode: "AUTO" as const, maxRetries: 3 } },
    };
    expect(renderPipeline(retriesLeft, t0).join("\n")).toMatch(
      /procode pipeline retry 7 +or +procode pipeline resume 7/,
    );
    // A MANUAL stage with maxRetries 0 (the seed's PACKAGE and DEPLOY) has no bound: retry is offered.
    const manual = {
      ...p,
      currentRetries: 4,
      awaiting: { action: "RETRY_OR_RESUME" as const, stage: "PACKAGE" as const, hint: "PACKAGE failed" },
      stageConfigs: { PACKAGE: { driveMode: "AUTO" as const, retryMode: "MANUAL" as const, maxRetries: 0 } },
    };
    expect(renderPipeline(manual, t0).join("\n")).toMatch(
      /procode pipeline retry 7 +or +procode pipeline resume 7/,
    );
    const failedOnly = pipeline({
      status: "FAILED",
      state: "FAILED",
      checkpoints: [{ ...ok("BUILD", 0, 2), status: "FAILED", error: "boom" }],
    });
    expect(renderPipeline(failedOnly, t0).join("\n")).toMatch(/BUILD\s+failed 2s: boom/);
  });

  it("shows a stage waiting for a person with the proceed command", () => {
    const p = pipeline({
      currentStage: "PACKAGE",
      state: "PACKAGE",
      awaiting: { action: "PROCEED", stage: "PACKAGE", hint: "PACKAGE succeeded; waiting for proceed" },
      checkpoints: [ok("CODE_CHECK", 0, 1), ok("BUILD", 1, 2), ok("PACKAGE", 2, 3)],
    });
    const lines = renderPipeline(p, t0).join("\n");
    expect(lines).toMatch(/PACKAGE\s+waiting for a person/);
    expect(lines).toMatch(/procode pipeline proceed 7/);
  });
});

describe("procode pipeline watch", () => {
  let server: http.Server;
  let url = "";
  const sequences = new Map<number, Pipeline[]>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const id = Number(/\/pipelines\/(\d+)/.exec(req.url ?? "")?.[1]);
      const seq = sequences.get(id);
      res.setHeader("content-type", "application/json");
      if (!seq) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ code: 3004, message: "pipeline not found", data: null }));
      }
      const next = seq.length > 1 ? seq.shift()! : seq[0]!;
      res.end(JSON.stringify({ code: 0, message: "success", data: next }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("follows the stages and exits 0 when the pipeline succeeds", async () => {
    sequences.set(1, [
      pipeline({ id: 1 }),
      pipeline({
        id: 1,
        currentStage: "DEPLOY",
        state: "DEPLOYING",
        deployStatus: "DEPLOYING",
        checkpoints: [ok("CODE_CHECK", 0, 1), ok("BUILD", 1, 2), ok("PACKAGE", 2, 3)],
      }),
      pipeline({
        id: 1,
        status: "SUCCESS",
        state: "SUCCESS",
        checkpoints: [ok("CODE_CHECK", 0, 1), ok("BUILD", 1, 2), ok("PACKAGE", 2, 3), ok("DEPLOY", 3, 9)],
      }),
    ]);
    let text = "";
    const code = await watchPipeline(apiClient({ url, token: "t" }), 1, {
      json: false,
      intervalMs: 10,
      isTTY: false,
      write: (s) => (text += s),
    });
    expect(code).toBe(0);
    expect(text).toMatch(/DEPLOY\s+running .*DEPLOYING/);
    expect(text).toMatch(/pipeline succeeded/);
  });

  it("exits non-zero when the pipeline fails, printing JSON lines with --json", async () => {
    sequences.set(2, [pipeline({ id: 2 }), pipeline({ id: 2, status: "FAILED", state: "FAILED" })]);
    const lines: string[] = [];
    const code = await watchPipeline(apiClient({ url, token: "t" }), 2, {
      json: true,
      intervalMs: 10,
      write: (s) => lines.push(s),
    });
    expect(code).toBe(1);
    expect(lines.map((l) => JSON.parse(l).status)).toEqual(["RUNNING", "FAILED"]);
  });

  it("reports the envelope's code and message for a missing pipeline", async () => {
    await expect(
      watchPipeline(apiClient({ url, token: "t" }), 99, { json: false, intervalMs: 10 }),
    ).rejects.toThrow("pipeline not found");
  });
});

describe("every page of iterations by cursor", () => {
  it("asks each page after the last item of the page before, until no cursor follows", async () => {
    // Pages of two, newest first, as the service answers them: the cursor is the last id given.
    const ids = [9, 8, 7, 6, 5];
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
      const q = new URL(req.url ?? "/", "http://x").searchParams;
      asked.push(q.toString());
      const after = q.get("cursor");
      const rest = after === null ? ids : ids.filter((id) => id < Number(after));
      const items = rest.slice(0, 2).map((id) => ({ id }));
      const more = rest.length > 2;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          code: 0,
          message: "success",
          data: { items, total: ids.length, nextCursor: more ? String(items.at(-1)!.id) : null },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const client = apiClient({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        token: "t",
      });
      const list = await allPagesByCursor((cursor, pageSize) =>
        unwrap(
          client.GET("/apps/{id}/iterations", {
            params: { path: { id: 1 }, query: { pageSize, ...(cursor ? { cursor } : {}) } },
          }),
        ),
      );
      expect(list.items.map((i) => i.id)).toEqual(ids);
      expect(list.total).toBe(5);
      expect(asked).toEqual(["pageSize=100", "pageSize=100&cursor=8", "pageSize=100&cursor=6"]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("text from the platform on a terminal", () => {
  it("shows control characters as escapes, so a name or an error cannot drive the terminal", () => {
    const hostile = "fix\u001b]0;owned\u0007 \u001b[2J\u009b31m\rdone";
    expect(printable({ items: [{ name: hostile, n: 1 }] })).toEqual({
      items: [{ name: "fix\\u001b]0;owned\\u0007 \\u001b[2J\\u009b31m\\u000ddone", n: 1 }],
    });
    expect(printable("line one\n\tline two")).toBe("line one\n\tline two");
  });

  it("draws a pipeline whose stage error holds escape sequences without passing them on", () => {
    const p = pipeline({
      status: "FAILED",
      checkpoints: [
        {
          stage: "CODE_CHECK",
          status: "FAILED",
          attempt: 1,
          output: null,
          error: "syntax error in \u001b[31mapp.py\u001b[0m",
          startedAt: at(0),
          finishedAt: at(1),
        },
      ],
    });
    const text = renderPipeline(p, t0 + 2000).join("\n");
    expect(text).toContain("\\u001b[31mapp.py");
    expect(text).not.toContain("\u001b[31mapp.py");
  });
});

describe("procode quality --report", () => {
  it("prints the verdict, the figures, the reasons and each newly failing case with its input, output and failing assertion", () => {
    const failing = {
      id: "greets-hi",
      tags: ["greeting"],
      input: "hi",
      output: "You said: hi",
      pass: false,
      errored: false,
      error: null,
      score: 0,
      runsPassed: 0,
      runs: 1,
      failed: [{ type: "icontains", reason: 'does not contain "hello" (any case)' }],
    };
    const text = renderQualityReport({
      id: 12,
      appId: 3,
      pipelineId: 41,
      attempt: 1,
      iterationPhaseId: 9,
      tag: "v1.1.0",
      commitId: "4f1c2e3d4b5a69788796a5b4c3d2e1f001122334",
      verdict: "WAIVED",
      passRate: 5 / 6,
      interval: { low: 0.4365, high: 0.9699 },
      passed: 5,
      total: 6,
      unitTests: { ran: 9, failed: 0, error: null },
      executor: "sandbox",
      baseline: { reportId: 11, tag: "v1.0.0" },
      waiver: { by: "carol", reason: "intended", at: "2026-12-05T00:10:00.000Z" },
      durationMs: 420,
      createdAt: "2026-12-05T00:09:00.000Z",
      reasons: ["1 case(s) passed in v1.0.0 and fail now (at most 0): greets-hi"],
      problems: [],
      byTag: { greeting: { passed: 1, total: 2 } },
      newlyFailing: [failing],
      newlyPassing: [],
      missing: [],
      failing: [failing],
      latency: { p50Ms: 2, p95Ms: 5, calls: 6 },
      settings: null,
    });
    expect(text.split("\n")).toEqual([
      "report 12 WAIVED  v1.1.0 4f1c2e3d4b5a  pipeline 41 attempt 1",
      "pass rate 83.3% (5/6), 95% interval 43.6%-97.0%",
      "unit tests: 9 ran, 0 failed",
      "/invoke latency P50 2 ms, P95 5 ms over 6 call(s); executor sandbox",
      "compared with v1.0.0 (report 11), the last released version",
      "waived by carol at 2026-12-05T00:10:00.000Z: intended",
      "blocked: 1 case(s) passed in v1.0.0 and fail now (at most 0): greets-hi",
      "by tag: greeting 1/2",
      "newly failing (1):",
      "  greets-hi [greeting]",
      '    input:  "hi"',
      '    output: "You said: hi"',
      '    ✗ icontains: does not contain "hello" (any case)',
    ]);
  });
});
