import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { percentile } from "../src/domain/quality/report.js";
import { GateHarness, reportIdOf } from "./support/quality/gate-harness.js";

/**
 * The gate's own figures on this machine: wall time of the scaffold's gate and of its parts (the
 * unit tests in the sandbox, the agent's start, the cases) over 20 unchanged releases, none of which
 * may be blocked; and cases per second at concurrency 1, 4 and 16. Printed for docs/quality-gate.md.
 */
let h: GateHarness;

beforeAll(async () => {
  h = await GateHarness.start("dev-quality-bench");
}, 60_000);
afterAll(async () => {
  await h?.close();
});

const ms = (log: string[], re: RegExp) => Number(log.map((l) => re.exec(l)?.[1]).find((x) => x) ?? NaN);

describe("quality gate bench", () => {
  it("passes 20 unchanged releases of the scaffold in a row, each against the one before", async () => {
    const app = await h.gateApp(h.scaffold);
    const rows: { wall: number; tests: number; start: number; cases: number }[] = [];
    for (let i = 1; i <= 20; i++) {
      const t0 = performance.now();
      const r = await h.release(app, `v1.0.${i}`, { "README.md": `# agent\n\nrelease ${i}\n` });
      const wall = performance.now() - t0;
      expect(r.result.outcome, `v1.0.${i}: ${JSON.stringify(r.result.error)}`).toBe("SUCCESS");
      const log = await h.logOf(r.pipelineId);
      const report = await h.report(app.appId, reportIdOf(r));
      expect(report.baseline?.tag ?? null).toBe(i === 1 ? null : `v1.0.${i - 1}`);
      rows.push({
        wall: report.durationMs,
        tests: ms(log, /^INFO unit tests: \d+ ran, none failed \((\d+) ms\)$/),
        start: ms(log, /^INFO agent ready on its socket in (\d+) ms/),
        cases: ms(log, /over \d+ call\(s\) in (\d+) ms$/),
      });
      expect(wall).toBeGreaterThan(report.durationMs);
      await h.markReleased(app, r);
    }
    const line = (k: keyof (typeof rows)[number]) =>
      `${k}: P50 ${percentile(
        rows.map((r) => r[k]),
        50,
      )} ms, P95 ${percentile(
        rows.map((r) => r[k]),
        95,
      )} ms`;
    console.log(
      `quality gate, scaffold (9 unit tests, 6 cases), 20 releases, 0 blocked\n${(["wall", "tests", "start", "cases"] as const).map(line).join("\n")}`,
    );
  }, 180_000);

  it("asks 48 cases at concurrency 1, 4 and 16", async () => {
    const cases = Array.from({ length: 48 }, (_, i) =>
      JSON.stringify({
        id: `echo-${i}`,
        input: `message ${i}`,
        assert: [{ type: "equals", value: `You said: message ${i}` }],
      }),
    ).join("\n");
    const figures: string[] = [];
    for (const concurrency of [1, 4, 16]) {
      const app = await h.gateApp({
        ...h.scaffold,
        "evals/cases.jsonl": cases,
        "evals/gate.json": JSON.stringify({ concurrency }),
      });
      const r = await h.release(app, "v1.0.0");
      if (r.result.outcome !== "SUCCESS") console.log((await h.logOf(r.pipelineId)).slice(0, 40).join("\n"));
      expect(r.result.output, JSON.stringify(r.result.error)).toMatchObject({
        verdict: "PASS",
        cases: 48,
        passed: 48,
      });
      const log = await h.logOf(r.pipelineId);
      const casesMs = ms(log, /over \d+ call\(s\) in (\d+) ms$/);
      const report = await h.report(app.appId, reportIdOf(r));
      figures.push(
        `concurrency ${concurrency}: ${((48 * 1000) / casesMs).toFixed(0)} cases/s (48 in ${casesMs} ms; /invoke P50 ${report.latency.p50Ms} ms, P95 ${report.latency.p95Ms} ms)`,
      );
    }
    console.log(figures.join("\n"));
  }, 120_000);
});
