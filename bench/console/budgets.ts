/**
 * The web console's budgets (docs/performance.md):
 *   1. first-load JavaScript, gzip (target <= 250 KB);
 *   2. the pipeline view painted after navigation, with the platform running (target <= 1 s):
 *      a deep link loaded cold and warm, and a click from the app's release history;
 *   3. a state change visible in the page after its commit (target <= 500 ms): every stage
 *      transition of real releases, from the time the engine recorded it to the mark the console
 *      leaves when the stage shows its new state: the event stream's delay plus one fetch of the
 *      pipeline (the console polls only while the stream is down). A transition recorded before
 *      the page first asked for the pipeline (CODE_CHECK starts before the release request is
 *      answered) is no live change: it is shown by that first read and counted apart, with how
 *      long after it the release was answered.
 *
 *   pnpm --filter @procode/bench console-budgets [releases=3]
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium, type Page } from "@playwright/test";
import { signToken } from "@procode/service-kit";
import { CHROMIUM_LAUNCH, git, REPO_ROOT, startNpmPlatform } from "@procode/test-kit";

const releases = Number(process.argv[2] ?? 3);
const dist = path.join(REPO_ROOT, "tools", "console", "dist");
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${Math.round(x)} ms`;

// 1. First-load JavaScript: the entry script and what it preloads, as the gateway sends them, gzipped.
execFileSync("pnpm", ["--filter", "@procode/console", "run", "build"], { cwd: REPO_ROOT, stdio: "ignore" });
const html = readFileSync(path.join(dist, "index.html"), "utf8");
const scripts = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
const styles = [...html.matchAll(/href="\/(assets\/[^"]+\.css)"/g)].map((m) => m[1]!);
const gz = (files: string[]) =>
  files.reduce((n, f) => n + gzipSync(readFileSync(path.join(dist, f))).length, 0);
const jsGzip = gz(scripts);
process.stdout.write(
  `first-load JavaScript: ${(jsGzip / 1024).toFixed(1)} KB gzip in ${scripts.length} file(s) (target <= 250 KB); CSS ${(gz(styles) / 1024).toFixed(1)} KB gzip\n`,
);

// 2 and 3 need the platform running and a browser.
const platform = await startNpmPlatform();
const browser = await chromium.launch(CHROMIUM_LAUNCH);
try {
  const token = await signToken({ sub: "bench", team: "default" }, platform.jwtSecret, { expiresIn: "1h" });
  const call = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${platform.gatewayUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const env = (await res.json()) as { code: number; message: string; data: T };
    if (env.code !== 0) throw new Error(`${method} ${url}: ${env.code} ${env.message}`);
    return env.data;
  };
  const until = async <T>(what: string, get: () => Promise<T | null>): Promise<T> => {
    for (
      const deadline = Date.now() + 90_000;
      Date.now() < deadline;
      await new Promise((r) => setTimeout(r, 100))
    ) {
      const v = await get();
      if (v) return v;
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "bench-agent.git");
  const app = await call<{ id: number }>("POST", "/apps", {
    name: "bench-agent",
    devMode: "pro-code",
    techStack: "python",
    gitRepoUrl: "local://bench-agent",
    scaffoldTemplate: "python-agent",
  });
  await until("the scaffold", async () => {
    const r = await call<{ state: string; scaffold: { state: string } }>("GET", `/apps/${app.id}/repo`);
    return r.state === "BOUND" && r.scaffold.state === "PUSHED" ? r : null;
  });

  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(platform.signInUrl);
  await page.getByRole("heading", { name: "Apps" }).waitFor();

  const lags: { what: string; ms: number }[] = [];
  /** Transitions recorded before the page first read the pipeline, and when the release was answered. */
  const beforeFirstRead: { what: string; ms: number; answered: number }[] = [];
  let lastPipeline = 0;
  for (let i = 0; i < releases; i++) {
    const it = await call<{ id: number }>("POST", "/iterations", {
      appId: app.id,
      name: `r${i}`,
      sourceBranch: "main",
    });
    await until("DEVELOPING", async () =>
      (await call<{ status: string }>("GET", `/iterations/${it.id}`)).status === "DEVELOPING" ? 1 : null,
    );
    for (const targetPhase of ["TESTING", "STAGING"])
      await call("POST", `/iterations/${it.id}/proceed`, { targetPhase });
    // Open the page first, then release from it, so every transition happens while it is watched.
    await page.goto(`${platform.gatewayUrl}/iterations/${it.id}`);
    await page.getByRole("button", { name: "Release…" }).click();
    await page.getByLabel("Tag").fill(`v1.0.${i}`);
    await page.getByRole("button", { name: `Release v1.0.${i}` }).click();
    await page.waitForURL(/\/pipelines\/\d+/);
    lastPipeline = Number(new URL(page.url()).pathname.split("/").pop());
    await page.locator('.node[data-stage="DEPLOY"][data-state="succeeded"]').waitFor({ timeout: 90_000 });
    const done = await call<{
      checkpoints: { stage: string; startedAt: string; finishedAt: string | null }[];
    }>("GET", `/pipelines/${lastPipeline}`);
    const marks = await page.evaluate(() =>
      performance
        .getEntriesByType("mark")
        .map((m) => ({ name: m.name, at: performance.timeOrigin + m.startTime })),
    );
    const shown = (stage: string, state: string) =>
      marks.find((m) => m.name === `stage:${lastPipeline}:${stage}:${state}`)?.at;
    // When the release was answered and the page first asked for the pipeline, on the page's clock.
    // (No named functions inside: the page cannot run the helpers tsx adds for them.)
    const timings = await page.evaluate(
      ({ releasePath, pipelinePath }) => {
        const entries = performance.getEntriesByType("resource") as unknown as {
          name: string;
          startTime: number;
          responseEnd: number;
        }[];
        const release = entries.find((r) => new URL(r.name).pathname === releasePath);
        const read = entries.find((r) => new URL(r.name).pathname === pipelinePath);
        const o = performance.timeOrigin;
        return {
          answered: release ? o + release.responseEnd : null,
          firstRead: read ? o + read.startTime : null,
        };
      },
      { releasePath: `/iterations/${it.id}/release`, pipelinePath: `/pipelines/${lastPipeline}` },
    );
    const firstRead = timings.firstRead ?? Infinity;
    const count = (what: string, committed: number, shownAt: number | undefined) => {
      if (shownAt === undefined) return;
      if (committed >= firstRead) return void lags.push({ what, ms: shownAt - committed });
      beforeFirstRead.push({
        what,
        ms: shownAt - committed,
        answered: (timings.answered ?? shownAt) - committed,
      });
    };
    for (const c of done.checkpoints) {
      const running = shown(c.stage, "running");
      const succeeded = shown(c.stage, "succeeded");
      // A stage that ran and finished between two reads never shows as running: only its end counts.
      if (running && running >= Date.parse(c.startedAt))
        count(`v1.0.${i} ${c.stage} running`, Date.parse(c.startedAt), running);
      if (c.finishedAt) count(`v1.0.${i} ${c.stage} succeeded`, Date.parse(c.finishedAt), succeeded);
    }
  }
  const lagMs = lags.map((l) => l.ms);
  const slowest = [...lags].sort((a, b) => b.ms - a.ms).slice(0, 3);
  process.stdout.write(
    `state change visible after its commit (${lags.length} transitions of ${releases} releases): P50 ${ms(pct(lagMs, 50))}, P95 ${ms(pct(lagMs, 95))}, max ${ms(Math.max(...lagMs))} (target <= 500 ms); slowest: ${slowest.map((l) => `${l.what} ${ms(l.ms)}`).join(", ")}\n`,
  );
  process.stdout.write(
    `recorded before the page first read the pipeline, shown by that read (${beforeFirstRead.length}): ${beforeFirstRead.map((l) => `${l.what} ${ms(l.ms)} (release answered after ${ms(l.answered)})`).join(", ")}\n`,
  );

  const painted = async (): Promise<number> => {
    await page.waitForFunction(() => performance.getEntriesByName("pipeline-painted").length > 0);
    return page.evaluate(() => performance.getEntriesByName("pipeline-painted")[0]!.startTime);
  };
  // Cold: a browser context with nothing cached, signed in by its session storage, opening the link.
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await fresh.addInitScript(
    (t) =>
      (
        globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }
      ).sessionStorage.setItem("procode.token", t),
    token,
  );
  const coldPage = await fresh.newPage();
  await coldPage.goto(`${platform.gatewayUrl}/pipelines/${lastPipeline}`);
  await coldPage.waitForFunction(() => performance.getEntriesByName("pipeline-painted").length > 0);
  const cold = await coldPage.evaluate(() => performance.getEntriesByName("pipeline-painted")[0]!.startTime);
  await fresh.close();
  const loads: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${platform.gatewayUrl}/pipelines/${lastPipeline}`);
    loads.push(await painted());
  }
  const clicks: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${platform.gatewayUrl}/apps/${app.id}`);
    const link = page.getByTestId("release-history").getByRole("link", { name: `v1.0.${releases - 1}` });
    await link.waitFor();
    const before = await page.evaluate(() => performance.now());
    await link.click();
    clicks.push((await painted()) - before);
  }
  process.stdout.write(
    `pipeline view painted after navigation: deep link ${ms(cold)} with nothing cached, ${ms(pct(loads, 50))} cached (median of 5); from the release history ${ms(pct(clicks, 50))} (median of 5, max ${ms(Math.max(...clicks))}) (target <= 1 s)\n`,
  );
} finally {
  await browser.close();
  await platform.stop();
}
