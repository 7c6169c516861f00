import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { SerializedError } from "vitest";
import type { Reporter, TestModule } from "vitest/node";
import type { RecordedError, RunRecord } from "./run-summary.js";

/** Where the reporter writes its `RunRecord` (set by `npm test`). */
export const RUN_RECORD_ENV = "PROCODE_RUN_RECORD";

function message(e: { message?: string; name?: string }): string {
  return (e.message ?? e.name ?? "unknown error").split("\n")[0] ?? "";
}

/**
 * A vitest reporter that writes what `judgeRun` needs, through vitest's public reporter API: each
 * test's state and skip note, the errors of files and suites (failing hooks), and the unhandled
 * errors. Vitest's own JSON report has neither the notes nor the unhandled errors.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): void {
    const out = process.env[RUN_RECORD_ENV];
    if (!out) return;
    const record: RunRecord = { tests: [], suiteErrors: [], unhandledErrors: [] };
    const root = process.cwd();
    for (const m of modules) {
      const file = path.relative(root, m.moduleId);
      for (const e of m.errors()) record.suiteErrors.push({ where: file, message: message(e) });
      for (const s of m.children.allSuites()) {
        for (const e of s.errors())
          record.suiteErrors.push({ where: `${file} > ${s.fullName}`, message: message(e) });
      }
      for (const t of m.children.allTests()) {
        const r = t.result();
        record.tests.push({
          file,
          name: t.fullName,
          state: r.state,
          ...(r.state === "skipped" && r.note ? { note: r.note } : {}),
        });
      }
    }
    record.unhandledErrors = unhandled.map((e): RecordedError => {
      // Vitest tags an error caught in a worker with the file and test that were running.
      const file =
        typeof e["VITEST_TEST_PATH"] === "string" ? path.relative(root, e["VITEST_TEST_PATH"]) : "";
      const test = typeof e["VITEST_TEST_NAME"] === "string" ? e["VITEST_TEST_NAME"] : "";
      return { where: [file, test].filter(Boolean).join(" > "), message: message(e) };
    });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(record));
  }
}
