import { createHash } from "node:crypto";
import type { EvalCase, GateSettings } from "@procode/contracts";
import { Semaphore, type StageLog } from "@procode/service-kit";
import { canonicalJson, clipOutput } from "../domain/quality/report.js";
import {
  casePasses,
  scoreAssertion,
  scoreRubric,
  scoreRun,
  type AssertionResult,
} from "../domain/quality/scorers.js";
import type { CaseOutcome } from "../domain/quality/verdict.js";
import type { StoredCase } from "../store/quality-report.repository.js";
import type { RunningAgent } from "./agent.js";
import type { Judge } from "./judge.js";

/**
 * The gate's cases asked of the agent in the sandbox, `concurrency` at once, and scored here, on
 * the trusted side (docs/quality-gate.md, "The stage, step by step"): one log line per case.
 */

/** The case's key in a report: its id and a digest of its input and assertions. */
export function caseKey(c: Pick<EvalCase, "id" | "input" | "assert">): string {
  const digest = createHash("sha256")
    .update(canonicalJson({ input: c.input, assert: c.assert }))
    .digest("hex");
  return `${c.id}#${digest.slice(0, 16)}`;
}

interface Asking {
  /** Null when the agent did not start: every case is then errored. */
  agent: RunningAgent | null;
  startError: string | null;
  judge: Judge | null;
  settings: GateSettings;
  signal: AbortSignal;
  out: StageLog;
}

/** Every case, in the order of the case files, with the latency of every `/invoke` made. */
export async function askCases(
  cases: readonly EvalCase[],
  a: Asking,
): Promise<{ results: (StoredCase & CaseOutcome)[]; latencies: number[] }> {
  const latencies: number[] = [];
  const sem = new Semaphore(a.settings.concurrency);
  const results = await Promise.all(
    cases.map(async (c) => {
      await sem.acquire();
      try {
        if (a.signal.aborted) throw a.signal.reason;
        const r = await askCase(c, a, latencies);
        const why = r.error ?? r.failed.map((f) => `${f.type}: ${f.reason}`).join("; ");
        if (r.pass) a.out.info(`case ${c.id}: PASS`);
        else a.out.error(`case ${c.id}: ${r.errored ? "ERROR" : "FAIL"}: ${why}`);
        return r;
      } finally {
        sem.release();
      }
    }),
  );
  return { results, latencies };
}

/** One case over its repeats: asked, scored here, kept as the report shows it. */
async function askCase(c: EvalCase, a: Asking, latencies: number[]): Promise<StoredCase & CaseOutcome> {
  const { agent, judge, settings, signal } = a;
  const runs: { pass: boolean; score: number; failed: AssertionResult[] }[] = [];
  let output: unknown = null;
  let error: string | null = a.startError ? "the agent did not start" : null;
  const repeat = c.repeat ?? 1;
  for (let i = 0; i < repeat && agent && !error; i++) {
    const answer = await agent.invoke(c.input, settings.caseTimeoutMs);
    latencies.push(answer.ms);
    if (!answer.ok) {
      error = answer.error;
      break;
    }
    output = answer.output;
    const results: AssertionResult[] = [];
    for (const assertion of c.assert) {
      if (assertion.type === "llm-rubric") {
        const verdict = judge ? await judge(String(assertion.value), answer.output, signal) : null;
        results.push(scoreRubric(assertion, verdict));
      } else results.push(scoreAssertion(assertion, answer.output));
    }
    const run = scoreRun(c, results);
    runs.push({ ...run, failed: results.filter((r) => !r.pass) });
  }
  const errored = error !== null;
  const pass = !errored && casePasses(c, runs);
  const lastFailing = [...runs].reverse().find((r) => !r.pass);
  return {
    key: caseKey(c),
    id: c.id,
    tags: c.tags ?? [],
    input: c.input,
    output: clipOutput(output),
    pass,
    errored,
    score: runs.at(-1)?.score ?? 0,
    runsPassed: runs.filter((r) => r.pass).length,
    runs: runs.length,
    failed: pass ? [] : (lastFailing?.failed ?? []).map((f) => ({ type: f.type, reason: f.reason })),
    error,
  };
}
