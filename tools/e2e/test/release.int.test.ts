import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  PHASE_STAGE_ORDER,
  type App,
  type Iteration,
  type Pipeline,
  type ReleaseResponse,
  type RepoBinding,
  type StageLogLine,
  type StageLogs,
} from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import { hs256, jwt } from "./support/client.js";
import {
  iterationThrough,
  waitIteration as walkIteration,
  waitPipeline as walkPipeline,
} from "./support/walk.js";

/**
 * The platform as one: every process real (four services, the reference ops module, the gateway),
 * every call through the gateway only, a LOCAL repository pushed to with real git.
 */

let infra: TestInfra;
let platform: Platform;
let token: string;
let workdir: string;

interface Reply<T> {
  status: number;
  code: number;
  message: string;
  data: T;
}

async function call<T>(method: string, url: string, body?: unknown): Promise<Reply<T>> {
  const res = await fetch(`${platform.gatewayUrl}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const env = (await res.json()) as { code: number; message: string; data: T };
  return { status: res.status, ...env };
}

/** A call that must succeed (code 0); its data. */
async function ok<T>(method: string, url: string, body?: unknown): Promise<T> {
  const r = await call<T>(method, url, body);
  if (r.code !== 0) throw new Error(`${method} ${url}: ${r.status} ${r.code} ${r.message}`);
  return r.data;
}

const pipeline = (id: number) => ok<Pipeline>("GET", `/pipelines/${id}`);
const iteration = (id: number) => ok<Iteration>("GET", `/iterations/${id}`);

const waitPipeline = (id: number, done: (p: Pipeline) => boolean, what: string, timeoutMs = 60_000) =>
  walkPipeline(ok, id, done, what, timeoutMs);
const waitIteration = (id: number, status: string, timeoutMs = 30_000) =>
  walkIteration(ok, id, status, timeoutMs);
/** Creates an iteration on main and walks it to the phase before RELEASE. */
const iterationReadyToRelease = (appId: number, name: string, through: string[]) =>
  iterationThrough(ok, appId, name, through);

/** A deployment as the reference ops module's control API shows it. */
interface OpsDeployment {
  id: string;
  status: string;
  request: unknown;
  cancelled: boolean;
  cancelCalls: number;
}

/** Every (stage, attempt) of the lines numbered 1..n without a gap, in stage, attempt, seq order. */
function expectWellOrdered(lines: StageLogLine[]): void {
  const key = (l: StageLogLine) => [PHASE_STAGE_ORDER.indexOf(l.stage), l.attempt, l.seq];
  const sorted = [...lines].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
  expect(lines).toEqual(sorted);
  const seqs = new Map<string, number[]>();
  for (const l of lines)
    seqs.set(`${l.stage}#${l.attempt}`, [...(seqs.get(`${l.stage}#${l.attempt}`) ?? []), l.seq]);
  for (const [attempt, list] of seqs) {
    expect({ attempt, seqs: list }).toEqual({ attempt, seqs: list.map((_, i) => i + 1) });
  }
  for (const l of lines) expect(Number.isNaN(Date.parse(l.at))).toBe(false);
}

const textOf = (lines: StageLogLine[], stage: string) =>
  lines
    .filter((l) => l.stage === stage)
    .map((l) => l.text)
    .join("\n");

function stagesOf(p: Pipeline): string[] {
  return p.checkpoints.filter((c) => c.status === "SUCCESS").map((c) => c.stage);
}

beforeAll(async () => {
  infra = await createTestInfra("e2e_release");
  platform = await startPlatform(infra, {
    env: {
      "pipeline-engine": { RETRY_BASE_MS: "200", RETRY_MAX_MS: "1000", STAGE_REPUBLISH_MS: "3000" },
      "ops-module": { DEFAULT_DURATION_MS: "500" },
      "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500" },
    },
  });
  token = await signToken({ sub: "e2e", team: "e2e-team" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "agent.git");
  workdir = mkdtempSync(path.join(os.tmpdir(), "procode-e2e-work-"));
});

afterAll(async () => {
  await platform?.stop();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await infra?.cleanup();
});

describe("a release through the gateway, end to end", () => {
  let appId: number;
  let checkout: string;

  it("creates a pro-code app on an empty LOCAL repository and pushes the scaffold to it", async () => {
    const app = await ok<App>("POST", "/apps", {
      name: "e2e-agent",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: "local://agent",
      scaffoldTemplate: "python-agent",
    });
    appId = app.id;
    expect(app).toMatchObject({ name: "e2e-agent", devMode: "pro-code", techStack: "python" });
    const repo = await eventually(
      async () => {
        const r = await call<RepoBinding>("GET", `/apps/${appId}/repo`);
        return r.code === 0 && r.data.state === "BOUND" && r.data.scaffold.state === "PUSHED" ? r.data : null;
      },
      "repository bound and scaffold pushed",
      30_000,
      200,
    );
    expect(repo.webhookUrl).toBe(`${platform.gatewayUrl}/webhooks/local/${appId}`);
    checkout = path.join(workdir, "agent");
    git(workdir, "clone", "--quiet", path.join(platform.repoRoot, "agent.git"), "agent");
    expect(git(checkout, "log", "--oneline").split("\n")).toHaveLength(1);
  });

  it("walks an iteration DRAFT -> DEVELOPING -> TESTING -> STAGING and releases v1.0.0 to RELEASED", async () => {
    const iterationId = await iterationReadyToRelease(appId, "first", ["TESTING", "STAGING"]);
    const release = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, {
      tag: "v1.0.0",
    });
    expect(release).toMatchObject({ iterationId, tag: "v1.0.0", rollback: false });
    expect(release.pipelineId).toBeGreaterThan(0);
    const done = await waitPipeline(
      release.pipelineId!,
      (p) => p.status === "SUCCESS",
      "the v1.0.0 pipeline to succeed",
    );
    // The scaffold ships evaluation cases: its releases run the quality gate before DEPLOY.
    expect(stagesOf(done)).toEqual(["CODE_CHECK", "BUILD", "PACKAGE", "QUALITY_GATE", "DEPLOY"]);
    expect(done.deployStatus).toBe("DEPLOY_SUCCESS");
    const outputs = Object.fromEntries(done.checkpoints.map((c) => [c.stage, c.output]));
    expect(outputs["CODE_CHECK"]).toMatchObject({ commitId: git(checkout, "rev-parse", "HEAD") });
    expect(String(outputs["BUILD"]?.["dockerfile"])).toMatch(/^FROM python:/m);
    expect(String(outputs["PACKAGE"]?.["image"])).toMatch(/e2e-agent:v1\.0\.0$/);
    const released = await waitIteration(iterationId, "RELEASED");
    expect(released.currentPhase).toBe("RELEASED");
    expect(git(checkout, "ls-remote", "--tags", "origin", "v1.0.0")).toContain("refs/tags/v1.0.0");

    // The stage logs: every stage has lines, numbered without gaps, in order, with what was done and
    // what the outside systems answered.
    const logs = await ok<StageLogs>("GET", `/pipelines/${done.id}/logs`);
    expect(logs).toMatchObject({ pipelineId: done.id, truncated: false });
    expectWellOrdered(logs.lines);
    expect([...new Set(logs.lines.map((l) => `${l.stage}#${l.attempt}`))]).toEqual([
      "CODE_CHECK#1",
      "BUILD#1",
      "PACKAGE#1",
      "QUALITY_GATE#1",
      "DEPLOY#1",
    ]);
    const commit = git(checkout, "rev-parse", "HEAD");
    expect(textOf(logs.lines, "CODE_CHECK")).toContain(`tag v1.0.0 is commit ${commit}`);
    expect(textOf(logs.lines, "CODE_CHECK")).toMatch(
      /check python-syntax passed: \d+ Python file\(s\) compile/,
    );
    expect(textOf(logs.lines, "BUILD")).toContain(String(outputs["BUILD"]?.["dockerfile"]).split("\n")[0]);
    expect(textOf(logs.lines, "PACKAGE")).toMatch(/builder answers: build \S+: SUCCESS/);
    const deploy = textOf(logs.lines, "DEPLOY");
    expect(deploy).toContain(`the ops module accepted the deployment: deployId ${done.deployId}`);
    expect(deploy).toMatch(/ended SUCCESS \(seen by (a status poll|the ops module's callback)\)/);
    expect(textOf(logs.lines, "QUALITY_GATE")).toMatch(/gate PASSED \(report \d+\)/);
    for (const stage of ["CODE_CHECK", "BUILD", "PACKAGE", "QUALITY_GATE"]) {
      expect(logs.lines.filter((l) => l.stage === stage).at(-1)).toMatchObject({
        level: "INFO",
        text: `${stage} succeeded`,
      });
    }

    // One stage, one attempt; and the filters' rules.
    const deployOnly = await ok<StageLogs>("GET", `/pipelines/${done.id}/logs?stage=DEPLOY&attempt=1`);
    expect(deployOnly.lines).toEqual(logs.lines.filter((l) => l.stage === "DEPLOY"));
    expect((await ok<StageLogs>("GET", `/pipelines/${done.id}/logs?stage=BUILD&attempt=2`)).lines).toEqual(
      [],
    );
    const noStage = await call("GET", `/pipelines/${done.id}/logs?attempt=1`);
    expect([noStage.status, noStage.code]).toEqual([400, 1001]);
    expect(noStage.message).toMatch(/attempt/);
    const badStage = await call("GET", `/pipelines/${done.id}/logs?stage=LINT`);
    expect([badStage.status, badStage.code]).toEqual([400, 1001]);
    expect(badStage.message).toMatch(/stage/);
    const missing = await call("GET", `/pipelines/999999/logs`);
    expect([missing.status, missing.code]).toEqual([404, 3004]);
  });

  it("fails CODE_CHECK on a syntax error after its retries, and a fix with resume brings it to SUCCESS", async () => {
    const entry = git(checkout, "ls-files", "*.py").split("\n")[0]!;
    const good = readFileSync(path.join(checkout, entry), "utf8");
    writeFileSync(path.join(checkout, entry), `${good}\ndef broken(:\n    pass\n`);
    git(checkout, "commit", "--quiet", "-am", "a syntax error");
    git(checkout, "push", "--quiet", "origin", "main");

    const iterationId = await iterationReadyToRelease(appId, "second", ["TESTING", "STAGING"]);
    const release = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, {
      tag: "v1.0.1",
    });
    const failed = await waitPipeline(
      release.pipelineId!,
      (p) => p.status === "FAILED",
      "CODE_CHECK to fail",
    );
    const attempts = failed.checkpoints.filter((c) => c.stage === "CODE_CHECK");
    expect(attempts.map((c) => c.status)).toEqual(["FAILED", "FAILED", "FAILED", "FAILED"]);
    expect(attempts.at(-1)!.error).toContain(entry);

    // Each attempt's log names the file, the line and the compiler's message, as Python says them.
    const content = readFileSync(path.join(checkout, entry), "utf8");
    const compiler = JSON.parse(
      execFileSync(
        "python3",
        [
          "-c",
          "import json,sys\ntry:\n compile(sys.stdin.read(), 'x', 'exec')\nexcept SyntaxError as e:\n print(json.dumps([e.lineno, e.msg]))",
        ],
        { input: content, encoding: "utf8" },
      ),
    ) as [number, string];
    expect(compiler[0]).toBe(good.split("\n").length + 1);
    const logs = await ok<StageLogs>("GET", `/pipelines/${failed.id}/logs?stage=CODE_CHECK`);
    expectWellOrdered(logs.lines);
    expect(new Set(logs.lines.map((l) => l.attempt))).toEqual(new Set([1, 2, 3, 4]));
    for (const attempt of [1, 2, 3, 4]) {
      const mine = logs.lines.filter((l) => l.attempt === attempt);
      const finding = mine.find((l) => l.level === "ERROR" && l.text.includes("SyntaxError"))?.text ?? "";
      expect(finding).toContain(`File "${entry}", line ${compiler[0]}, column `);
      expect(finding.endsWith(`: SyntaxError: ${compiler[1]}`)).toBe(true);
      expect(mine.at(-1)).toMatchObject({
        level: "ERROR",
        text: expect.stringMatching(/^CODE_CHECK failed/),
      });
    }
    expect((await call("POST", `/pipelines/${failed.id}/retry`)).code).toBe(3002);
    expect((await iteration(iterationId)).status).toBe("FAILED");

    writeFileSync(path.join(checkout, entry), good);
    git(checkout, "commit", "--quiet", "-am", "fix the syntax error");
    git(checkout, "push", "--quiet", "origin", "main");
    git(checkout, "tag", "-f", "v1.0.1");
    git(checkout, "push", "--quiet", "--force", "origin", "v1.0.1");

    const resumed = await ok<{ resumeFromStage: string; status: string }>(
      "POST",
      `/pipelines/${failed.id}/resume`,
    );
    expect(resumed.resumeFromStage).toBe("CODE_CHECK");
    const done = await waitPipeline(
      failed.id,
      (p) => p.status === "SUCCESS",
      "the resumed pipeline to succeed",
    );
    const lastCheck = done.checkpoints.filter((c) => c.stage === "CODE_CHECK").at(-1)!;
    expect(lastCheck.output).toMatchObject({ commitId: git(checkout, "rev-parse", "HEAD") });
    await waitIteration(iterationId, "RELEASED");
  });

  it("waits at a MANUAL PACKAGE stage until someone proceeds", async () => {
    // One setting changed, everything else kept; a LOCAL repository needs no credential.
    await ok("PUT", `/apps/${appId}/procode-config`, { stageConfigs: { PACKAGE: { driveMode: "MANUAL" } } });
    await eventually(
      async () =>
        (await ok<App>("GET", `/apps/${appId}`)).procodeConfig?.effectiveStageConfigs.PACKAGE.driveMode ===
        "MANUAL",
      "the setting stored",
    );
    const iterationId = await iterationReadyToRelease(appId, "third", ["TESTING", "STAGING"]);
    const release = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, {
      tag: "v1.0.2",
    });
    const waiting = await waitPipeline(
      release.pipelineId!,
      (p) => p.awaiting?.action === "PROCEED",
      "PACKAGE to wait",
    );
    expect(waiting).toMatchObject({
      status: "RUNNING",
      currentStage: "PACKAGE",
      awaiting: { stage: "PACKAGE" },
    });
    const moved = await ok<{ previousStage: string; currentStage: string }>(
      "POST",
      `/pipelines/${waiting.id}/proceed`,
    );
    expect(moved).toEqual({ pipelineId: waiting.id, previousStage: "PACKAGE", currentStage: "QUALITY_GATE" });
    await waitPipeline(waiting.id, (p) => p.status === "SUCCESS", "the pipeline to succeed after proceed");
    await waitIteration(iterationId, "RELEASED");
  });

  it("rolls back by releasing the older tag v1.0.0 again", async () => {
    const list = await ok<{ items: Iteration[] }>("GET", `/apps/${appId}/iterations?status=RELEASED`);
    const latest = list.items[0]!;
    const rollback = await ok<ReleaseResponse>("POST", `/iterations/${latest.id}/release`, { tag: "v1.0.0" });
    expect(rollback).toMatchObject({ tag: "v1.0.0", rollback: true });
    git(checkout, "fetch", "--quiet", "--tags", "origin");
    const firstCommit = git(checkout, "rev-list", "-n", "1", "v1.0.0");
    expect(rollback.commitId).toBe(firstCommit);
    // PACKAGE is still MANUAL for this app.
    const waiting = await waitPipeline(
      rollback.pipelineId!,
      (p) => p.awaiting?.action === "PROCEED",
      "PACKAGE to wait",
    );
    expect(waiting.rollback).toBe(true);
    await ok("POST", `/pipelines/${waiting.id}/proceed`);
    const done = await waitPipeline(waiting.id, (p) => p.status === "SUCCESS", "the rollback to succeed");
    expect(done.checkpoints.find((c) => c.stage === "CODE_CHECK")?.output).toMatchObject({
      commitId: firstCommit,
    });
    // dev-svc hears of the pipeline's end by event: the iteration follows it shortly after.
    await waitIteration(latest.id, "RELEASED");
  });

  it("cancels during DEPLOY: the engine ends CANCELLED and ops-gateway asks the ops module to stop, once", async () => {
    // This app's deployments run until told otherwise, and never call back.
    const control = await fetch(`${platform.opsModuleUrl}/_control/apps/${appId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ deploy: { durationMs: 600_000, callback: "off" } }),
    });
    expect(control.status).toBe(200);
    writeFileSync(path.join(checkout, "CANCEL.md"), "deployed, then cancelled\n");
    git(checkout, "add", "CANCEL.md");
    git(checkout, "commit", "--quiet", "-m", "a release to cancel");
    git(checkout, "push", "--quiet", "origin", "main");
    const iterationId = await iterationReadyToRelease(appId, "cancelled", ["TESTING", "STAGING"]);
    const release = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, {
      tag: "v1.1.0",
    });
    // PACKAGE is still MANUAL for this app.
    const waiting = await waitPipeline(
      release.pipelineId!,
      (p) => p.awaiting?.action === "PROCEED",
      "PACKAGE to wait",
    );
    await ok("POST", `/pipelines/${waiting.id}/proceed`);
    await waitPipeline(waiting.id, (p) => p.state === "DEPLOYING", "DEPLOYING");
    const atOps = async () => {
      const res = await fetch(`${platform.opsModuleUrl}/_control/deployments?appId=${appId}`);
      const items = ((await res.json()) as { data: { items: OpsDeployment[] } }).data.items;
      return items.filter((d) => (d.request as { image?: string }).image?.endsWith(":v1.1.0"));
    };
    const [deployment] = await eventually(
      async () => {
        const found = await atOps();
        return found.length > 0 && !["SUCCESS", "FAILED", "CANCELLED"].includes(found[0]!.status)
          ? found
          : null;
      },
      "the deployment under way at the ops module",
      30_000,
      200,
    );

    const cancelled = await ok<{ status: string; previousState: string }>(
      "POST",
      `/pipelines/${waiting.id}/cancel`,
      { reason: "wrong build" },
    );
    expect(cancelled).toMatchObject({ status: "CANCELLED", previousState: "DEPLOYING" });
    // ops-gateway hears the engine's cancel and asks the ops module to stop, once.
    const stopped = await eventually(
      async () => (await atOps()).find((d) => d.id === deployment!.id && d.cancelled),
      "the ops module told to stop",
      30_000,
      200,
    );
    expect(stopped).toMatchObject({ status: "CANCELLED", cancelCalls: 1 });
    const after = await pipeline(waiting.id);
    expect(after).toMatchObject({
      status: "CANCELLED",
      state: "CANCELLED",
      deployStatus: "DEPLOY_CANCELLED",
    });
    expect(after.checkpoints.at(-1)).toMatchObject({ stage: "DEPLOY", status: "CANCELLED" });
    expect((await iteration(iterationId)).status).not.toBe("RELEASED");
    expect(await atOps()).toHaveLength(1);
  });

  it("moves an iteration with POST /pipelines/{id}/proceed up to RELEASE, which needs a tag (2003)", async () => {
    const it0 = await ok<Iteration>("POST", "/iterations", {
      appId,
      name: "by-pipeline",
      sourceBranch: "main",
    });
    await waitIteration(it0.id, "DEVELOPING");
    const list = await ok<{ items: Pipeline[] }>("GET", `/pipelines?refId=${it0.id}&type=ITERATION`);
    const iterPipeline = list.items[0]!;
    expect(iterPipeline.awaiting).toMatchObject({ action: "PROCEED", stage: "DEVELOPING" });
    for (const [from, to] of [
      ["DEVELOPING", "TESTING"],
      ["TESTING", "STAGING"],
    ] as const) {
      const moved = await ok<{ previousStage: string; currentStage: string }>(
        "POST",
        `/pipelines/${iterPipeline.id}/proceed`,
      );
      expect(moved).toEqual({ pipelineId: iterPipeline.id, previousStage: from, currentStage: to });
      // dev-svc hears of it by event: the iteration follows.
      await waitIteration(it0.id, to);
    }
    const noTag = await call("POST", `/pipelines/${iterPipeline.id}/proceed`);
    expect(noTag).toMatchObject({ status: 409, code: 2003 });
    expect(noTag.message).toContain(`POST /iterations/${it0.id}/release`);
    // The same rule and code as the iteration's proceed.
    const viaIteration = await call("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "RELEASE" });
    expect(viaIteration).toMatchObject({ status: 409, code: 2003 });
    expect((await iteration(it0.id)).status).toBe("STAGING");
    await ok("POST", `/pipelines/${iterPipeline.id}/cancel`, { reason: "only walked through its phases" });
  });

  it("retries a failed PACKAGE by hand, twice, with the seed's defaults (retry MANUAL, maxRetries 0)", async () => {
    // Deployments of this app finish again; its next two image builds fail.
    await fetch(`${platform.opsModuleUrl}/_control/apps/${appId}`, { method: "DELETE" });
    await ok("PUT", `/apps/${appId}/procode-config`, { stageConfigs: { PACKAGE: { driveMode: null } } });
    await eventually(
      async () =>
        (await ok<App>("GET", `/apps/${appId}`)).procodeConfig?.effectiveStageConfigs.PACKAGE.driveMode ===
        "AUTO",
      "PACKAGE back to its default settings",
    );
    const control = await fetch(`${platform.opsModuleUrl}/_control/next`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        kind: "build",
        count: 2,
        behaviour: { outcome: "FAILED", message: "layer push refused" },
      }),
    });
    expect(control.status).toBe(200);
    writeFileSync(path.join(checkout, "RETRY.md"), "built on the third try\n");
    git(checkout, "add", "RETRY.md");
    git(checkout, "commit", "--quiet", "-m", "a release whose image fails to build twice");
    git(checkout, "push", "--quiet", "origin", "main");
    const iterationId = await iterationReadyToRelease(appId, "retried", ["TESTING", "STAGING"]);
    const release = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, {
      tag: "v1.2.0",
    });
    const packages = (p: Pipeline) => p.checkpoints.filter((c) => c.stage === "PACKAGE");
    for (const attempt of [1, 2]) {
      const failed = await waitPipeline(
        release.pipelineId!,
        (p) => p.status === "FAILED" && packages(p).length === attempt,
        `PACKAGE attempt ${attempt} to fail`,
      );
      expect(failed.stageConfigs["PACKAGE"]).toMatchObject({ retryMode: "MANUAL", maxRetries: 0 });
      expect(failed.awaiting).toMatchObject({ action: "RETRY_OR_RESUME", stage: "PACKAGE" });
      expect(failed.awaiting!.hint).toContain(`/pipelines/${failed.id}/retry`);
      const retried = await ok<{ retryCount: number; maxRetries: number }>(
        "POST",
        `/pipelines/${failed.id}/retry`,
      );
      expect(retried).toMatchObject({ currentStage: "PACKAGE", retryCount: attempt, maxRetries: 0 });
    }
    const done = await waitPipeline(
      release.pipelineId!,
      (p) => p.status === "SUCCESS",
      "the retried release",
    );
    expect(packages(done).map((c) => c.status)).toEqual(["FAILED", "FAILED", "SUCCESS"]);
    expect(packages(done)[0]!.error).toContain("layer push refused");
    await waitIteration(iterationId, "RELEASED");
  });
});

/** A JWT assembled here, independently of the services' library, so each flaw is exactly the one meant. */
describe("authorization over every service's routes", () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: "mallory", team: "e2e-team", iat: now, exp: now + 3600 };

  /** Tokens every route must refuse with 401 (5001), each wrong in one way. */
  function badTokens(): [string, string][] {
    const secret = platform.jwtSecret;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return [
      [
        "expired an hour ago",
        jwt({ alg: "HS256", typ: "JWT" }, { ...claims, exp: now - 3600 }, hs256(secret)),
      ],
      [
        "not valid for an hour yet",
        jwt({ alg: "HS256", typ: "JWT" }, { ...claims, nbf: now + 3600 }, hs256(secret)),
      ],
      ["signed with another secret", jwt({ alg: "HS256", typ: "JWT" }, claims, hs256(`${secret}-not`))],
      ["alg none, unsigned", jwt({ alg: "none", typ: "JWT" }, claims, () => "")],
      [
        "RS256, signed with a key of its own",
        jwt({ alg: "RS256", typ: "JWT" }, claims, (input) =>
          sign("sha256", Buffer.from(input), privateKey).toString("base64url"),
        ),
      ],
      [
        "RS256 header over an HMAC with the shared secret",
        jwt({ alg: "RS256", typ: "JWT" }, claims, hs256(secret)),
      ],
      [
        "HS512 with the shared secret",
        jwt({ alg: "HS512", typ: "JWT" }, claims, (input) =>
          createHmac("sha512", secret).update(input).digest("base64url"),
        ),
      ],
      ["not a JWT", "not-a-token"],
    ];
  }

  it("refuses a bad token with 401 (5001) on every route that is not public, in every service", async () => {
    const services = ["app-svc", "dev-svc", "pipeline-engine", "ops-gateway"] as const;
    const tokens = badTokens();
    let routes = 0;
    const publicRoutes: string[] = [];
    for (const name of services) {
      const base = platform.processes[name].url;
      const spec = (await (await fetch(`${base}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      for (const [template, methods] of Object.entries(spec.paths)) {
        for (const method of Object.keys(methods)) {
          const route = `${method.toUpperCase()} ${template}`;
          // Authenticated by their own signatures (401 5002), not by a bearer token.
          if (/^\/webhooks\/|^\/deploy\/callback$/.test(template)) {
            publicRoutes.push(`${name} ${route}`);
            continue;
          }
          routes++;
          const url = `${base}${template.replace(/\{[^}]+\}/g, "1")}`;
          for (const [flaw, token] of tokens) {
            const res = await fetch(url, {
              method: method.toUpperCase(),
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              ...(method === "get" ? {} : { body: "{}" }),
            });
            const body = (await res.json()) as { code: number };
            expect({ route: `${name} ${route}`, flaw, status: res.status, code: body.code }).toEqual({
              route: `${name} ${route}`,
              flaw,
              status: 401,
              code: 5001,
            });
          }
        }
      }
    }
    expect(routes).toBeGreaterThan(20);
    expect(publicRoutes.sort()).toEqual([
      "dev-svc POST /webhooks/{gitType}/{appId}",
      "ops-gateway POST /deploy/callback",
    ]);
  });

  it("answers another team's app, iteration and pipeline like missing ones (404) on every action", async () => {
    const other = await signToken({ sub: "eve", team: "other-team" }, platform.jwtSecret);
    const [app] = (await ok<{ items: App[] }>("GET", "/apps")).items;
    const [it0] = (await ok<{ items: Iteration[] }>("GET", `/apps/${app!.id}/iterations`)).items;
    const [pipe] = (await ok<{ items: Pipeline[] }>("GET", `/pipelines?appId=${app!.id}`)).items;
    const cases: [string, string, unknown, number][] = [
      ["GET", `/apps/${app!.id}`, undefined, 1004],
      ["PUT", `/apps/${app!.id}/procode-config`, { gitRepoUrl: "local://agent", credentialId: "c-1" }, 1004],
      ["GET", `/apps/${app!.id}/repo`, undefined, 1004],
      ["GET", `/apps/${app!.id}/iterations`, undefined, 1004],
      ["GET", `/iterations/${it0!.id}`, undefined, 2004],
      ["POST", `/iterations/${it0!.id}/proceed`, { targetPhase: "TESTING" }, 2004],
      ["POST", `/iterations/${it0!.id}/release`, { tag: "v9.9.9" }, 2004],
      ["GET", `/pipelines/${pipe!.id}`, undefined, 3004],
      ["GET", `/pipelines/${pipe!.id}/logs`, undefined, 3004],
      ["POST", `/pipelines/${pipe!.id}/proceed`, undefined, 3004],
      ["POST", `/pipelines/${pipe!.id}/retry`, undefined, 3004],
      ["POST", `/pipelines/${pipe!.id}/resume`, undefined, 3004],
      ["POST", `/pipelines/${pipe!.id}/cancel`, { reason: "not mine" }, 3004],
    ];
    for (const [method, url, body, code] of cases) {
      const res = await fetch(`${platform.gatewayUrl}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${other}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const env = (await res.json()) as { code: number; message: string };
      expect({ call: `${method} ${url}`, status: res.status, code: env.code }, env.message).toEqual({
        call: `${method} ${url}`,
        status: 404,
        code,
      });
    }
    // And nothing changed for the owner.
    expect((await pipeline(pipe!.id)).status).toBe(pipe!.status);
    expect((await iteration(it0!.id)).status).toBe(it0!.status);
  });

  it("answers 503 (9003) naming the service that keeps a stage's lines while it does not answer, never a hang", async () => {
    const [pipe] = (await ok<{ items: Pipeline[] }>("GET", "/pipelines?type=PHASE&status=SUCCESS")).items;
    await platform.processes["ops-gateway"].stop();
    try {
      const down = await call("GET", `/pipelines/${pipe!.id}/logs`);
      expect([down.status, down.code]).toEqual([503, 9003]);
      expect(down.message).toMatch(/^ops-gateway is unavailable/);
      // The stages dev-svc keeps are still readable on their own.
      const build = await ok<StageLogs>("GET", `/pipelines/${pipe!.id}/logs?stage=BUILD`);
      expect(build.lines.length).toBeGreaterThan(0);
    } finally {
      await platform.restart("ops-gateway");
    }
    await eventually(
      async () => (await call("GET", `/pipelines/${pipe!.id}/logs`)).code === 0,
      "the logs readable again",
      30_000,
      200,
    );
  });
});
