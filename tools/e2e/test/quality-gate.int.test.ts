import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  App,
  Pipeline,
  QualityReport,
  QualityReportItem,
  ReleaseResponse,
  RepoBinding,
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
import { call, ok as okAt } from "./support/client.js";
import { iterationThrough, waitPipeline as walkPipeline } from "./support/walk.js";

/**
 * The agent quality gate over the real platform (docs/quality-gate.md): a LOCAL app with the
 * python-agent scaffold, whose starter `evals/` turns the gate on. Releases in order:
 *
 * 1. v1.0.0, the scaffold as it is: the gate passes, the release ends SUCCESS (RELEASED).
 * 2. v1.1.0, a commit that drops the greeting and changes a question's answer (its unit tests changed
 *    with it, so only the cases see it): blocked, listing exactly the cases that newly fail.
 * 3. v1.1.1, the greeting back and the answer restored: compared with v1.0.0 (the last RELEASED),
 *    not with the blocked v1.1.0; it passes.
 * 4. v1.2.0, the greeting dropped again: blocked; a person waives it with a reason; DEPLOY runs and
 *    the waiver is recorded with the report.
 * 5. v1.3.0, a case file that does not parse: a configuration error, which no waiver lets through.
 * 6. v1.3.1, the case file fixed and a unit test failing: blocked by the unit tests.
 */

let infra: TestInfra;
let platform: Platform;
let token: string;
let workdir: string;
let checkout: string;
let appId: number;

beforeAll(async () => {
  infra = await createTestInfra("e2e_quality");
  platform = await startPlatform(infra, {
    env: {
      "dev-svc": { BIND_POLL_MS: "200" },
      "ops-module": { DEFAULT_DURATION_MS: "300" },
    },
  });
  token = await signToken({ sub: "quality-lead", team: "quality-team" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "graded.git");
  workdir = mkdtempSync(path.join(tmpdir(), "procode-quality-"));
});

afterAll(async () => {
  await platform?.stop();
  await infra?.cleanup();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const ok = <T>(method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

const waitPipeline = (id: number, done: (p: Pipeline) => boolean, what: string) =>
  walkPipeline(ok, id, done, what, 120_000);

const ended = (p: Pipeline) => p.status === "SUCCESS" || p.status === "FAILED" || p.status === "CANCELLED";
const gateOf = (p: Pipeline) => p.checkpoints.filter((c) => c.stage === "QUALITY_GATE").at(-1);

/** Changes the agent's files, commits and pushes to main. */
function commit(
  message: string,
  edit: (file: (rel: string, change: (text: string) => string) => void) => void,
) {
  edit((rel, change) => {
    const at = path.join(checkout, rel);
    writeFileSync(at, change(readFileSync(at, "utf8")));
  });
  git(checkout, "commit", "--quiet", "-am", message);
  git(checkout, "push", "--quiet", "origin", "main");
}

/** A new iteration from main taken to STAGING, released with `tag`; the release's pipeline once ended. */
async function release(name: string, tag: string): Promise<Pipeline> {
  const iterationId = await iterationThrough(ok, appId, name);
  const r = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, { tag });
  return waitPipeline(r.pipelineId!, ended, `release ${tag} to end`);
}

/** Another release in the same iteration (after a blocked one): the iteration stays in RELEASE. */
async function releaseAgain(iterationId: number, tag: string): Promise<Pipeline> {
  const r = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, { tag });
  return waitPipeline(r.pipelineId!, ended, `release ${tag} to end`);
}

async function reportOf(p: Pipeline): Promise<QualityReport> {
  const history = await ok<{ items: QualityReportItem[] }>("GET", `/apps/${appId}/quality`);
  const item = history.items.find((i) => i.pipelineId === p.id);
  expect(item, `a report of pipeline ${p.id} (${p.tag})`).toBeDefined();
  return ok<QualityReport>("GET", `/apps/${appId}/quality/${item!.id}`);
}

const GREETING = 'return f"Hello! I am {self.name}. Ask me anything."';
const ANSWER = 'return f"Good question. You asked: {message}"';

describe("the agent quality gate", () => {
  it("binds a LOCAL app with the python-agent scaffold (which ships evals/)", async () => {
    const app = await ok<App>("POST", "/apps", {
      name: "graded-agent",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: "local://graded",
      scaffoldTemplate: "python-agent",
    });
    appId = app.id;
    await eventually(
      async () => {
        const r = await ok<RepoBinding>("GET", `/apps/${appId}/repo`);
        return r.state === "BOUND" && r.scaffold.state === "PUSHED";
      },
      "repository bound and scaffold pushed",
      60_000,
      200,
    );
    git(workdir, "clone", "--quiet", path.join(platform.repoRoot, "graded.git"), "graded");
    checkout = path.join(workdir, "graded");
    expect(git(checkout, "ls-files", "evals")).toContain("evals/cases.jsonl");
  });

  it("a release of the scaffold passes the gate between PACKAGE and DEPLOY", async () => {
    const p = await release("first", "v1.0.0");
    expect(p.status).toBe("SUCCESS");
    expect([...new Set(p.checkpoints.map((c) => c.stage))]).toEqual([
      "CODE_CHECK",
      "BUILD",
      "PACKAGE",
      "QUALITY_GATE",
      "DEPLOY",
    ]);
    expect(gateOf(p)).toMatchObject({ status: "SUCCESS", output: { verdict: "PASS" } });
    const report = await reportOf(p);
    expect(report).toMatchObject({ verdict: "PASS", tag: "v1.0.0", baseline: null, executor: "sandbox" });
    expect(report.passed).toBe(report.total);
    expect(report.total).toBeGreaterThanOrEqual(5);
    expect(report.unitTests).toMatchObject({ failed: 0, error: null });
    expect(report.unitTests!.ran).toBeGreaterThan(0);
    // The gate's log is the stage log like any other's.
    const logs = await ok<{ lines: { stage: string; text: string }[] }>(
      "GET",
      `/pipelines/${p.id}/logs?stage=QUALITY_GATE&attempt=1`,
    );
    expect(logs.lines.length).toBeGreaterThan(0);
  });

  let blockedIteration = 0;
  it("a commit that drops the greeting and changes an answer is blocked, listing exactly the cases that newly fail", async () => {
    commit("Shorter answers", (file) => {
      file("app/agent.py", (t) =>
        t.replace(GREETING, 'return "Ask me anything."').replace(ANSWER, 'return f"You asked: {message}"'),
      );
      // The unit tests follow the change, so only the evaluation cases see what got worse.
      file("tests/test_app.py", (t) =>
        t
          .replace(
            'self.assertIn("python-agent", Agent().reply("Hello!"))',
            'self.assertIn("Ask", Agent().reply("Hello!"))',
          )
          .replace('"Good question. You asked: Is it up?"', '"You asked: Is it up?"')
          .replace('(200, "Hello!")', '(200, "Ask me")'),
      );
    });
    const p = await release("shorter", "v1.1.0");
    expect(p.status).toBe("FAILED");
    expect(p.currentStage).toBe("QUALITY_GATE");
    expect(p.checkpoints.some((c) => c.stage === "DEPLOY")).toBe(false);
    blockedIteration = p.iterationId;
    const report = await reportOf(p);
    expect(report.verdict).toBe("BLOCK");
    expect(report.baseline).toMatchObject({ tag: "v1.0.0" });
    expect(report.newlyFailing.map((c) => c.id).sort()).toEqual(
      ["answers-a-question", "greets-hello", "greets-hi"].sort(),
    );
    const hello = report.newlyFailing.find((c) => c.id === "greets-hello")!;
    expect(hello).toMatchObject({ input: "Hello!", output: "Ask me anything.", pass: false });
    expect(hello.failed.map((f) => f.type)).toContain("starts-with");
    expect(report.unitTests).toMatchObject({ failed: 0, error: null });
    expect(report.reasons).toContain(
      "3 case(s) passed in v1.0.0 and fail now (at most 0): greets-hello, greets-hi, answers-a-question",
    );
    expect(gateOf(p)!.error).toContain("passed in v1.0.0 and fail now");
  });

  it("the next release is compared with the last RELEASED version, not the blocked one", async () => {
    git(checkout, "revert", "--no-edit", "HEAD");
    git(checkout, "push", "--quiet", "origin", "main");
    const p = await releaseAgain(blockedIteration, "v1.1.1");
    expect(p.status).toBe("SUCCESS");
    const report = await reportOf(p);
    expect(report).toMatchObject({ verdict: "PASS", baseline: { tag: "v1.0.0" } });
    expect(report.newlyFailing).toEqual([]);
    expect(report.newlyPassing).toEqual([]);
  });

  it("a person waives a blocked gate with a reason: DEPLOY runs and the waiver is kept with the report", async () => {
    commit("No greeting", (file) => {
      file("app/agent.py", (t) => t.replace(GREETING, 'return "Ask me anything."'));
      file("tests/test_app.py", (t) =>
        t
          .replace(
            'self.assertIn("python-agent", Agent().reply("Hello!"))',
            'self.assertIn("Ask", Agent().reply("Hello!"))',
          )
          .replace('(200, "Hello!")', '(200, "Ask me")'),
      );
    });
    const blocked = await release("no-greeting", "v1.2.0");
    expect(blocked).toMatchObject({ status: "FAILED", currentStage: "QUALITY_GATE" });
    // No reason, no waiver.
    const bare = await call(platform.gatewayUrl, "POST", `/pipelines/${blocked.id}/proceed`, { token });
    expect(bare.code).not.toBe(0);
    expect(bare.message).toMatch(/reason/);
    await ok("POST", `/pipelines/${blocked.id}/proceed`, {
      reason: "greeting removed on purpose; cases follow",
    });
    const done = await waitPipeline(blocked.id, ended, "the waived release to end");
    expect(done.status).toBe("SUCCESS");
    expect(done.checkpoints.some((c) => c.stage === "DEPLOY" && c.status === "SUCCESS")).toBe(true);
    const report = await eventually(
      async () => {
        const r = await reportOf(done);
        return r.waiver ? r : null;
      },
      "the waiver recorded with the report",
      30_000,
      200,
    );
    expect(report.verdict).toBe("WAIVED");
    expect(report.waiver).toMatchObject({
      by: "quality-lead",
      reason: "greeting removed on purpose; cases follow",
    });
  });

  let brokenIteration = 0;
  it("a case file that does not parse is a configuration error, apart from any score, and cannot be waived", async () => {
    commit("A case with a typo", (file) => {
      file(
        "evals/cases.jsonl",
        (t) => `${t.trimEnd()}\n{"id": "typo", "input": "x", "assert": [{"type": "contains"}]}\n`,
      );
    });
    const p = await release("typo", "v1.3.0");
    expect(p).toMatchObject({ status: "FAILED", currentStage: "QUALITY_GATE" });
    brokenIteration = p.iterationId;
    expect(gateOf(p)!.error).toMatch(/^configuration error/);
    const report = await reportOf(p);
    expect(report.verdict).toBe("CONFIGURATION_ERROR");
    expect(report.problems.join("\n")).toMatch(
      /evals\/cases\.jsonl:\d+: assert\.0\.value: contains needs a text/,
    );
    const waive = await call(platform.gatewayUrl, "POST", `/pipelines/${p.id}/proceed`, {
      token,
      body: { reason: "let it through" },
    });
    expect(waive.code).not.toBe(0);
    expect(waive.message).toMatch(/configuration/i);
  });

  it("a failing unit test blocks", async () => {
    commit("Fix the case; break a test", (file) => {
      file("evals/cases.jsonl", (t) => t.replace(/\n\{"id": "typo".*\n/, "\n"));
      file("tests/test_app.py", (t) => t.replace('"Say something and I will answer."', '"Say nothing."'));
    });
    const p = await releaseAgain(brokenIteration, "v1.3.1");
    expect(p).toMatchObject({ status: "FAILED", currentStage: "QUALITY_GATE" });
    const report = await reportOf(p);
    expect(report.verdict).toBe("BLOCK");
    expect(report.unitTests!.failed).toBeGreaterThan(0);
    expect(report.reasons.join("\n")).toMatch(/unit test/);
    expect(report.newlyFailing).toEqual([]);
  });

  it("lists the history newest first", async () => {
    const history = await ok<{ items: QualityReportItem[] }>("GET", `/apps/${appId}/quality`);
    expect(history.items.map((i) => `${i.tag} ${i.verdict}`)).toEqual([
      "v1.3.1 BLOCK",
      "v1.3.0 CONFIGURATION_ERROR",
      "v1.2.0 WAIVED",
      "v1.1.1 PASS",
      "v1.1.0 BLOCK",
      "v1.0.0 PASS",
    ]);
  });
});
