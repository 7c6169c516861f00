/**
 * How `npm test` judges a vitest run. A green run must mean that every test ran and passed: a test
 * that failed, a test that never ran (a failing `beforeAll` marks the tests under it skipped), a
 * test skipped without a declared reason, an error in a hook outside any test (`afterAll`), an
 * unhandled error or rejection, and a vitest exit code other than 0 all count as failures. A test
 * may skip itself only with a reason the run prints: `ctx.skip("why")`. See docs/testing.md.
 *
 * Pure: the reporter (summary-reporter.ts) writes a `RunRecord`, `judgeRun` reads it.
 */

type RecordedState = "passed" | "failed" | "skipped" | "pending";

interface RecordedTest {
  /** The test file, relative to the repository. */
  file: string;
  /** Suite titles and test title, joined with " > ". */
  name: string;
  state: RecordedState;
  /** The reason a test gave when it skipped itself (`ctx.skip("why")`). */
  note?: string;
}

export interface RecordedError {
  /** The file and suite the error belongs to (a hook, an import), or "" when it has no owner. */
  where: string;
  message: string;
}

/** What the reporter writes at the end of a run. */
export interface RunRecord {
  tests: RecordedTest[];
  /** Errors of files and suites: failing hooks, files that failed to import or collect. */
  suiteErrors: RecordedError[];
  /** Errors no test caught: unhandled rejections and exceptions, errors between tests. */
  unhandledErrors: RecordedError[];
}

export interface RunVerdict {
  passed: number;
  /** Tests that did not pass and were not declared skips, plus every error outside a test. */
  failed: number;
  /** Tests that skipped themselves with a declared reason. */
  skipped: number;
  declaredSkips: RecordedTest[];
  /** One line per thing counted as failed, to print under the run. */
  problems: string[];
}

/**
 * Judges a run from its record and vitest's exit code. With no record (vitest crashed before
 * writing it) the run counts as one failure.
 */
export function judgeRun(record: RunRecord | undefined, exitCode: number | null): RunVerdict {
  const verdict: RunVerdict = { passed: 0, failed: 0, skipped: 0, declaredSkips: [], problems: [] };
  if (!record) {
    verdict.failed = 1;
    verdict.problems.push(`the test run wrote no record (vitest exit code ${String(exitCode)})`);
    return verdict;
  }
  for (const t of record.tests) {
    const at = `${t.file} > ${t.name}`;
    if (t.state === "passed") verdict.passed++;
    else if (t.state === "skipped" && t.note) {
      verdict.skipped++;
      verdict.declaredSkips.push(t);
    } else {
      verdict.failed++;
      if (t.state === "failed") verdict.problems.push(`failed: ${at}`);
      else if (t.state === "skipped")
        verdict.problems.push(`skipped with no declared reason (or its hook failed): ${at}`);
      else verdict.problems.push(`did not finish: ${at}`);
    }
  }
  for (const e of record.suiteErrors) {
    verdict.failed++;
    verdict.problems.push(`error in ${e.where || "the run"}: ${e.message}`);
  }
  for (const e of record.unhandledErrors) {
    verdict.failed++;
    verdict.problems.push(`unhandled error${e.where ? ` in ${e.where}` : ""}: ${e.message}`);
  }
  if (exitCode !== 0 && verdict.failed === 0) {
    verdict.failed = 1;
    verdict.problems.push(`vitest exited with code ${String(exitCode)} although every test passed`);
  }
  return verdict;
}

/** The lines `npm test` prints after the run; the last is the plain `N passed, N failed` CI reads. */
export function renderVerdict(v: RunVerdict, checksFailed = 0): string[] {
  const lines: string[] = [];
  for (const s of v.declaredSkips) lines.push(`skipped: ${s.file} > ${s.name} [${s.note ?? ""}]`);
  for (const p of v.problems) lines.push(p);
  const failed = v.failed + checksFailed;
  lines.push(`tests: ${v.passed} passed, ${v.failed} failed, ${v.skipped} skipped (declared)`);
  lines.push(`${v.passed} passed, ${failed} failed`);
  return lines;
}
