import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { git, holdTransaction, WebhookReceiver } from "@procode/test-kit";
import { api, platform, screenshot, tokenFor } from "./helpers";

/**
 * The console driven as a person would, against the real platform: one app from creation through
 * releases, a failure and its fix, a manual gate and a rollback; then another team's view.
 */
test.describe.configure({ mode: "serial" });

let page: Page;
const problems: string[] = [];
let appId: number;
let checkout: string;

/** Log lines the page added at once (`at`: the page's clock), and whether their stage showed running. */
type LogAdded = { at: number; running: boolean; texts: string[] };

const node = (stage: string) => page.locator(`.graph .node[data-stage="${stage}"]`);

async function expectAllStagesSucceeded() {
  // The scaffold ships evaluation cases, so its releases run the quality gate before DEPLOY.
  for (const stage of ["CODE_CHECK", "BUILD", "PACKAGE", "QUALITY_GATE", "DEPLOY"])
    await expect(node(stage)).toHaveAttribute("data-state", "succeeded", { timeout: 60_000 });
  await expect(page.getByTestId("pipeline-status")).toContainText("SUCCESS");
}

/** Pipeline events the gateway has sent to event-stream clients (this page is the only one). */
async function pipelineEventsSent(): Promise<number> {
  const text = await (await fetch(`${platform().gatewayUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("gateway_events_sent_total{") && l.includes('event="pipeline"'));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/**
 * Selects a stage before it starts and records, as the page adds them, the log lines shown in its
 * panel (with whether its node showed it running then); the page's own resource timings say when it
 * read the log. Lines added while it runs, after the one read made by then, came from the stream.
 */
async function followLog(stage: string) {
  await node(stage).locator(".node-main").click();
  await page.evaluate((watched) => {
    performance.setResourceTimingBufferSize(100_000);
    const state = () =>
      document.querySelector(`.graph .node[data-stage="${watched}"]`)?.getAttribute("data-state");
    const added: LogAdded[] = [];
    (window as unknown as { logAdds: LogAdded[] }).logAdds = added;
    new MutationObserver((records) => {
      const lines = records
        .flatMap((r) => [...r.addedNodes])
        .filter((n): n is HTMLElement => n instanceof HTMLElement)
        .flatMap((n) => (n.matches(".log-line") ? [n] : [...n.querySelectorAll<HTMLElement>(".log-line")]))
        .filter((n) => n.closest('[data-testid="node-panel"]'));
      if (lines.length)
        added.push({
          at: performance.now(),
          running: state() === "running",
          texts: lines.map((l) => l.querySelector(".log-text")?.textContent ?? ""),
        });
    }).observe(document.body, { childList: true, subtree: true });
  }, stage);
  return {
    async expectFollowedLive() {
      const { added, reads } = await page.evaluate(
        (watched) => ({
          added: (window as unknown as { logAdds: LogAdded[] }).logAdds,
          reads: performance
            .getEntriesByType("resource")
            .filter((r) => new URL(r.name).pathname.endsWith("/logs") && r.name.includes(`stage=${watched}`))
            .map((r) => r.startTime),
        }),
        stage,
      );
      const whileRunning = added.filter((a) => a.running);
      const context = JSON.stringify({ reads, added });
      // The first read's lines, then at least one more while the stage ran, with no read in between.
      expect(whileRunning.length, context).toBeGreaterThanOrEqual(2);
      const last = whileRunning.at(-1)!;
      expect(
        reads.filter((at) => at <= last.at),
        context,
      ).toHaveLength(1);
      // Then the attempt ended: its log was read once more, no more.
      expect(reads.length, context).toBeLessThanOrEqual(2);
      const log = page.getByTestId("node-panel").getByTestId("stage-log");
      for (const text of added.flatMap((a) => a.texts)) await expect(log).toContainText(text);
    },
  };
}

/** An iteration of the app walked to STAGING through the API (what the page shows is tested once). */
async function iterationInStaging(name: string): Promise<number> {
  const it = await api<{ id: number }>("POST", "/iterations", { appId, name, sourceBranch: "main" });
  await expect
    .poll(async () => (await api<{ status: string }>("GET", `/iterations/${it.id}`)).status)
    .toBe("DEVELOPING");
  for (const targetPhase of ["TESTING", "STAGING"])
    await api("POST", `/iterations/${it.id}/proceed`, { targetPhase });
  return it.id;
}

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400)
      problems.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  git(platform().repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "console-agent.git");
});

test.afterAll(async () => {
  await page.close();
});

test("signs in through the address npm start prints, and the token leaves the address bar", async () => {
  await page.goto(platform().signInUrl);
  await expect(page.getByRole("heading", { name: "Apps" })).toBeVisible();
  expect(page.url()).toBe(`${platform().gatewayUrl}/`);
  expect(await page.evaluate(() => sessionStorage.getItem("procode.token"))).toMatch(/^ey/);
  await expect(page.getByText("No apps yet.")).toBeVisible();
  await expect(page.getByText("team default")).toBeVisible();
});

test("creates a LOCAL app with the python-agent scaffold and shows it bound", async () => {
  await page.getByRole("button", { name: "New app" }).click();
  const dialog = page.getByRole("dialog", { name: "New app" });
  await dialog.getByLabel("Name").fill("console-agent");
  await dialog.getByLabel("Repository URL").fill("local://console-agent");
  await expect(dialog.getByRole("checkbox")).toBeChecked();
  await screenshot(page, "console-create-app");
  // dev-svc learns of the app a moment after POST /apps answers; held here until the dialog is seen
  // waiting, so the app page would read an unknown repository (404) if it opened at once.
  const release = await holdTransaction(platform().databaseUrl, [
    "lock table dev.app_projection in exclusive mode",
  ]);
  try {
    const answered = page.waitForResponse(
      (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/apps",
    );
    await dialog.getByRole("button", { name: "Create app" }).click();
    appId = ((await (await answered).json()) as { data: { id: number } }).data.id;
    await expect(dialog.getByRole("status")).toHaveText("Setting up the repository…");
    const unknown = await fetch(`${platform().gatewayUrl}/apps/${appId}/repo`, {
      headers: { authorization: `Bearer ${await tokenFor("default", "developer")}` },
    });
    expect(unknown.status).toBe(404);
    expect(new URL(page.url()).pathname).toBe("/");
  } finally {
    await release();
  }
  await expect(page).toHaveURL(new RegExp(`/apps/${appId}$`));
  await expect(page.getByRole("heading", { name: "console-agent" })).toBeVisible();
  await expect(page.getByTestId("binding-state")).toContainText("BOUND");
  await expect(page.getByTestId("scaffold-state")).toContainText("PUSHED");
  checkout = path.join(mkdtempSync(path.join(os.tmpdir(), "procode-console-work-")), "agent");
  git(
    path.dirname(checkout),
    "clone",
    "--quiet",
    path.join(platform().repoRoot, "console-agent.git"),
    "agent",
  );
});

test("walks an iteration to STAGING, releases v1.0.0 and watches the graph reach SUCCESS without a reload", async () => {
  await page.getByRole("navigation", { name: "App" }).getByRole("link", { name: "Iterations" }).click();
  await expect(page.getByText("No iterations yet.")).toBeVisible();
  await page.getByLabel("Name").fill("first");
  await page.getByRole("button", { name: "Create iteration" }).click();
  await expect(page).toHaveURL(/\/iterations\/\d+$/);
  for (const phase of ["TESTING", "STAGING"]) {
    const proceed = page.getByTestId("proceed-iteration");
    await expect(proceed).toHaveAttribute("aria-disabled", "false");
    await expect(proceed).toHaveText(`Proceed to ${phase}`);
    await proceed.click();
    await expect(page.locator(`.track-step[data-phase="${phase}"]`)).toHaveAttribute("data-state", "waiting");
  }
  await screenshot(page, "console-iteration");

  await page.getByRole("button", { name: "Release…" }).click();
  const dialog = page.getByRole("dialog");
  const tag = dialog.getByLabel("Tag");
  await tag.fill("1.0.0");
  await expect(dialog.locator("#release-tag-check")).toHaveAttribute("data-kind", "invalid");
  await tag.fill("v1.0.0");
  await expect(dialog.locator("#release-tag-check")).toHaveAttribute("data-kind", "new");
  await screenshot(page, "console-release-dialog");
  // A mark that survives only as long as the page is not reloaded.
  await page.evaluate(() => ((window as unknown as { mark: string }).mark = "no reload"));
  // Live from the event stream: no banner, and the pipeline is read once per event about it, not polled.
  await expect(page.getByTestId("live-banner")).toHaveCount(0);
  const eventsBefore = await pipelineEventsSent();
  const reads: string[] = [];
  const countRead = (r: { method(): string; url(): string }) => {
    if (r.method() === "GET") reads.push(new URL(r.url()).pathname);
  };
  page.on("request", countRead);
  await dialog.getByRole("button", { name: "Release v1.0.0" }).click();
  await expect(page).toHaveURL(/\/pipelines\/\d+/);
  // PACKAGE's log, followed from before it starts: its lines are watched as they reach the page.
  const packageLog = await followLog("PACKAGE");
  await expectAllStagesSucceeded();
  page.off("request", countRead);
  await packageLog.expectFollowedLive();
  expect(await page.evaluate(() => (window as unknown as { mark?: string }).mark)).toBe("no reload");
  const events = (await pipelineEventsSent()) - eventsBefore;
  const pipelineReads = reads.filter((p) => p === new URL(page.url()).pathname).length;
  expect(events).toBeGreaterThan(0);
  // PACKAGE and DEPLOY take 1.5 s each: a 400 ms poll would read it several times more than this.
  expect(pipelineReads).toBeLessThanOrEqual(events + 1);
  await page.locator('.node[data-stage="PACKAGE"] .node-main').click();
  await expect(page.getByTestId("node-panel")).toContainText("console-agent:v1.0.0");
  await screenshot(page, "console-pipeline");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("node-panel")).toHaveCount(0);
});

test("a CODE_CHECK that fails shows its error; a fix and Resume from the page bring it to SUCCESS", async () => {
  const entry = git(checkout, "ls-files", "*.py").split("\n")[0]!;
  const good = readFileSync(path.join(checkout, entry), "utf8");
  git(checkout, "pull", "--quiet", "origin", "main");
  writeFileSync(path.join(checkout, entry), `${good}\ndef broken(:\n    pass\n`);
  git(checkout, "commit", "--quiet", "-am", "a syntax error");
  git(checkout, "push", "--quiet", "origin", "main");
  const iterationId = await iterationInStaging("second");
  const release = await api<{ pipelineId: number }>("POST", `/iterations/${iterationId}/release`, {
    tag: "v1.0.1",
  });
  await page.goto(`${platform().gatewayUrl}/pipelines/${release.pipelineId}`);
  await expect(node("CODE_CHECK")).toHaveAttribute("data-state", "failed", { timeout: 60_000 });
  await expect(page.getByTestId("pipeline-status")).toContainText("FAILED");
  await expect(page.getByTestId("node-panel").getByTestId("stage-error").first()).toContainText(entry);
  // The failed attempt's log shows what the compiler said, as the API gives it: file, line, message.
  const failed = await api<{ checkpoints: { stage: string; attempt: number; output: unknown }[] }>(
    "GET",
    `/pipelines/${release.pipelineId}`,
  );
  const latest = failed.checkpoints.filter((c) => c.stage === "CODE_CHECK").at(-1)!;
  const syntax = (
    latest.output as {
      checks: { name: string; passed: boolean; file?: string; line?: number; message: string }[];
    }
  ).checks.find((c) => c.name === "python-syntax" && !c.passed)!;
  // `def broken(:` comes after the good text and one more line break.
  expect(syntax).toMatchObject({ file: entry, line: good.split("\n").length + 1 });
  const logged = await api<{ lines: { level: string; text: string }[] }>(
    "GET",
    `/pipelines/${release.pipelineId}/logs?stage=CODE_CHECK&attempt=${latest.attempt}`,
  );
  const compilerSaid = logged.lines.find((l) => l.level === "ERROR" && l.text.includes("SyntaxError"))!;
  expect(compilerSaid.text).toContain(`File "${entry}", line ${syntax.line}`);
  expect(compilerSaid.text).toContain(`SyntaxError: ${syntax.message}`);
  const panel = page.getByTestId("node-panel");
  const compilerLine = panel
    .locator(`.attempt[data-attempt="${latest.attempt}"] .log-error .log-text`)
    .filter({ hasText: "SyntaxError" });
  await expect(compilerLine).toHaveText(compilerSaid.text);
  await expect(page.getByTestId("bar-proceed")).toHaveAttribute("aria-disabled", "true");
  // CODE_CHECK's AUTO retries are used up: the API would refuse a retry (3002), resume is offered.
  await expect(page.getByTestId("bar-retry")).toHaveAttribute("aria-disabled", "true");
  await expect(page.getByTestId("bar-resume")).toHaveAttribute("aria-disabled", "false");
  await screenshot(page, "console-pipeline-failed");
  // Scrolled up in the log to the compiler's line: the log stops following and offers to again.
  await compilerLine.scrollIntoViewIfNeeded();
  await expect(panel.getByTestId("stage-log-follow")).toBeVisible();
  await screenshot(page, "console-stage-log");

  writeFileSync(path.join(checkout, entry), good);
  git(checkout, "commit", "--quiet", "-am", "fix the syntax error");
  git(checkout, "push", "--quiet", "origin", "main");
  git(checkout, "tag", "-f", "v1.0.1");
  git(checkout, "push", "--quiet", "--force", "origin", "v1.0.1");
  await node("CODE_CHECK").getByRole("button", { name: "Resume" }).click();
  await expect(page.getByText("Resuming from CODE_CHECK")).toBeVisible();
  await expectAllStagesSucceeded();
});

test("a MANUAL gate set on the app's settings waits, and Proceed on its node moves it on", async () => {
  await page.goto(`${platform().gatewayUrl}/apps/${appId}`);
  await page.getByLabel("PACKAGE drive mode").selectOption("MANUAL");
  await expect(page.locator('[data-stage="PACKAGE"]').getByText("✔ saved")).toBeVisible();
  await screenshot(page, "console-app");

  const iterationId = await iterationInStaging("third");
  await page.goto(`${platform().gatewayUrl}/iterations/${iterationId}`);
  await page.getByRole("button", { name: "Release…" }).click();
  await page.getByRole("dialog").getByLabel("Tag").fill("v1.0.2");
  await page.getByRole("dialog").getByRole("button", { name: "Release v1.0.2" }).click();
  await expect(node("PACKAGE")).toHaveAttribute("data-state", "waiting", { timeout: 60_000 });
  await expect(page.getByTestId("bar-retry")).toHaveAttribute("aria-disabled", "true");
  await screenshot(page, "console-pipeline-manual");
  await node("PACKAGE").getByRole("button", { name: "Proceed" }).click();
  await expect(page.getByText("PACKAGE → QUALITY_GATE")).toBeVisible();
  await expectAllStagesSucceeded();
  await page.goto(`${platform().gatewayUrl}/apps/${appId}`);
  await page.getByLabel("PACKAGE drive mode").selectOption("AUTO");
  await expect(page.locator('[data-stage="PACKAGE"]').getByText("✔ saved")).toBeVisible();
});

test("rolls back to v1.0.0 from the release history", async () => {
  const history = page.getByTestId("release-history");
  await expect(history.locator('tr[data-tag="v1.0.2"]')).toContainText("in production");
  await history.getByTestId("rollback-v1.0.0").click();
  await history.getByRole("link", { name: /pipeline #\d+/ }).click();
  await expect(page.getByRole("heading", { name: /Release v1\.0\.0/ })).toContainText("rollback");
  await expectAllStagesSucceeded();
  await page.goto(`${platform().gatewayUrl}/apps/${appId}`);
  await expect(history.locator("tbody tr").first()).toContainText("in production");
  await expect(history.locator("tbody tr").first()).toContainText("rollback");
  await screenshot(page, "console-releases");
});

test("the app's Quality tab shows every gate run on a trend and opens a run's report", async () => {
  await page.getByRole("navigation", { name: "App" }).getByRole("link", { name: "Quality" }).click();
  await expect(page).toHaveURL(new RegExp(`/apps/${appId}/quality$`));
  const runs = page.getByTestId("quality-history").locator("tbody tr");
  // v1.0.0, v1.0.1 (after the fix), v1.0.2, and the rollback to v1.0.0: each release ran the gate.
  await expect(runs).toHaveCount(4);
  await expect(page.getByTestId("quality-trend").locator("g.trend-point")).toHaveCount(4);
  await expect(runs.first()).toContainText("PASS");
  await expect(page.getByTestId("quality-report")).toContainText("the last released version");
  await screenshot(page, "console-quality");
  // A point of the trend opens its run's report, and the address keeps it.
  await page.getByTestId("quality-trend").locator("g.trend-point").first().focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\?report=\d+$/);
  const chosen = new URL(page.url()).searchParams.get("report");
  await page.reload();
  await expect(page.getByTestId("quality-report")).toContainText(`Report #${chosen}`);
  await expect(page.getByTestId("quality-report")).toContainText("v1.0.0");
});

test("adds a notification on the app page, shows its secret once, and a signed delivery shows", async () => {
  const receiver = await new WebhookReceiver().start();
  try {
    await page.goto(`${platform().gatewayUrl}/apps/${appId}`);
    const panel = page.getByRole("region", { name: "Notifications" });
    await expect(panel.getByText("No subscriptions yet.")).toBeVisible();
    await panel.getByLabel("Webhook URL").fill(receiver.url("/console"));
    await panel.getByRole("checkbox", { name: "pipeline.failed" }).uncheck();
    await panel.getByRole("checkbox", { name: "iteration.waiting" }).check();
    await panel.getByRole("button", { name: "Add notification" }).click();
    const secret = panel.getByTestId("notification-secret").locator("code");
    await expect(secret).toContainText("whsec_");
    receiver.verifyWith("/console", (await secret.textContent())!);
    // A new iteration waits in DEVELOPING for a person: that is the event subscribed to.
    await api("POST", "/iterations", { appId, name: "notified", sourceBranch: "main" });
    const delivery = panel.getByTestId("notification-delivery").first();
    await expect(delivery).toContainText("DELIVERED", { timeout: 60_000 });
    await expect(delivery).toContainText("iteration.waiting");
    expect(receiver.delivered("/console")).toHaveLength(1);
    await screenshot(page, "console-notifications");
    await page.reload();
    await expect(panel.getByTestId("notification-delivery").first()).toContainText("DELIVERED");
    await expect(panel.getByTestId("notification-secret")).toHaveCount(0);
  } finally {
    await receiver.stop();
  }
});

test("polls nothing on the app page while the stream is up: its reads wait for their events", async ({
  browser,
}) => {
  // A page of its own on a clock the test moves: seconds pass at once, without waiting them.
  const watcher = await browser.newPage();
  try {
    await watcher.clock.install();
    await watcher.goto(platform().signInUrl);
    await expect(watcher.getByRole("heading", { name: "Apps" })).toBeVisible();
    await watcher.goto(`${platform().gatewayUrl}/apps/${appId}`);
    await expect(watcher.locator("header.topbar")).toHaveAttribute("data-live", "live");
    const panel = watcher.getByRole("region", { name: "Notifications" });
    await expect(panel.getByTestId("notification-delivery").first()).toContainText("DELIVERED");
    const reads: string[] = [];
    watcher.on("request", (r) => {
      if (r.method() === "GET") reads.push(new URL(r.url()).pathname);
    });
    // Fifteen seconds, three at a time, each step ending with a read of its own answered: a read a
    // step's timers began is answered before the next step (a poll skips a read still under way).
    for (let step = 0; step < 5; step++) {
      await watcher.clock.runFor(3_000);
      await watcher.evaluate(() => fetch("/healthz").then((r) => r.status));
    }
    const count = (match: (path: string) => boolean) => reads.filter(match).length;
    // At most the one read the stream's opening may still make; a 3 s poll would make more.
    expect(count((p) => p === `/apps/${appId}`)).toBeLessThanOrEqual(1);
    expect(count((p) => p.endsWith("/webhook-deliveries"))).toBeLessThanOrEqual(1);
    expect(count((p) => /\/notifications\/\d+\/deliveries$/.test(p))).toBeLessThanOrEqual(1);
  } finally {
    await watcher.close();
  }
});

test("is usable at 390 px wide, and in the dark", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${platform().gatewayUrl}/`);
  await expect(page.getByRole("link", { name: "console-agent" })).toBeVisible();
  await screenshot(page, "console-apps-390");
  const latest = await api<{ items: { id: number }[] }>("GET", `/pipelines?appId=${appId}&type=PHASE`);
  await page.goto(`${platform().gatewayUrl}/pipelines/${latest.items[0]!.id}`);
  await expectAllStagesSucceeded();
  await page.mouse.move(1, 1);
  // Nothing wider than the screen: no sideways scrolling.
  const wider = await page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > 391)
      .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
  );
  expect(wider).toEqual([]);
  await screenshot(page, "console-pipeline-390");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(page.locator("body")).toHaveCSS("background-color", "rgb(15, 18, 22)");
  await screenshot(page, "console-pipeline-dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("logged no error in the browser console", () => {
  expect(problems).toEqual([]);
});

test("another team's pipeline URL shows not found; a fresh browser is sent to sign in", async ({
  browser,
}) => {
  const latest = await api<{ items: { id: number }[] }>("GET", `/pipelines?appId=${appId}&type=PHASE`);
  const fresh = await browser.newPage();
  await fresh.goto(`${platform().gatewayUrl}/pipelines/${latest.items[0]!.id}`);
  await expect(fresh).toHaveURL(/\/sign-in\?next=/);
  await expect(fresh.getByRole("heading", { name: /Sign in/ })).toBeVisible();
  await screenshot(fresh, "console-sign-in");
  await fresh.getByLabel("Token").fill(await tokenFor("another-team"));
  await fresh.getByRole("button", { name: "Sign in" }).click();
  await expect(fresh.getByRole("heading", { name: "Pipeline not found" })).toBeVisible();
  await expect(fresh.getByRole("alert")).toContainText("3004");
  await screenshot(fresh, "console-not-found");
  await fresh.close();
});
