import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  messageSubject,
  QualityReportItem,
  QualityWaived,
  STREAMS,
  streamName,
  type MessageData,
  type StreamKey,
} from "@procode/contracts";
import { Outbox } from "@procode/service-kit";
import { consumerIdle, eventually, sql, type TestInfra } from "@procode/test-kit";
import type { DevSvc } from "./support/dev-svc.js";
import { escapeAgent } from "./support/quality/escape-agent.js";
import { GateHarness, reportIdOf, type GateApp, type Release } from "./support/quality/gate-harness.js";
import type { StageEngine } from "./support/runners/engine.js";
import type { Files } from "./support/runners/repos.js";

/**
 * The QUALITY_GATE runner against real LOCAL repositories, real bubblewrap, PostgreSQL and NATS: the
 * scaffold's own cases, a regression against the last RELEASED version, the configuration and unit
 * test failures, llm-rubric with a judge of the test's own, and the escape battery as agent code.
 */
let h: GateHarness;
let infra: TestInfra;
let svc: DevSvc;
let engine: StageEngine;
let scaffold: Files;

beforeAll(async () => {
  h = await GateHarness.start("dev-quality");
  ({ infra, svc, engine, scaffold } = h);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

const gateApp = (files: Files) => h.gateApp(files);
const release = (...a: Parameters<GateHarness["release"]>) => h.release(...a);
const markReleased = (...a: Parameters<GateHarness["markReleased"]>) => h.markReleased(...a);
const api = (url: string, team?: string) => h.api(url, team);
const report = (appId: number, reportId: number) => h.report(appId, reportId);
const logOf = (pipelineId: number) => h.logOf(pipelineId);

/**
 * The scaffold's agent with its greeting "hi" dropped and its answer to a question changed, its unit
 * tests brought in line: the tests pass, only the evaluation cases can see the regression.
 */
const REGRESSED_AGENT = (files: Files) => ({
  "app/agent.py": files["app/agent.py"]!.replace(
    'greetings: tuple = field(default=("hello", "hi", "hey"))',
    'greetings: tuple = field(default=("hello", "hey"))',
  ).replace('return f"Good question. You asked: {message}"', 'return f"Noted: {message}"'),
  "tests/test_app.py": files["tests/test_app.py"]!.replace(
    '"Good question. You asked: Is it up?"',
    '"Noted: Is it up?"',
  ).replace('json.dumps({"input": "hi"})', 'json.dumps({"input": "hello"})'),
});

describe("QUALITY_GATE on the python-agent scaffold", () => {
  let app: GateApp;
  let v1: Release;
  let v11: Release;

  it("passes a release of the scaffold: unit tests and every starter case in the sandbox, the report stored", async () => {
    app = await gateApp(scaffold);
    v1 = await release(app, "v1.0.0");
    expect(v1.result.outcome, JSON.stringify(v1.result.error)).toBe("SUCCESS");
    expect(v1.result.output).toEqual({
      reportId: expect.any(Number),
      verdict: "PASS",
      passRate: 1,
      cases: 6,
      passed: 6,
      newlyFailing: [],
    });
    const r = await report(app.appId, reportIdOf(v1));
    expect(r).toMatchObject({
      verdict: "PASS",
      tag: "v1.0.0",
      commitId: v1.commitId,
      pipelineId: v1.pipelineId,
      iterationPhaseId: v1.iterationPhaseId,
      executor: "sandbox",
      passed: 6,
      total: 6,
      unitTests: { ran: 9, failed: 0, error: null },
      baseline: null,
      waiver: null,
      reasons: [],
      byTag: { greeting: { passed: 2, total: 2 }, answers: { passed: 3, total: 3 } },
      failing: [],
      settings: expect.objectContaining({ requiredTags: ["greeting"], concurrency: 4 }),
    });
    expect(r.interval.high).toBe(1);
    expect(r.interval.low).toBeGreaterThan(0.5);
    expect(r.interval.low).toBeLessThan(1);
    expect(r.latency.calls).toBe(6);
    expect(r.latency.p95Ms).toBeGreaterThanOrEqual(r.latency.p50Ms);
    const log = await logOf(v1.pipelineId);
    expect(log.some((l) => /^INFO unit tests: 9 ran, none failed \(\d+ ms\)$/.test(l))).toBe(true);
    expect(log).toContain("INFO case greets-hi: PASS");
    expect(log.some((l) => /^INFO agent ready on its socket in \d+ ms \(python -m app.main\)$/.test(l))).toBe(
      true,
    );
    await markReleased(app, v1);
  });

  it("blocks a commit that drops a greeting and changes an answer, listing exactly the newly failing cases", async () => {
    v11 = await release(app, "v1.1.0", REGRESSED_AGENT(scaffold));
    expect(v11.result.outcome).toBe("FAILED");
    expect(v11.result.error).toMatchObject({
      retryable: false,
      details: {
        reportId: expect.any(Number),
        verdict: "BLOCK",
        newlyFailing: ["greets-hi", "answers-a-question"],
      },
    });
    const reasons = v11.result.error!.details!["reasons"] as string[];
    expect(v11.result.error!.message).toBe(reasons.join("; "));
    expect(reasons).toEqual([
      "pass rate 66.7% (4/6) is below 100.0%",
      "required tag greeting: 1 case(s) failed: greets-hi",
      "2 case(s) passed in v1.0.0 and fail now (at most 0): greets-hi, answers-a-question",
      "pass rate fell from 100.0% in v1.0.0 to 66.7% (at most 0.0% lower)",
    ]);
    const r = await report(app.appId, reportIdOf(v11));
    expect(r.verdict).toBe("BLOCK");
    expect(r.baseline).toEqual({ reportId: reportIdOf(v1), tag: "v1.0.0" });
    expect(r.newlyFailing).toEqual([
      expect.objectContaining({
        id: "greets-hi",
        input: "hi",
        output: "You said: hi",
        failed: [{ type: "icontains", reason: 'does not contain "hello" (any case)' }],
      }),
      expect.objectContaining({
        id: "answers-a-question",
        input: "Is it up?",
        output: "Noted: Is it up?",
        failed: [
          {
            type: "equals",
            reason: 'expected "Good question. You asked: Is it up?", got "Noted: Is it up?"',
          },
        ],
      }),
    ]);
    expect(r.newlyPassing).toEqual([]);
    expect(r.missing).toEqual([]);
    const log = await logOf(v11.pipelineId);
    expect(log).toContain("ERROR newly failing: greets-hi");
    expect(log).toContain("ERROR newly failing: answers-a-question");
  });

  it("compares the next release with the last RELEASED version, not with the blocked one", async () => {
    // The greeting is back, the answer still changed: against the blocked v1.1.0 nothing would be
    // newly failing; against v1.0.0, in production, one case is.
    const v12 = await release(app, "v1.2.0", {
      ...REGRESSED_AGENT(scaffold),
      "app/agent.py": REGRESSED_AGENT(scaffold)["app/agent.py"].replace(
        '("hello", "hey")',
        '("hello", "hi", "hey")',
      ),
    });
    expect(v12.result.outcome).toBe("FAILED");
    expect(v12.result.error!.details).toMatchObject({
      verdict: "BLOCK",
      newlyFailing: ["answers-a-question"],
    });
    const r = await report(app.appId, reportIdOf(v12));
    expect(r.baseline).toEqual({ reportId: reportIdOf(v1), tag: "v1.0.0" });
  });

  it("lists the app's gate history, newest first and paged, to its team only", async () => {
    const page = await api(`/apps/${app.appId}/quality?pageSize=2`);
    expect(page.status).toBe(200);
    const data = page.body.data as { items: unknown[]; total: number; page: number; pageSize: number };
    expect(data).toMatchObject({ total: 3, page: 1, pageSize: 2 });
    const items = data.items.map((i) => QualityReportItem.parse(i));
    expect(items.map((i) => [i.tag, i.verdict, i.newlyFailingCount])).toEqual([
      ["v1.2.0", "BLOCK", 1],
      ["v1.1.0", "BLOCK", 2],
    ]);
    expect(items[1]).toMatchObject({
      passed: 4,
      total: 6,
      unitTests: { ran: 9, failed: 0 },
      executor: "sandbox",
    });
    const second = await api(`/apps/${app.appId}/quality?pageSize=2&page=2`);
    expect((second.body.data as { items: { tag: string }[] }).items.map((i) => i.tag)).toEqual(["v1.0.0"]);
    expect((await api(`/apps/${app.appId}/quality`, "team-b")).status).toBe(404);
    expect((await api(`/apps/${app.appId}/quality/${reportIdOf(v1)}`, "team-b")).status).toBe(404);
    const none = await api(`/apps/${app.appId}/quality/999999999`);
    expect(none).toMatchObject({ status: 404, body: { code: 1011 } });
  });

  it("records a waiver on the blocked report, which then reads WAIVED; once released it is the next baseline", async () => {
    const at = new Date().toISOString();
    const data: MessageData<typeof QualityWaived> = {
      pipelineId: v11.pipelineId,
      appId: app.appId,
      team: "team-a",
      iterationPhaseId: v11.iterationPhaseId,
      reportId: reportIdOf(v11),
      by: "carol",
      reason: "the new greeting list is what product asked for",
      at,
    };
    // Twice, one after the other: a repeated event keeps the first waiver.
    const stream = Object.entries(STREAMS).find(([, v]) => v === QualityWaived.type.split(".")[0])![0];
    for (const d of [data, { ...data, by: "mallory" }]) {
      const message = Outbox.envelope(QualityWaived, d, "waiver");
      await svc.deps.nats.js.publish(
        messageSubject(svc.deps.nats.env, QualityWaived.type),
        JSON.stringify(message),
        { msgID: message.id },
      );
      await consumerIdle(
        infra.natsUrl,
        streamName(svc.deps.nats.env, stream as StreamKey),
        "dev-svc-quality-waived",
      );
    }
    const waived = await report(app.appId, reportIdOf(v11));
    expect(waived).toMatchObject({
      verdict: "WAIVED",
      waiver: { by: "carol", reason: "the new greeting list is what product asked for", at },
    });
    const list = await api(`/apps/${app.appId}/quality?pageSize=3`);
    expect(
      (list.body.data as { items: { tag: string; verdict: string }[] }).items.map((i) => i.verdict),
    ).toEqual(["BLOCK", "WAIVED", "PASS"]);

    // v1.1.0 went out with its waiver: the same agent again is compared with it, nothing newly fails.
    await markReleased(app, v11);
    const v13 = await release(app, "v1.3.0", { "README.md": "# agent\n\nUnchanged behaviour.\n" });
    expect(v13.result.error!.details).toMatchObject({ verdict: "BLOCK", newlyFailing: [] });
    const r13 = await report(app.appId, reportIdOf(v13));
    expect(r13.baseline).toEqual({ reportId: reportIdOf(v11), tag: "v1.1.0" });
    expect(r13.newlyPassing.map((c) => c.id)).toEqual(["greets-hi"]);
    expect(r13.reasons).toEqual(["pass rate 83.3% (5/6) is below 100.0%"]);
  });

  it("answers a re-published request with the recorded result, keeping one report per attempt", async () => {
    const before = engine.of(v1.pipelineId, "QUALITY_GATE").length;
    await engine.request({
      pipelineId: v1.pipelineId,
      stage: "QUALITY_GATE",
      appId: app.appId,
      tag: "v1.0.0",
      iterationPhaseId: v1.iterationPhaseId,
      inputs: { CODE_CHECK: { commitId: v1.commitId, checks: [] } },
    });
    await eventually(() => engine.of(v1.pipelineId, "QUALITY_GATE").length > before, "republished");
    expect(engine.of(v1.pipelineId, "QUALITY_GATE").at(-1)!.data.output).toEqual(v1.result.output);
    const rows = await sql(infra.databaseUrl, `select id from dev.quality_report where pipeline_id = $1`, [
      v1.pipelineId,
    ]);
    expect(rows).toHaveLength(1);
  });
});

describe("QUALITY_GATE failures", () => {
  it("fails an invalid case file as a configuration error, reported apart from a low score", async () => {
    const app = await gateApp({
      ...scaffold,
      "evals/more.jsonl":
        '{"id": "x", "input": "hi", "assert": [{"type": "contains"}]}\n{"id": "greets-hi"}\n',
    });
    const r = await release(app, "v1.0.0");
    expect(r.result.outcome).toBe("FAILED");
    const problems = [
      "evals/more.jsonl:1: assert.0.value: contains needs a text",
      "evals/more.jsonl:2: input: input is required",
      "evals/more.jsonl:2: assert: is required",
    ];
    expect(r.result.error).toMatchObject({
      message: `configuration error: ${problems[0]}; 2 more problem(s)`,
      retryable: false,
      details: { verdict: "CONFIGURATION_ERROR", problems },
    });
    const stored = await report(app.appId, reportIdOf(r));
    expect(stored).toMatchObject({ verdict: "CONFIGURATION_ERROR", problems, total: 0, unitTests: null });
  });

  it("blocks on a failing unit test, the cases passing", async () => {
    const app = await gateApp({
      ...scaffold,
      "tests/test_more.py":
        "import unittest\n\nfrom app.agent import Agent\n\n\nclass MoreTest(unittest.TestCase):\n    def test_shouts(self):\n        self.assertEqual(Agent().reply('hey'), 'HEY')\n",
    });
    const r = await release(app, "v1.0.0");
    expect(r.result.outcome).toBe("FAILED");
    expect(r.result.error!.details).toMatchObject({
      verdict: "BLOCK",
      reasons: ["1 of 10 unit tests failed"],
    });
    const stored = await report(app.appId, reportIdOf(r));
    expect(stored.unitTests).toMatchObject({ ran: 10, failed: 1, error: null });
    expect(stored.unitTests!.output).toContain("test_shouts");
    expect(stored).toMatchObject({ passed: 6, total: 6 });
  });
});

describe("llm-rubric", () => {
  let judge: http.Server;
  let judgeUrl: string;
  const asked: string[] = [];
  const RUBRIC_CASES = [
    { id: "polite-greeting", input: "hello", assert: [{ type: "llm-rubric", value: "greets the user" }] },
    {
      id: "rubric-echo",
      input: "tell me",
      assert: [{ type: "llm-rubric", value: "greets the user", threshold: 0.8 }],
    },
  ]
    .map((c) => JSON.stringify(c))
    .join("\n");

  beforeAll(async () => {
    // A judge of the test's own speaking the chat-completions API: an output that holds "Hello" greets.
    judge = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        asked.push(req.url ?? "");
        const user = (JSON.parse(body) as { messages: { role: string; content: string }[] }).messages.find(
          (m) => m.role === "user",
        )!.content;
        const output = /<Output>\n([\s\S]*)\n<\/Output>/.exec(user)![1]!;
        const greets = output.includes("Hello");
        const verdict = {
          reason: greets ? "it greets" : "no greeting",
          pass: greets,
          score: greets ? 0.9 : 0.1,
        };
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({ choices: [{ message: { role: "assistant", content: JSON.stringify(verdict) } }] }),
        );
      });
    });
    await new Promise<void>((r) => judge.listen(0, "127.0.0.1", r));
    judgeUrl = `http://127.0.0.1:${(judge.address() as net.AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => judge.close(() => r())));

  it("scores with the app's judge: a met rubric passes, an unmet one fails with the judge's reason", async () => {
    const app = await gateApp({ ...scaffold, "evals/rubric.jsonl": RUBRIC_CASES });
    const r = await release(app, "v1.0.0", {}, { judgeUrl });
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.every((u) => u === "/v1/chat/completions")).toBe(true);
    const stored = await report(app.appId, reportIdOf(r));
    expect(stored.failing.map((c) => [c.id, c.failed])).toEqual([
      ["rubric-echo", [{ type: "llm-rubric", reason: "judged 0.1 < 0.8: no greeting" }]],
    ]);
    expect(stored.total).toBe(8);
  });

  it("fails closed without a judge", async () => {
    const app = await gateApp({ ...scaffold, "evals/rubric.jsonl": RUBRIC_CASES });
    const r = await release(app, "v1.0.0");
    expect(r.result.outcome).toBe("FAILED");
    const stored = await report(app.appId, reportIdOf(r));
    expect(stored.failing.map((c) => [c.id, c.failed[0]!.reason])).toEqual([
      ["polite-greeting", "no judge verdict (llm-rubric fails closed)"],
      ["rubric-echo", "no judge verdict (llm-rubric fails closed)"],
    ]);
    expect(
      (await logOf(r.pipelineId)).some((l) => l.startsWith("WARN llm-rubric assertions and no judgeUrl")),
    ).toBe(true);
  });

  it("fails closed when the judge does not answer", async () => {
    const app = await gateApp({ ...scaffold, "evals/rubric.jsonl": RUBRIC_CASES });
    const r = await release(app, "v1.0.0", {}, { judgeUrl: "http://127.0.0.1:9/v1" });
    const stored = await report(app.appId, reportIdOf(r));
    expect(stored.failing.map((c) => c.id)).toEqual(["polite-greeting", "rubric-echo"]);
    expect(stored.failing[0]!.failed[0]!.reason).toMatch(
      /^no judge verdict: judge at http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions did not answer/,
    );
  });

  it("calls a judge only where an app's URL may go: a private address not allowed is refused, and fails closed", async () => {
    const app = await gateApp({ ...scaffold, "evals/rubric.jsonl": RUBRIC_CASES });
    // The cloud metadata address: what an app's judgeUrl must never reach from dev-svc.
    const r = await release(app, "v1.0.0", {}, { judgeUrl: "http://169.254.169.254/v1" });
    const stored = await report(app.appId, reportIdOf(r));
    expect(stored.failing.map((c) => c.id)).toEqual(["polite-greeting", "rubric-echo"]);
    expect(stored.failing[0]!.failed[0]!.reason).toMatch(
      /^no judge verdict: judge at http:\/\/169\.254\.169\.254\/v1\/chat\/completions did not answer: .*(link-local|not allowed|blocked|refused)/i,
    );
  });
});

describe("the escape battery, run as agent code inside the gate", () => {
  it("refuses every way out and reports each; a CPU spin is ended at its case's deadline and reported", async () => {
    const host = net.createServer((s) => s.end("reached the host\n"));
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
    try {
      const app = await gateApp(escapeAgent((host.address() as net.AddressInfo).port));
      const started = Date.now();
      const r = await release(app, "v1.0.0");
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(r.result.outcome).toBe("FAILED");
      expect(r.result.error!.details!["reasons"]).toEqual([
        "1 case(s) errored (the agent gave no answer): cpu-spin",
        "pass rate 90.9% (10/11) is below 100.0%",
      ]);
      const stored = await report(app.appId, reportIdOf(r));
      expect(stored.failing.map((c) => [c.id, c.errored, c.error])).toEqual([
        ["cpu-spin", true, "no answer within 6000 ms"],
      ]);
      // Every other attempt answered how it was refused, and the report keeps it.
      const log = await logOf(r.pipelineId);
      for (const id of [
        "network",
        "host-loopback",
        "write-outside-tmp",
        "read-secrets",
        "read-cases",
        "fork-bomb",
        "memory-bomb",
        "ptrace",
        "nested-namespaces",
        "fill-tmp",
      ])
        expect(log, id).toContain(`INFO case ${id}: PASS`);
      expect(log).toContain("ERROR case cpu-spin: ERROR: no answer within 6000 ms");
    } finally {
      host.close();
    }
  }, 60_000);
});
