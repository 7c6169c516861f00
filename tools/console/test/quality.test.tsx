import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Router } from "wouter";
import { memoryLocation } from "wouter/memory-location";
import { logKey } from "../src/api/logs";
import type {
  App,
  Checkpoint,
  Pipeline,
  QualityCase,
  QualityReport,
  QualityReportItem,
} from "../src/api/types";
import { LiveContext } from "../src/live/live";
import { NodePanel } from "../src/pages/NodePanel";
import { refusalOf } from "../src/pages/pipeline-actions";
import { QualityPage } from "../src/pages/QualityPage";
import { attempt, pipeline, stageLog } from "./fixtures";

const APP = 1;
const app = {
  id: APP,
  name: "support-agent",
  devMode: "pro-code",
  team: "blue",
  createdBy: "ana",
  techStack: "python",
  procodeConfig: null,
} as unknown as App;

const caseOf = (id: string, over: Partial<QualityCase> = {}): QualityCase => ({
  id,
  tags: [],
  input: `question ${id}`,
  output: `answer ${id}`,
  pass: true,
  errored: false,
  score: 1,
  runsPassed: 1,
  runs: 1,
  failed: [],
  error: null,
  ...over,
});

function item(
  id: number,
  tag: string,
  verdict: QualityReportItem["verdict"],
  passed: number,
): QualityReportItem {
  return {
    id,
    appId: APP,
    pipelineId: 100 + id,
    attempt: 1,
    iterationPhaseId: 10 + id,
    tag,
    commitId: `${id}`.repeat(40).slice(0, 40),
    verdict,
    passRate: passed / 10,
    interval: { low: Math.max(0, passed / 10 - 0.2), high: Math.min(1, passed / 10 + 0.1) },
    passed,
    total: 10,
    unitTests: { ran: 4, failed: verdict === "BLOCK" ? 1 : 0, error: null },
    executor: "sandbox",
    baseline: id > 1 ? { reportId: 1, tag: "v1.0.0" } : null,
    waiver: null,
    durationMs: 4200,
    createdAt: new Date(Date.now() - (10 - id) * 60_000).toISOString(),
    newlyFailingCount: verdict === "PASS" ? 0 : 2,
  };
}

/** v1.0.0 passed; v1.1.0 was blocked (two cases newly fail); v1.1.1 was blocked, then waived. */
const history = [
  item(3, "v1.1.1", "WAIVED", 8),
  item(2, "v1.1.0", "BLOCK", 8),
  item(1, "v1.0.0", "PASS", 10),
];

function report(of: QualityReportItem, over: Partial<QualityReport> = {}): QualityReport {
  const { newlyFailingCount: _count, ...rest } = of;
  const newlyFailing =
    of.verdict === "PASS"
      ? []
      : [
          caseOf("greets", {
            tags: ["core"],
            input: "hello",
            output: "Hi.",
            pass: false,
            score: 0,
            failed: [{ type: "icontains", reason: 'does not contain "hello"' }],
          }),
          caseOf("capital", {
            input: "capital of France?",
            output: "Lyon",
            pass: false,
            score: 0,
            failed: [{ type: "equals", reason: 'is not "Paris"' }],
          }),
        ];
  return {
    ...rest,
    reasons: of.verdict === "PASS" ? [] : ["2 cases newly fail (at most 0)", "a core case failed"],
    problems: [],
    byTag: { core: { passed: of.verdict === "PASS" ? 3 : 2, total: 3 } },
    newlyFailing,
    newlyPassing: [],
    missing: [],
    failing: newlyFailing,
    latency: { p50Ms: 12.4, p95Ms: 40.2, calls: 10 },
    settings: null,
    ...over,
  };
}

function show(path: string, reports: Record<number, QualityReport>, items = history) {
  const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity, retry: false } } });
  client.setQueryData(["app", APP], app);
  client.setQueryData(["quality", APP], { items, total: items.length, page: 1, pageSize: 100 });
  for (const [id, r] of Object.entries(reports)) client.setQueryData(["quality", APP, Number(id)], r);
  const location = memoryLocation({ path, record: true });
  render(
    <QueryClientProvider client={client}>
      <LiveContext.Provider value={{ status: "live", reason: "" }}>
        <Router hook={location.hook}>
          <QualityPage appId={APP} />
        </Router>
      </LiveContext.Provider>
    </QueryClientProvider>,
  );
  return { path: () => location.history.at(-1) };
}

describe("the quality page", () => {
  it("lists the gate runs newest first with verdict, pass rate and interval, and shows the newest report", () => {
    show("/apps/1/quality", {
      3: report(history[0]!, {
        waiver: { by: "ana", reason: "known flaky judge", at: new Date().toISOString() },
      }),
    });
    const rows = within(screen.getByTestId("quality-history")).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.getAttribute("data-report"))).toEqual(["3", "2", "1"]);
    expect(rows[0]!.textContent).toContain("WAIVED");
    expect(rows[1]!.textContent).toContain("BLOCK");
    expect(rows[1]!.textContent).toContain("80%");
    expect(rows[1]!.textContent).toContain("8/10 · 60%–90%");
    expect(rows[1]!.textContent).toContain("1 of 4 failed");
    expect(rows[2]!.textContent).toContain("first run");
    // The newest run is the one shown, and marked.
    expect(rows[0]!.getAttribute("aria-current")).toBe("true");
    const shown = screen.getByTestId("quality-report");
    expect(shown.textContent).toContain("Report #3");
    expect(within(shown).getByTestId("quality-waiver").textContent).toContain("ana");
    expect(within(shown).getByTestId("quality-waiver").textContent).toContain("known flaky judge");
  });

  it("shows a blocked run's reasons and exactly its newly failing cases with input, output and the failed assertion", () => {
    show("/apps/1/quality?report=2", { 2: report(history[1]!) });
    const shown = screen.getByTestId("quality-report");
    expect(within(shown).getByTestId("quality-reasons").textContent).toContain("2 cases newly fail");
    const cases = within(shown).getByTestId("newly-failing");
    expect([...cases.querySelectorAll("tr[data-case]")].map((r) => r.getAttribute("data-case"))).toEqual([
      "greets",
      "capital",
    ]);
    const greets = cases.querySelector('tr[data-case="greets"]')!;
    expect(greets.textContent).toContain("hello");
    expect(greets.textContent).toContain("Hi.");
    expect(greets.textContent).toContain('icontains does not contain "hello"');
    expect(within(shown).getByText("v1.0.0 (the last released version)").getAttribute("href")).toBe(
      "/apps/1/quality?report=1",
    );
    expect(within(screen.getByTestId("quality-tags")).getByText("66.7%")).toBeTruthy();
  });

  it("a configuration error lists the problems of the case set, apart from any score", () => {
    const broken = { ...item(4, "v1.2.0", "CONFIGURATION_ERROR", 0), total: 0, passRate: 1 };
    show("/apps/1/quality?report=4", {
      4: report(broken, {
        reasons: [],
        newlyFailing: [],
        failing: [],
        problems: ["evals/cases.jsonl:4: assert.0.value: contains needs a text"],
      }),
    });
    const problems = screen.getByTestId("quality-problems");
    expect(problems.textContent).toContain("configuration error");
    expect(problems.textContent).toContain("evals/cases.jsonl:4: assert.0.value: contains needs a text");
  });

  it("draws the trend oldest to newest, one point per run in its verdict's colour, and a point opens its report", async () => {
    const s = show("/apps/1/quality", { 1: report(history[2]!), 3: report(history[0]!) });
    const trend = screen.getByTestId("quality-trend");
    const points = [...trend.querySelectorAll("g.trend-point")];
    expect(points.map((p) => p.getAttribute("data-report"))).toEqual(["1", "2", "3"]);
    expect(points.map((p) => p.getAttribute("class"))).toEqual([
      "trend-point trend-green",
      "trend-point trend-red",
      "trend-point trend-yellow trend-selected",
    ]);
    expect(trend.querySelector("svg")!.getAttribute("aria-label")).toBe(
      "Pass rate of the last 3 gate runs, from 100% (v1.0.0) to 80% (v1.1.1)",
    );
    // Higher pass rate is higher up: v1.0.0's point sits above v1.1.0's.
    const cy = (p: Element) => Number(p.querySelector("circle")!.getAttribute("cy"));
    expect(cy(points[0]!)).toBeLessThan(cy(points[1]!));
    fireEvent.keyDown(points[0]!, { key: "Enter" });
    expect(s.path()).toBe("/apps/1/quality?report=1");
    await waitFor(() => expect(screen.getByTestId("quality-report").textContent).toContain("Report #1"));
  });

  it("says what to do when no gate has run", () => {
    show("/apps/1/quality", {}, []);
    expect(screen.getByText("No quality gate has run yet.")).toBeTruthy();
    expect(screen.queryByTestId("quality-trend")).toBeNull();
  });
});

describe("a QUALITY_GATE attempt on the pipeline page", () => {
  const blocked = {
    reportId: 8,
    verdict: "BLOCK",
    reasons: ["2 cases newly fail (at most 0): greets, capital"],
    newlyFailing: ["greets", "capital"],
  };
  const gatePipeline = (over: Partial<Pipeline> = {}, extra: Partial<Checkpoint> = {}) =>
    pipeline({
      status: "FAILED",
      state: "FAILED",
      currentStage: "QUALITY_GATE",
      stageConfigs: { QUALITY_GATE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 } },
      awaiting: { action: "RETRY_OR_RESUME", stage: "QUALITY_GATE", hint: "" },
      checkpoints: [
        attempt("CODE_CHECK", 1, "SUCCESS", 0, 1, { output: { commitId: "abc", checks: [], evals: true } }),
        attempt("BUILD", 1, "SUCCESS", 1, 2),
        attempt("PACKAGE", 1, "SUCCESS", 2, 3),
        attempt("QUALITY_GATE", 1, "FAILED", 3, 9, { output: blocked, error: blocked.reasons[0]!, ...extra }),
      ],
      ...over,
    });

  function panel(p: Pipeline) {
    const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity, retry: false } } });
    client.setQueryData(logKey(p.id, "QUALITY_GATE", 1), stageLog(0));
    render(
      <QueryClientProvider client={client}>
        <Router hook={memoryLocation({ path: "/pipelines/7" }).hook}>
          <NodePanel pipeline={p} stage="QUALITY_GATE" onClose={() => {}} />
        </Router>
      </QueryClientProvider>,
    );
    return screen.getByTestId("gate-output");
  }

  it("shows the verdict, the newly failing cases, why it blocked, and links its report", () => {
    const out = panel(gatePipeline());
    expect(out.textContent).toContain("BLOCK");
    expect(out.textContent).toContain("greets, capital");
    expect(out.textContent).toContain("2 cases newly fail (at most 0)");
    expect(within(out).getByRole("link", { name: "report #8" }).getAttribute("href")).toBe(
      "/apps/1/quality?report=8",
    );
  });

  it("shows a waiver with who and why, the verdict read WAIVED", () => {
    const out = panel(
      gatePipeline(
        {},
        { waiver: { by: "dora", reason: "greeting dropped on purpose", at: new Date().toISOString() } },
      ),
    );
    expect(out.textContent).toContain("WAIVED");
    expect(within(out).getByTestId("gate-waiver").textContent).toContain("dora");
    expect(within(out).getByTestId("gate-waiver").textContent).toContain("greeting dropped on purpose");
  });

  it("offers Waive only for a gate that blocked on its rules", () => {
    expect(refusalOf(gatePipeline(), "waive")).toBeNull();
    const broken = gatePipeline(
      {},
      { output: { reportId: 9, verdict: "CONFIGURATION_ERROR", problems: ["x"] } },
    );
    expect(refusalOf(broken, "waive")).toMatch(/configuration error/);
    expect(refusalOf(pipeline({}), "waive")).toMatch(/blocked by its quality gate/);
  });
});
