import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  REPO_ROOT,
  startPlatform,
  WebhookReceiver,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import pkg from "../package.json" with { type: "json" };

/**
 * `procode` as a user runs it: the real program (bin/procode.mjs) against the real platform, with
 * HOME and XDG_CONFIG_HOME in a temporary directory; exit codes as docs/cli.md lists them.
 */

let infra: TestInfra;
let platform: Platform;
let home: string;
let token: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `env` adds to a clean environment (no PROCODE_* from the caller). */
function procode(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PROCODE_")));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, "tools/cli/bin/procode.mjs"), ...args],
      { env: { ...clean, HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"), NO_COLOR: "1", ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
const authed = (args: string[]) => procode(["--url", platform.gatewayUrl, "--token", token, ...args]);
const json = async <T>(args: string[]): Promise<T> => {
  const r = await authed(["--json", ...args]);
  if (r.code !== 0) throw new Error(`procode ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  infra = await createTestInfra("cli");
  platform = await startPlatform(infra, {
    env: {
      "pipeline-engine": { RETRY_BASE_MS: "200", RETRY_MAX_MS: "1000", STAGE_REPUBLISH_MS: "3000" },
      "ops-module": { DEFAULT_DURATION_MS: "300" },
      "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500" },
    },
  });
  home = mkdtempSync(path.join(os.tmpdir(), "procode-cli-home-"));
  token = await signToken({ sub: "cli", team: "cli-team" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "cli-agent.git");
});

afterAll(async () => {
  await platform?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
  await infra?.cleanup();
});

describe("procode: the basics", () => {
  it("prints its version with --version and exits 0", async () => {
    const r = await procode(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it("logs in: writes the URL and token to the config file (0600), which later commands use", async () => {
    const r = await procode(["login", "--url", platform.gatewayUrl, "--token", token]);
    expect(r.code).toBe(0);
    const file = path.join(home, ".config", "procode", "config.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ url: platform.gatewayUrl, token });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const list = await procode(["--json", "app", "list"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({ items: [], total: 0 });
  });

  it("prints API errors under --json as JSON with the envelope's code and message, exit 1", async () => {
    const missing = await authed(["--json", "app", "get", "987654"]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toEqual({
      code: 1004,
      message: "app 987654 not found",
      data: null,
    });
    const anonymous = await procode(["--json", "--url", platform.gatewayUrl, "app", "list"], {
      XDG_CONFIG_HOME: path.join(home, "nowhere"),
    });
    expect(anonymous.code).toBe(1);
    expect(JSON.parse(anonymous.stderr)).toMatchObject({ code: 5001 });
  });

  it.each([
    [["app", "get", "abc"], /<id>: "abc" is not a positive integer/],
    [["iteration", "proceed", "1", "--to", "NOWHERE"], /--to: /],
    [["nope"], /unknown command 'nope'/],
    [["credential", "create", "--name", "x"], /--git-type/],
  ])("exits 2 for a usage error: procode %j", async (args, message) => {
    const r = await authed(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("exits 3 when the gateway cannot be reached", async () => {
    const r = await procode(["--json", "--url", "http://127.0.0.1:9", "--token", token, "app", "list"]);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stderr).message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it("lists every page by default, or the page asked for", async () => {
    for (const name of ["c1", "c2", "c3"]) {
      const r = await procode(
        [
          "--url",
          platform.gatewayUrl,
          "--token",
          token,
          "credential",
          "create",
          "--git-type",
          "LOCAL",
          "--name",
          name,
        ],
        { PROCODE_GIT_TOKEN: `token-${name}` },
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
    const all = await json<{ items: { name: string }[]; total: number }>(["credential", "list"]);
    expect(all.total).toBeGreaterThanOrEqual(3);
    expect(all.items).toHaveLength(all.total);
    const page = await json<{ items: unknown[]; page: number }>([
      "credential",
      "list",
      "--page",
      "2",
      "--page-size",
      "2",
    ]);
    expect(page.page).toBe(2);
  });
});

describe("procode pipeline watch: exit codes", () => {
  let appId: number;

  async function readyIteration(name: string): Promise<number> {
    const it = await json<{ id: number }>(["iteration", "create", "--app", String(appId), "--name", name]);
    await eventually(
      async () =>
        (await json<{ status: string }>(["iteration", "get", String(it.id)])).status === "DEVELOPING",
      "the iteration to reach DEVELOPING",
    );
    for (const to of ["TESTING", "STAGING"]) {
      expect((await authed(["iteration", "proceed", String(it.id), "--to", to])).code).toBe(0);
    }
    return it.id;
  }

  beforeAll(async () => {
    const app = await json<{ id: number }>([
      "app",
      "create",
      "--name",
      "cli-agent",
      "--repo",
      "local://cli-agent",
      "--scaffold",
      "python-agent",
    ]);
    appId = app.id;
    await eventually(
      async () => {
        const r = await json<{ state: string; scaffold: { state: string } }>(["app", "repo", String(appId)]);
        return r.state === "BOUND" && r.scaffold.state === "PUSHED";
      },
      "the repository bound and the scaffold pushed",
      30_000,
    );
    const configured = await authed([
      "app",
      "configure",
      String(appId),
      "--stage",
      "PACKAGE.driveMode=MANUAL",
    ]);
    expect(configured.code).toBe(0);
    // The quality gate's settings: a switch and a JSON object, typed as they are.
    const gate = await json<{ stageConfigs: Record<string, unknown> }>([
      "app",
      "configure",
      String(appId),
      "--stage",
      "QUALITY_GATE.enabled=true",
      "--stage",
      'QUALITY_GATE.gate={"minPassRate":0.5}',
    ]);
    expect(gate.stageConfigs["QUALITY_GATE"]).toEqual({ enabled: true, gate: { minPassRate: 0.5 } });
    const reset = await json<{ stageConfigs: Record<string, unknown> }>([
      "app",
      "configure",
      String(appId),
      "--stage",
      "QUALITY_GATE.enabled=null",
      "--stage",
      "QUALITY_GATE.gate=null",
    ]);
    expect(reset.stageConfigs["QUALITY_GATE"] ?? {}).toEqual({});
    const badJson = await authed(["app", "configure", String(appId), "--stage", "QUALITY_GATE.gate={oops"]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("QUALITY_GATE.gate={oops: the value is not JSON");
    const elsewhere = await authed(["app", "configure", String(appId), "--stage", "BUILD.enabled=false"]);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toContain("stageConfigs.BUILD.enabled: only QUALITY_GATE has enabled");
  });

  it("notification add, list, deliveries and delete: an iteration's waits reach a signed receiver", async () => {
    const receiver = await new WebhookReceiver().start();
    try {
      const added = await authed([
        "notification",
        "add",
        String(appId),
        "--url",
        receiver.url("/cli"),
        "--event",
        "iteration.waiting",
      ]);
      expect(added.code).toBe(0);
      const subscriptionId = Number(/created notification (\d+)/.exec(added.stdout)?.[1]);
      const secret = /secret (whsec_\S+)/.exec(added.stdout)?.[1];
      expect(secret).toBeDefined();
      receiver.verifyWith("/cli", secret!);
      const list = await json<{ items: { id: number; url: string }[] }>([
        "notification",
        "list",
        String(appId),
      ]);
      expect(list.items).toEqual([
        expect.objectContaining({ id: subscriptionId, url: receiver.url("/cli") }),
      ]);
      expect(JSON.stringify(list)).not.toContain(secret!);

      await readyIteration("notified");
      // DEVELOPING, TESTING and STAGING each wait for a person.
      await eventually(() => receiver.delivered("/cli").length === 3, "three deliveries");
      const log = await eventually(async () => {
        const l = await json<{ items: { status: string }[] }>([
          "notification",
          "deliveries",
          String(appId),
          String(subscriptionId),
          "--status",
          "DELIVERED",
        ]);
        return l.items.length === 3 ? l : null;
      }, "the delivery log");
      expect(log.items.map((d) => d.status)).toEqual(["DELIVERED", "DELIVERED", "DELIVERED"]);
      const text = await authed(["notification", "deliveries", String(appId), String(subscriptionId)]);
      expect(text.stdout).toMatch(/^WEBHOOK-ID\s+EVENT\s+STATUS/);
      expect(text.stdout).toContain("iteration.waiting");

      expect((await authed(["notification", "delete", String(appId), String(subscriptionId)])).code).toBe(0);
      const gone = await authed([
        "--json",
        "notification",
        "deliveries",
        String(appId),
        String(subscriptionId),
      ]);
      expect(gone.code).toBe(1);
      expect(JSON.parse(gone.stderr)).toMatchObject({ code: 1009 });
      const refused = await authed([
        "notification",
        "add",
        String(appId),
        "--url",
        "https://169.254.169.254/hook",
        "--event",
        "pipeline.failed",
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("1001 url:");
      const usage = await authed([
        "notification",
        "add",
        String(appId),
        "--url",
        "https://x.example",
        "--event",
        "nope",
      ]);
      expect(usage.code).toBe(2);
    } finally {
      await receiver.stop();
    }
  });

  it("exits 5 at a MANUAL gate, 6 on --timeout, 4 when cancelled, 0 when the release succeeds", async () => {
    const first = await readyIteration("first");
    const release = await authed([
      "iteration",
      "release",
      String(first),
      "--tag",
      "v1.0.0",
      "--watch",
      "--timeout",
      "2m",
    ]);
    expect(release.code).toBe(5);
    const pipelineId = Number(/pipeline (\d+) is waiting for a person at PACKAGE/.exec(release.stdout)?.[1]);
    expect(release.stdout).toContain(`procode pipeline proceed ${pipelineId}`);

    // A second release of the app queues behind the first, which waits for a person.
    const second = await readyIteration("second");
    const queued = await json<{ pipelineId: number }>([
      "iteration",
      "release",
      String(second),
      "--tag",
      "v1.1.0",
    ]);
    const timedOut = await authed([
      "pipeline",
      "watch",
      String(queued.pipelineId),
      "--interval",
      "200",
      "--timeout",
      "2s",
    ]);
    expect(timedOut.code).toBe(6);
    expect(timedOut.stdout).toMatch(/when the timeout ran out/);
    expect(
      (await authed(["pipeline", "cancel", String(queued.pipelineId), "--reason", "not now"])).code,
    ).toBe(0);
    expect((await authed(["pipeline", "watch", String(queued.pipelineId)])).code).toBe(4);

    expect((await authed(["pipeline", "proceed", String(pipelineId)])).code).toBe(0);
    const done = await authed([
      "pipeline",
      "watch",
      String(pipelineId),
      "--interval",
      "200",
      "--timeout",
      "2m",
    ]);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/pipeline succeeded/);
    // Two releases through four stages and seven CLI processes: 12 s alone, past vitest's default 30 s
    // when the whole suite shares the machine. The bound only says that nothing hangs.
  }, 120_000);
  it("quality: the app's gate history through the gateway, one report by id, 1011 for a report that is not the app's", async () => {
    const history = await json<{ items: { id: number; verdict: string }[]; total: number }>([
      "quality",
      String(appId),
    ]);
    expect(history.items).toHaveLength(history.total);
    const human = await authed(["quality", String(appId)]);
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toMatch(
      /^REPORT\s+TAG\s+VERDICT\s+PASS RATE\s+95% INTERVAL\s+NEWLY FAILING/,
    );
    const missing = await authed(["--json", "quality", String(appId), "--report", "999999999"]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ code: 1011 });
    const otherApp = await authed(["--json", "quality", "987654"]);
    expect(JSON.parse(otherApp.stderr)).toMatchObject({ code: 1004 });
    expect((await authed(["quality", "abc"])).code).toBe(2);
  });

  it("follows the event stream and does not poll while it is up: one read of the pipeline per event about it", async () => {
    // A deployment of this app takes 8 s: polling every 200 ms would read the pipeline ~40 times.
    const control = await fetch(`${platform.opsModuleUrl}/_control/apps/${appId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ deploy: { durationMs: 8000 } }),
    });
    expect(control.status).toBe(200);
    const it3 = await readyIteration("third");
    const r = await json<{ pipelineId: number }>(["iteration", "release", String(it3), "--tag", "v1.2.0"]);
    await eventually(
      async () =>
        (await json<{ awaiting: { action: string } | null }>(["pipeline", "get", String(r.pipelineId)]))
          .awaiting?.action === "PROCEED",
      "the release to wait at its MANUAL PACKAGE",
      60_000,
    );
    const before = await gatewayCounts();
    expect((await authed(["pipeline", "proceed", String(r.pipelineId)])).code).toBe(0);
    const watched = await authed(["pipeline", "watch", String(r.pipelineId), "--interval", "200"]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/pipeline succeeded/);
    const after = await gatewayCounts();
    const reads = after.pipelineReads - before.pipelineReads;
    const events = after.pipelineEvents - before.pipelineEvents;
    expect(events).toBeGreaterThan(0);
    // The first read, then one per event (the CLI's own `get` calls above are counted before).
    expect(reads).toBeLessThanOrEqual(events + 1);
  }, 120_000);
});

describe("procode pipeline logs", () => {
  it("follows a release's stage logs as they are written until it ends, each line once, and prints them again after", async () => {
    const apps = await json<{ items: { id: number; name: string }[] }>(["app", "list"]);
    const appId = apps.items.find((a) => a.name === "cli-agent")!.id;
    // No waiting deployment from an earlier test: a short one.
    await fetch(`${platform.opsModuleUrl}/_control/apps/${appId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ deploy: { durationMs: 1500 } }),
    });
    const it = await json<{ id: number }>(["iteration", "create", "--app", String(appId), "--name", "logs"]);
    await eventually(
      async () =>
        (await json<{ status: string }>(["iteration", "get", String(it.id)])).status === "DEVELOPING",
      "the iteration to reach DEVELOPING",
    );
    for (const to of ["TESTING", "STAGING"]) {
      expect((await authed(["iteration", "proceed", String(it.id), "--to", to])).code).toBe(0);
    }
    const r = await json<{ pipelineId: number }>(["iteration", "release", String(it.id), "--tag", "v2.0.0"]);
    await eventually(
      async () =>
        (await json<{ awaiting: { action: string } | null }>(["pipeline", "get", String(r.pipelineId)]))
          .awaiting?.action === "PROCEED",
      "the release to wait at its MANUAL PACKAGE",
      60_000,
    );
    // Following from PACKAGE's gate: the lines so far at once, DEPLOY's as they come.
    const following = authed(["--json", "pipeline", "logs", String(r.pipelineId), "--follow"]);
    expect((await authed(["pipeline", "proceed", String(r.pipelineId)])).code).toBe(0);
    const followed = await following;
    expect(followed.code, followed.stderr).toBe(0);
    const streamed = followed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { stage: string; attempt: number; seq: number; text: string });

    const all = await json<{ pipelineId: number; truncated: boolean; lines: typeof streamed }>([
      "pipeline",
      "logs",
      String(r.pipelineId),
    ]);
    expect(all).toMatchObject({ pipelineId: r.pipelineId, truncated: false });
    expect(streamed).toEqual(all.lines);
    expect([...new Set(all.lines.map((l) => l.stage))]).toEqual([
      "CODE_CHECK",
      "BUILD",
      "PACKAGE",
      "QUALITY_GATE",
      "DEPLOY",
    ]);
    expect(
      all.lines
        .filter((l) => l.stage === "DEPLOY")
        .map((l) => l.text)
        .join("\n"),
    ).toMatch(/ended SUCCESS/);

    // The human form, one stage's attempt, and polling instead of the stream on an ended pipeline.
    const deploy = await authed([
      "pipeline",
      "logs",
      String(r.pipelineId),
      "--stage",
      "DEPLOY",
      "--attempt",
      "1",
    ]);
    expect(deploy.code).toBe(0);
    const deployLines = deploy.stdout.trim().split("\n");
    expect(deployLines).toHaveLength(all.lines.filter((l) => l.stage === "DEPLOY").length);
    expect(deployLines.every((l) => /^\S+Z DEPLOY#1 +(INFO|WARN|ERROR) /.test(l))).toBe(true);
    const polled = await authed(["--json", "pipeline", "logs", String(r.pipelineId), "--follow", "--poll"]);
    expect(polled.code).toBe(0);
    expect(
      polled.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual(all.lines);

    // --attempt needs --stage; another team's pipeline is not found.
    const usage = await authed(["pipeline", "logs", String(r.pipelineId), "--attempt", "1"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--attempt: needs --stage/);
    const stranger = await signToken({ sub: "eve", team: "not-cli-team" }, platform.jwtSecret);
    const hidden = await procode([
      "--url",
      platform.gatewayUrl,
      "--token",
      stranger,
      "--json",
      "pipeline",
      "logs",
      String(r.pipelineId),
    ]);
    expect(hidden.code).toBe(1);
    expect(JSON.parse(hidden.stderr)).toMatchObject({ code: 3004 });
  }, 120_000);
});

/** What the gateway counted: GETs of a pipeline answered, and pipeline events sent to streams. */
async function gatewayCounts(): Promise<{ pipelineReads: number; pipelineEvents: number }> {
  const text = await (await fetch(`${platform.gatewayUrl}/metrics`)).text();
  const sum = (name: string, ...labels: string[]) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)))
      .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
  return {
    pipelineReads: sum("http_request_duration_seconds_count", 'method="GET"', 'route="/pipelines/*"'),
    pipelineEvents: sum("gateway_events_sent_total", 'event="pipeline"'),
  };
}
