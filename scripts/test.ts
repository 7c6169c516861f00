/**
 * `npm test`: lint, type-check, then every test (unit, integration, end-to-end) in one vitest run
 * against the local PostgreSQL and NATS. Ends with one plain line `N passed, N failed`, where a
 * failed lint or type-check counts as a failure too.
 *
 *   npm test                      everything
 *   npm test -- --tests-only      skip lint and type-check
 *   npm test -- services/app-svc  only the tests under a path (vitest filters)
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

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
}

const reportDir = path.join(root, ".reports");
const report = path.join(reportDir, "vitest.json");
mkdirSync(reportDir, { recursive: true });
rmSync(report, { force: true });
step("tests", path.join(root, "node_modules/.bin/vitest"), [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...filters,
]);

let passed = 0;
let failed = 0;
try {
  const result = JSON.parse(readFileSync(report, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numFailedTestSuites: number;
    testResults: { status: string; assertionResults: unknown[] }[];
  };
  passed = result.numPassedTests;
  // A file that fails before its tests run (import error, failing hook) counts as a failure too.
  const brokenFiles = result.testResults.filter(
    (f) => f.status === "failed" && f.assertionResults.length === 0,
  ).length;
  failed = result.numFailedTests + brokenFiles;
} catch {
  failed = 1;
  process.stdout.write("the test run produced no report\n");
}
failed += checksFailed;
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
