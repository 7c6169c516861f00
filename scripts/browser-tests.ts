import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { CHROMIUM_LAUNCH } from "../libs/test-kit/src/chromium.js";

/**
 * The web console's browser tests (Playwright, tools/console/e2e) in Debian's Chromium, against the
 * platform as `npm start` runs it (on free ports, a database of its own). Counted into `npm test`'s
 * summary. Skipped only when a path filter leaves tools/console out.
 */
export function runBrowserTests(
  root: string,
  env: NodeJS.ProcessEnv,
  filters: string[],
): { passed: number; failed: number; problems: string[] } {
  if (
    filters.length > 0 &&
    !filters.some((f) => "tools/console".startsWith(f) || f.startsWith("tools/console"))
  )
    return { passed: 0, failed: 0, problems: [] };
  process.stdout.write("\n\x1b[1m== browser tests (tools/console, Chromium)\x1b[0m\n");
  const chromium = CHROMIUM_LAUNCH.executablePath;
  if (!existsSync(chromium)) {
    return {
      passed: 0,
      failed: 1,
      problems: [`browser tests: no Chromium at ${chromium} (apt-get install -y chromium; .ci/run does it)`],
    };
  }
  const report = path.join(root, ".reports", "console-e2e.json");
  rmSync(report, { force: true });
  const started = Date.now();
  const run = spawnSync(path.join(root, "tools", "console", "node_modules", ".bin", "playwright"), ["test"], {
    cwd: path.join(root, "tools", "console"),
    stdio: "inherit",
    env,
  });
  try {
    const result = JSON.parse(readFileSync(report, "utf8")) as PlaywrightReport;
    const problems = [
      ...result.errors.map((e) => `browser tests: ${e.message.split("\n")[0]}`),
      ...specsOf(result.suites)
        .filter((s) => !s.ok || s.tests.some((t) => t.status !== "expected"))
        .map((s) => `browser test failed or did not run: ${s.file} > ${s.title}`),
    ];
    const passed = specsOf(result.suites).filter(
      (s) => s.ok && s.tests.every((t) => t.status === "expected"),
    ).length;
    // A run that failed outside any test (the platform did not start) is a failure too.
    const failed = problems.length + (run.status !== 0 && problems.length === 0 ? 1 : 0);
    process.stdout.write(
      `${failed ? "\x1b[31mFAILED\x1b[0m" : "\x1b[32mok\x1b[0m"} browser tests (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
    );
    return { passed, failed, problems };
  } catch {
    return { passed: 0, failed: 1, problems: ["browser tests: Playwright wrote no report"] };
  }
}

interface PlaywrightSpec {
  title: string;
  file: string;
  ok: boolean;
  tests: { status: "expected" | "unexpected" | "skipped" | "flaky" }[];
}
interface PlaywrightSuite {
  specs?: PlaywrightSpec[];
  suites?: PlaywrightSuite[];
}
interface PlaywrightReport {
  suites: PlaywrightSuite[];
  errors: { message: string }[];
}

/** Every spec of Playwright's JSON report; a test skipped after an earlier failure counts as not passed. */
function specsOf(suites: PlaywrightSuite[] = []): PlaywrightSpec[] {
  return suites.flatMap((s) => [...(s.specs ?? []), ...specsOf(s.suites)]);
}
