import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { judgeRun, renderVerdict, type RunRecord } from "../src/run-summary.js";
import { RUN_RECORD_ENV } from "../src/summary-reporter.js";

// Each case is a real vitest run of one fixture file with the reporter `npm test` uses.
const fixtures = path.join(import.meta.dirname, "run-fixtures");
const reporter = path.join(import.meta.dirname, "..", "src", "summary-reporter.ts");
const vitest = path.resolve(import.meta.dirname, "..", "..", "..", "node_modules", ".bin", "vitest");
const scratch = mkdtempSync(path.join(tmpdir(), "run-summary-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(fixture: string) {
  const out = path.join(scratch, `${fixture}.json`);
  const r = spawnSync(
    vitest,
    [
      "run",
      "--config",
      path.join(fixtures, "vitest.config.ts"),
      `--reporter=${reporter}`,
      `${fixture}.fixture.ts`,
    ],
    { cwd: fixtures, env: { ...process.env, [RUN_RECORD_ENV]: out, FORCE_COLOR: "0" }, encoding: "utf8" },
  );
  const record = JSON.parse(readFileSync(out, "utf8")) as RunRecord;
  const verdict = judgeRun(record, r.status);
  return { exitCode: r.status, record, verdict, lines: renderVerdict(verdict) };
}

describe("npm test's judgement of a vitest run", () => {
  it("all green: every test counted passed, nothing failed, and the last line is the plain count", () => {
    const { exitCode, verdict, lines } = run("green");
    expect(exitCode).toBe(0);
    expect(verdict).toMatchObject({ passed: 2, failed: 0, skipped: 0, problems: [] });
    expect(lines.at(-1)).toBe("2 passed, 0 failed");
    expect(lines.at(-2)).toBe("tests: 2 passed, 0 failed, 0 skipped (declared)");
  });

  it("a failing beforeAll fails the run: its tests did not run, and the hook's error is counted", () => {
    const { exitCode, verdict, lines } = run("hook-failure");
    expect(exitCode).toBe(1);
    expect(verdict.passed).toBe(0);
    expect(verdict.failed).toBe(3);
    expect(verdict.problems).toContain("error in hook-failure.fixture.ts: the engine did not start");
    expect(verdict.problems).toContain(
      "skipped with no declared reason (or its hook failed): hook-failure.fixture.ts > never runs: its hook failed",
    );
    expect(lines.at(-1)).toBe("0 passed, 3 failed");
  });

  it("a beforeAll that times out fails the run", () => {
    const { verdict, lines } = run("hook-timeout");
    expect(verdict.failed).toBe(2);
    expect(verdict.problems.join("\n")).toMatch(
      /error in hook-timeout\.fixture\.ts: Hook timed out in 2000ms/,
    );
    expect(lines.at(-1)).toBe("0 passed, 2 failed");
  });

  it("a failing afterAll fails the run although its test passed", () => {
    const { exitCode, verdict, lines } = run("after-all-failure");
    expect(exitCode).toBe(1);
    expect(verdict.passed).toBe(1);
    expect(verdict.problems).toEqual([
      "error in after-all-failure.fixture.ts > a suite whose clean-up fails: close failed",
    ]);
    expect(lines.at(-1)).toBe("1 passed, 1 failed");
  });

  it("skip, skipIf and todo with no declared reason each count as failed", () => {
    const { exitCode, verdict, lines } = run("undeclared-skip");
    // Vitest itself calls this run a success: only the judgement catches it.
    expect(exitCode).toBe(0);
    expect(verdict.passed).toBe(1);
    expect(verdict.failed).toBe(3);
    expect(verdict.skipped).toBe(0);
    expect(lines.at(-1)).toBe("1 passed, 3 failed");
  });

  it("a test that skips itself with a declared reason is counted skipped and its reason printed", () => {
    const { exitCode, verdict, lines } = run("skip-with-reason");
    expect(exitCode).toBe(0);
    expect(verdict).toMatchObject({ passed: 1, failed: 0, skipped: 1, problems: [] });
    expect(lines).toContain(
      "skipped: skip-with-reason.fixture.ts > skips itself with a reason [needs a Docker daemon, and this machine has none]",
    );
    expect(lines.at(-2)).toBe("tests: 1 passed, 0 failed, 1 skipped (declared)");
    expect(lines.at(-1)).toBe("1 passed, 0 failed");
  });

  it("an unhandled rejection fails the run although every test passed", () => {
    const { exitCode, record, verdict, lines } = run("unhandled-rejection");
    expect(exitCode).toBe(1);
    expect(record.tests.map((t) => t.state)).toEqual(["passed"]);
    expect(verdict.problems).toEqual([
      "unhandled error in unhandled-rejection.fixture.ts > passes but leaves a rejection nobody handles: nobody awaited this",
    ]);
    expect(lines.at(-1)).toBe("1 passed, 1 failed");
  });

  it("no record at all (vitest crashed) is one failure", () => {
    expect(renderVerdict(judgeRun(undefined, 1)).at(-1)).toBe("0 passed, 1 failed");
  });
});
