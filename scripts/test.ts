/**
 * `npm test`: lint, type-check, knip, then every test (unit, integration, end-to-end) in one vitest run
 * against the local PostgreSQL and NATS. Prints passed, failed and skipped, then ends with one plain
 * line `N passed, N failed`, where a failed lint, type-check or knip counts as a failure too, and so do a
 * failing hook, a test skipped with no declared reason and an unhandled error (libs/test-kit
 * run-summary.ts decides; docs/testing.md).
 *
 *   npm test                      everything
 *   npm test -- --tests-only      skip lint, type-check and knip
 *   npm test -- services/app-svc  only the tests under a path (vitest filters)
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { judgeRun, renderVerdict, type RunRecord } from "../libs/test-kit/src/run-summary.js";
import { RUN_RECORD_ENV } from "../libs/test-kit/src/summary-reporter.js";
import { runBrowserTests } from "./browser-tests.js";

const root = path.resolve(import.meta.dirname, "..");
const argv = process.argv.slice(2);
const testsOnly = argv.includes("--tests-only");
const filters = argv.filter((a) => a !== "--tests-only");

const env = {
  ...process.env,
  TEST_DATABASE_URL: process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres",
  TEST_NATS_URL: process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222",
  FORCE_COLOR: process.env["FORCE_COLOR"] ?? "1",
  // Services under test log only errors unless asked for more.
  TEST_LOG_LEVEL: process.env["TEST_LOG_LEVEL"] ?? "error",
};

function step(name: string, cmd: string, args: string[]): boolean {
  process.stdout.write(`\n\x1b[1m== ${name}\x1b[0m\n`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  const ok = r.status === 0;
  process.stdout.write(
    `${ok ? "\x1b[32mok\x1b[0m" : "\x1b[31mFAILED\x1b[0m"} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  return ok;
}

let checksFailed = 0;
if (!testsOnly) {
  if (!step("lint", path.join(root, "node_modules/.bin/eslint"), ["--max-warnings=0", "."])) checksFailed++;
  if (!step("format", path.join(root, "node_modules/.bin/prettier"), ["--check", "--log-level=warn", "."]))
    checksFailed++;
  // One TypeScript program over every package (tsconfig.all.json): the same checks as each package's
  // own `typecheck`, several times faster.
  if (!step("typecheck", path.join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.all.json"]))
    checksFailed++;
  // The web console is a browser program (DOM, JSX): a program of its own.
  if (
    !step("typecheck console", path.join(root, "node_modules/.bin/tsc"), [
      "-p",
      "tools/console/tsconfig.json",
    ])
  )
    checksFailed++;
  // Unused files, exports and dependencies (knip.json): nothing may be reported.
  if (!step("knip", path.join(root, "node_modules/.bin/knip"), ["--no-progress"])) checksFailed++;
}

const reportDir = path.join(root, ".reports");
const record = path.join(reportDir, "run-record.json");
mkdirSync(reportDir, { recursive: true });
rmSync(record, { force: true });
process.stdout.write(`\n\x1b[1m== tests\x1b[0m\n`);
const started = Date.now();
const run = spawnSync(
  path.join(root, "node_modules/.bin/vitest"),
  [
    "run",
    "--reporter=default",
    `--reporter=${path.join(root, "libs/test-kit/src/summary-reporter.ts")}`,
    ...filters,
  ],
  { cwd: root, stdio: "inherit", env: { ...env, [RUN_RECORD_ENV]: record } },
);
process.stdout.write(`tests took ${((Date.now() - started) / 1000).toFixed(1)} s\n\n`);

// Vitest's exit code, every test's state, hook errors and unhandled errors together decide: a run
// is green only when every test ran and passed or skipped itself with a printed reason.
let runRecord: RunRecord | undefined;
try {
  runRecord = JSON.parse(readFileSync(record, "utf8")) as RunRecord;
} catch {
  runRecord = undefined;
}
const verdict = judgeRun(runRecord, run.status);
// The web console's browser tests (Playwright) count in the same summary.
const browser = runBrowserTests(root, env, filters);
verdict.passed += browser.passed;
verdict.failed += browser.failed;
verdict.problems.push(...browser.problems);
const lines = renderVerdict(verdict, checksFailed);
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(verdict.failed + checksFailed > 0 ? 1 : 0);
