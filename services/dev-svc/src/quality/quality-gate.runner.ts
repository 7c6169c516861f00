import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DEFAULT_GATE_SETTINGS, type GateSettings, type QualityUnitTests } from "@procode/contracts";
import type { Database, UrlPolicy } from "@procode/service-kit";
import { loadEvalSet } from "../domain/quality/case-files.js";
import { percentile } from "../domain/quality/report.js";
import { decideGate, type GateVerdict } from "../domain/quality/verdict.js";
import type { RepositoryAccess } from "../git/repository-access.js";
import {
  lastReleasedReport,
  saveQualityReport,
  type NewQualityReport,
  type QualityReportDocument,
} from "../store/quality-report.repository.js";
import {
  StageFailedError,
  type StageContext,
  type StageResult,
  type StageWork,
} from "../runners/stage-work.js";
import { AgentStartError, startAgent, type RunningAgent } from "./agent.js";
import { askCases } from "./cases.js";
import { createJudge } from "./judge.js";
import { sandboxUnavailable } from "./sandbox.js";
import { checkoutTree } from "./tree.js";
import { runUnitTests } from "./unit-tests.js";

export interface QualityGateOptions {
  /** Bound of one attempt: the unit tests, the agent's start and every case. */
  timeoutMs: number;
  /** The model named to an app's llm-rubric judge. */
  judgeModel: string;
  /** The outbound rules an app's judge URL is called under. */
  judgePolicy: UrlPolicy;
  /** Files and bytes of the release's tree the gate checks out at most. */
  maxFiles?: number;
  maxBytes?: number;
}

const CASE_FILE = /^evals\/[^/]+\.jsonl$/;

/**
 * QUALITY_GATE (docs/quality-gate.md): reads `evals/*.jsonl` and `evals/gate.json` at the release
 * commit (CODE_CHECK's commitId), runs the agent's unit tests and starts the agent in the sandbox,
 * asks it every case a few at once, scores the answers here (never inside the sandbox), compares
 * them with the report of the app's last RELEASED version, stores the report and answers with
 * QualityGateOutput, or a FAILED result naming the broken rules (BLOCK) or the problems of the case
 * set (CONFIGURATION_ERROR). Neither is retryable: the same commit fails the same way.
 */
export function qualityGateWork(db: Database, access: RepositoryAccess, opts: QualityGateOptions): StageWork {
  return {
    stage: "QUALITY_GATE",
    timeoutMs: opts.timeoutMs,
    run: (ctx) => runGate(db, access, opts, ctx),
  };
}

async function runGate(
  db: Database,
  access: RepositoryAccess,
  opts: QualityGateOptions,
  ctx: StageContext,
): Promise<StageResult> {
  const { request, out } = ctx;
  const started = performance.now();
  const commitId = request.inputs.CODE_CHECK?.commitId;
  if (!commitId) {
    throw new StageFailedError(
      "QUALITY_GATE: the release commit is unknown (no CODE_CHECK output in the request)",
      { call: "inputs" },
      false,
    );
  }
  const missing = sandboxUnavailable();
  if (missing)
    throw new StageFailedError(
      `QUALITY_GATE: the sandbox cannot run here: ${missing}`,
      { call: "sandbox" },
      true,
    );

  ctx.step(`finding the repository of app ${request.appId}`);
  const { provider } = await access.forApp(request.appId, { strict: true });
  ctx.step(`reading the tree at ${commitId.slice(0, 12)}`);
  const entries = await provider.readTree(commitId);
  const blobs = entries.filter((e) => e.type === "blob" && e.mode !== "120000");
  const caseFiles = blobs.filter((e) => CASE_FILE.test(e.path));
  out.info(
    `reading the evaluation set at ${commitId.slice(0, 12)}: ${caseFiles.map((f) => f.path).join(", ") || "no evals/*.jsonl"}`,
  );
  ctx.step("reading the evaluation set");
  const files = await Promise.all(
    caseFiles.map(async (f) => ({
      path: f.path,
      text: (await provider.readFile(f.path, commitId)).toString("utf8"),
    })),
  );
  const gateJson = blobs.some((e) => e.path === "evals/gate.json")
    ? (await provider.readFile("evals/gate.json", commitId)).toString("utf8")
    : null;

  const base = {
    appId: request.appId,
    team: request.team,
    pipelineId: request.pipelineId,
    attempt: request.attempt,
    iterationPhaseId: request.iterationPhaseId ?? null,
    tag: request.tag,
    commitId,
  };
  // The stage settings arrive checked by the message's contract (`gate` is a GateFile, `judgeUrl` a URL).
  const { gate, judgeUrl } = request.stageConfig;
  const set = loadEvalSet(files, gateJson);
  if (!set.ok) {
    const problems = set.errors;
    for (const p of problems) out.error(`configuration error: ${p}`);
    const reportId = await saveQualityReport(db.sql, {
      ...base,
      verdict: "CONFIGURATION_ERROR",
      passRate: 0,
      interval: { low: 0, high: 1 },
      passed: 0,
      total: 0,
      baseline: null,
      durationMs: Math.round(performance.now() - started),
      document: emptyDocument({ problems }),
    });
    const details = { reportId, verdict: "CONFIGURATION_ERROR", problems };
    // The details are the attempt's output too: the engine keeps them on the checkpoint (a waiver reads the verdict).
    throw new StageFailedError(
      `configuration error: ${problems[0]}${problems.length > 1 ? `; ${problems.length - 1} more problem(s)` : ""}`,
      details,
      false,
      details,
    );
  }
  const settings: GateSettings = { ...DEFAULT_GATE_SETTINGS, ...gate, ...set.settings };
  out.info(
    `${set.cases.length} case(s); rules: minPassRate ${settings.minPassRate}, maxNewlyFailing ${settings.maxNewlyFailing}, maxPassRateDrop ${settings.maxPassRateDrop}${settings.requiredTags.length ? `, requiredTags ${settings.requiredTags.join(", ")}` : ""}; concurrency ${settings.concurrency}`,
  );

  const scratch = await mkdtemp(path.join(tmpdir(), "procode-gate-"));
  const tree = path.join(scratch, "app");
  const sockets = path.join(scratch, "run");
  let agent: RunningAgent | null = null;
  try {
    ctx.step("checking out the release's tree");
    const checkedOut = await checkoutTree({
      provider,
      commitId,
      entries,
      dir: tree,
      maxFiles: opts.maxFiles ?? 5000,
      maxBytes: opts.maxBytes ?? 200 * 1024 * 1024,
      signal: ctx.signal,
    });
    await mkdir(sockets, { mode: 0o755 });
    out.info(
      `checked out ${checkedOut.files} file(s) without evals/ into the sandbox (read-only, no network)`,
    );

    ctx.step("running the agent's unit tests in the sandbox");
    const hasTests = blobs.some((e) => e.path.startsWith("tests/"));
    const unitTests = await runUnitTests({ tree, hasTests, timeoutMs: settings.testTimeoutMs });
    if (unitTests.error) out.error(`unit tests could not run: ${unitTests.error}`);
    else if (unitTests.failed)
      out.error(`unit tests: ${unitTests.failed} of ${unitTests.ran} failed (${unitTests.durationMs} ms)`);
    else out.info(`unit tests: ${unitTests.ran} ran, none failed (${unitTests.durationMs} ms)`);
    if (unitTests.failed || unitTests.error) out.error(lastLines(unitTests.output ?? ""));

    const module = moduleOf(request.inputs.CODE_CHECK?.entryPoint ?? "app/main.py");
    ctx.step(`starting the agent (python -m ${module}) in the sandbox`);
    let startError: string | null = null;
    try {
      agent = await startAgent({
        tree,
        socketDir: sockets,
        module,
        startTimeoutMs: settings.startTimeoutMs,
        signal: ctx.signal,
      });
      // An attempt out of time (or taken over) ends its agent at once, not after its last case.
      const running = agent;
      ctx.signal.addEventListener("abort", () => running.stop(), { once: true });
      out.info(`agent ready on its socket in ${agent.readyMs} ms (python -m ${module})`);
    } catch (e) {
      if (!(e instanceof AgentStartError)) throw e;
      startError = e.message;
      out.error(e.message);
    }

    const judge = judgeUrl
      ? createJudge({
          url: judgeUrl,
          model: opts.judgeModel,
          timeoutMs: settings.caseTimeoutMs,
          policy: opts.judgePolicy,
        })
      : null;
    if (!judge && set.cases.some((c) => c.assert.some((a) => a.type === "llm-rubric")))
      out.warn(
        "llm-rubric assertions and no judgeUrl in the stage settings: they fail (the gate fails closed)",
      );

    ctx.step(`asking the agent ${set.cases.length} case(s), ${settings.concurrency} at once`);
    const casesStarted = performance.now();
    const { results, latencies } = await askCases(set.cases, {
      agent,
      startError,
      judge,
      settings,
      signal: ctx.signal,
      out,
    });
    const casesMs = Math.round(performance.now() - casesStarted);

    const baseline = await lastReleasedReport(db.sql, request.appId, request.pipelineId);
    const verdict = decideGate({
      settings,
      cases: results,
      unitTests,
      baseline: baseline
        ? { tag: baseline.tag, passRate: baseline.passRate, cases: baseline.document.cases }
        : null,
    });
    if (startError) verdict.reasons.unshift(`the agent did not start: ${startError.slice(0, 300)}`);
    const pass = verdict.reasons.length === 0;
    const byKey = new Map(results.map((r) => [r.key, r]));
    const baselineMissing = baseline ? baseline.document.cases.filter((b) => !byKey.has(b.key)) : [];
    const document: QualityReportDocument = {
      executor: "sandbox",
      reasons: verdict.reasons,
      problems: [],
      unitTests: stripDuration(unitTests),
      byTag: verdict.byTag,
      cases: results,
      newlyFailing: verdict.newlyFailing,
      newlyPassing: verdict.newlyPassing,
      missing: baselineMissing,
      latency: {
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        calls: latencies.length,
      },
      settings,
    };
    const report: NewQualityReport = {
      ...base,
      verdict: pass ? "PASS" : "BLOCK",
      passRate: verdict.passRate,
      interval: verdict.interval,
      passed: verdict.passed,
      total: verdict.total,
      baseline: baseline ? { reportId: baseline.id, tag: baseline.tag } : null,
      durationMs: Math.round(performance.now() - started),
      document,
    };
    const reportId = await saveQualityReport(db.sql, report);
    summarise(ctx, verdict, baseline?.tag ?? null, document, casesMs);
    if (pass) {
      out.info(`gate PASSED (report ${reportId})`);
      return {
        outcome: "SUCCESS",
        output: {
          reportId,
          verdict: "PASS",
          passRate: verdict.passRate,
          cases: verdict.total,
          passed: verdict.passed,
          newlyFailing: verdict.newlyFailing,
        },
      };
    }
    out.error(`gate BLOCKED the release (report ${reportId}): ${verdict.reasons.join("; ")}`);
    const details = {
      reportId,
      verdict: "BLOCK",
      reasons: verdict.reasons,
      newlyFailing: verdict.newlyFailing,
    };
    throw new StageFailedError(verdict.reasons.join("; "), details, false, details);
  } finally {
    agent?.stop();
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

function summarise(
  ctx: StageContext,
  v: GateVerdict,
  baselineTag: string | null,
  doc: QualityReportDocument,
  casesMs: number,
): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  ctx.out.info(
    `pass rate ${pct(v.passRate)} (${v.passed}/${v.total}), 95% interval ${pct(v.interval.low)}-${pct(v.interval.high)}; /invoke P50 ${doc.latency.p50Ms} ms, P95 ${doc.latency.p95Ms} ms over ${doc.latency.calls} call(s) in ${casesMs} ms`,
  );
  if (baselineTag === null) ctx.out.info("no released version has a report yet: nothing to compare with");
  else
    ctx.out.info(
      `against ${baselineTag} (the last released version): ${v.newlyFailing.length} newly failing, ${v.newlyPassing.length} newly passing, ${v.missing.length} missing`,
    );
  for (const id of v.newlyFailing) ctx.out.error(`newly failing: ${id}`);
}

function emptyDocument(p: { problems: string[] }): QualityReportDocument {
  return {
    executor: "sandbox",
    reasons: [],
    problems: p.problems,
    unitTests: null,
    byTag: {},
    cases: [],
    newlyFailing: [],
    newlyPassing: [],
    missing: [],
    latency: { p50Ms: 0, p95Ms: 0, calls: 0 },
    settings: null,
  };
}

/** `app/main.py` -> `app.main`: what `python -m` runs. */
export function moduleOf(entryPoint: string): string {
  return entryPoint
    .replace(/\.py$/, "")
    .replace(/\/__main__$/, "")
    .replaceAll("/", ".");
}

const lastLines = (text: string) => text.trim().split("\n").slice(-20).join("\n");

function stripDuration(u: QualityUnitTests & { durationMs: number }): QualityUnitTests {
  const { durationMs: _, ...rest } = u;
  return rest;
}
