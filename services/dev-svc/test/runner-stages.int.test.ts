import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CodeCheckOutput, type StageInputs } from "@procode/contracts";
import { createGitLabEmulator, type GitEmulator } from "@procode/git-emulators";
import { createTestInfra, eventually, expectHandled, sql, TcpProxy, type TestInfra } from "@procode/test-kit";
import { stageConsumerName } from "../src/messaging/consumers/stage-requested.consumer.js";
import { bearer, newKeys, startDevSvc, type DevSvc } from "./support/dev-svc.js";
import { newPipelineId, StageEngine } from "./support/runners/engine.js";
import { OpsModuleProcess } from "./support/runners/ops-module.js";
import { commitFiles, createApp, GOOD_PROJECT, localRepo, tag, type Files } from "./support/runners/repos.js";

const TOKEN = "glpat-runner-token-0123456789";
const REGISTRY = "registry.test/team";
let infra: TestInfra;
let dir: string;
let localRoot: string;
let emu: GitEmulator;
let ops: OpsModuleProcess;
let builderProxy: TcpProxy;
let svc: DevSvc;
let serviceSettings: Record<string, string>;
let engine: StageEngine;
const keys = newKeys();

/** A LOCAL repository with `files` tagged v1.0.0, and a pro-code app bound to it. */
async function localApp(files: Files) {
  const name = `repo-${Math.random().toString(36).slice(2, 10)}`;
  const { repo, commit } = await localRepo(localRoot, name, files);
  const app = await createApp(svc, infra, keys, { gitType: "LOCAL", gitRepoUrl: `local://${name}` });
  return { appId: app.appId, repo, commit: commit!, name };
}

const without = (files: Files, ...paths: string[]) =>
  Object.fromEntries(Object.entries(files).filter(([p]) => !paths.includes(p)));

async function stageRuns(pipelineId: number) {
  return sql<{ stage: string; attempt: number; status: string; runs: number }>(
    infra.databaseUrl,
    `select stage, attempt, status, runs from dev.stage_run where pipeline_id = $1 order by stage, attempt`,
    [pipelineId],
  );
}

/** PACKAGE attempts of this dev-svc waiting for a builder that does not answer (its metric). */
const packageWaiting = async () =>
  (await svc.deps.metrics.registry.getSingleMetric("stage_attempts_waiting")?.get())?.values.find(
    (v) => v.labels["stage"] === "PACKAGE",
  )?.value ?? 0;

beforeAll(async () => {
  infra = await createTestInfra("dev-runners");
  dir = await mkdtemp(path.join(tmpdir(), "runners-"));
  localRoot = path.join(dir, "local");
  emu = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [TOKEN]: "tester" } });
  await emu.start();
  ops = await OpsModuleProcess.start();
  builderProxy = TcpProxy.forUrl(ops.url);
  await builderProxy.start();
  serviceSettings = {
    LOCAL_GIT_ROOT: localRoot,
    BUILDER_URL: builderProxy.url(ops.url),
    BUILD_POLL_MS: "100",
    BUILD_TIMEOUT_MS: "4000",
    BUILDER_CALL_TIMEOUT_MS: "2000",
    IMAGE_REGISTRY: REGISTRY,
    STAGE_LEASE_MS: "3000",
  };
  svc = await startDevSvc(infra, keys, serviceSettings);
  engine = await StageEngine.connect(infra);
}, 60_000);

afterAll(async () => {
  await engine?.close();
  await svc?.close();
  await builderProxy?.stop();
  await ops?.stop();
  await emu?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("CODE_CHECK", () => {
  it("passes a good LOCAL repository with the tag's commit, every check listed", async () => {
    const { appId, commit } = await localApp(GOOD_PROJECT);
    const pipelineId = newPipelineId();
    const result = await engine.run({ pipelineId, stage: "CODE_CHECK", appId });
    expect(result).toMatchObject({ outcome: "SUCCESS", error: null, attempt: 1 });
    const output = CodeCheckOutput.parse(result.output);
    expect(output).toMatchObject({
      commitId: commit,
      dependencyFile: "requirements.txt",
      entryPoint: "app/main.py",
      pythonVersion: "3.11",
    });
    // No evaluation cases: no `evals`, the output it always had.
    expect(output).not.toHaveProperty("evals");
    expect(output.checks.map((c) => [c.name, c.passed])).toEqual([
      ["requirements-txt", true],
      ["dependency-file", true],
      ["entry-point", true],
      ["python-version", true],
      ["python-syntax", true],
    ]);
    expect(output.checks.find((c) => c.name === "python-syntax")!.message).toMatch(
      /^3 Python file\(s\) compile/,
    );
    expect(await stageRuns(pipelineId)).toEqual([
      { stage: "CODE_CHECK", attempt: 1, status: "SUCCESS", runs: 1 },
    ]);
  });

  it("fails on a syntax error, naming the file and the line, not retryable", async () => {
    const { appId } = await localApp({
      ...GOOD_PROJECT,
      "app/tools.py": "import os\n\ndef broken(:\n    pass\n",
    });
    const result = await engine.run({ pipelineId: newPipelineId(), stage: "CODE_CHECK", appId });
    expect(result.outcome).toBe("FAILED");
    expect(result.error).toMatchObject({
      message: expect.stringMatching(
        /^CODE_CHECK failed at [0-9a-f]{12}: python-syntax: invalid syntax \(app\/tools\.py line 3\)$/,
      ),
      retryable: false,
    });
    expect(result.error!.details!["failedChecks"]).toEqual([
      { name: "python-syntax", passed: false, message: "invalid syntax", file: "app/tools.py", line: 3 },
    ]);
    // The checkpoint still shows what was found.
    expect(CodeCheckOutput.parse(result.output).entryPoint).toBe("app/main.py");
  });

  it("fails clearly when there is no dependency file", async () => {
    const { appId } = await localApp(without(GOOD_PROJECT, "requirements.txt"));
    const result = await engine.run({ pipelineId: newPipelineId(), stage: "CODE_CHECK", appId });
    expect(result.outcome).toBe("FAILED");
    expect(result.error!.message).toMatch(
      /dependency-file: no dependency file: add requirements.txt or pyproject.toml at the repository root$/,
    );
    expect(result.error!.retryable).toBe(false);
  });

  it("names the requirements line pip would refuse, and a pyproject.toml that is not TOML", async () => {
    const { appId } = await localApp({
      ...GOOD_PROJECT,
      "requirements.txt": "requests==2.32.3\nflask=3.0\n",
      "pyproject.toml": '[tool.procode]\nentrypoint = "app/main.py"\nbroken = [\n',
    });
    const result = await engine.run({ pipelineId: newPipelineId(), stage: "CODE_CHECK", appId });
    const failed = result.error!.details!["failedChecks"] as { name: string; file: string; line?: number }[];
    expect(failed.map((c) => [c.name, c.file, c.line])).toEqual([
      ["pyproject-toml", "pyproject.toml", 4],
      ["requirements-txt", "requirements.txt", 2],
    ]);
  });

  it("fails (not retryable) when the tag does not exist", async () => {
    const { appId } = await localApp(GOOD_PROJECT);
    const result = await engine.run({
      pipelineId: newPipelineId(),
      stage: "CODE_CHECK",
      appId,
      tag: "v9.9.9",
    });
    expect(result.outcome).toBe("FAILED");
    expect(result.error).toMatchObject({
      message: expect.stringMatching(/^CODE_CHECK: tag v9\.9\.9 does not exist in /),
      details: { call: "resolve tag", tag: "v9.9.9" },
      retryable: false,
    });
  });

  it("resolves the tag at each attempt: moved to a fixed commit, the next attempt checks that commit", async () => {
    const { appId, repo } = await localApp({ ...GOOD_PROJECT, "app/main.py": "def main(:\n" });
    const pipelineId = newPipelineId();
    const first = await engine.run({ pipelineId, stage: "CODE_CHECK", appId, attempt: 1 });
    expect(first.outcome).toBe("FAILED");
    const fixed = await commitFiles(repo, { "app/main.py": GOOD_PROJECT["app/main.py"]! }, "fix");
    await tag(repo, "v1.0.0", fixed);
    const second = await engine.run({ pipelineId, stage: "CODE_CHECK", appId, attempt: 2 });
    expect(second.outcome).toBe("SUCCESS");
    expect(CodeCheckOutput.parse(second.output).commitId).toBe(fixed);
  });

  it("answers a request for a finished attempt with the recorded result, without checking again", async () => {
    const { appId, repo, commit } = await localApp(GOOD_PROJECT);
    const pipelineId = newPipelineId();
    const first = await engine.run({ pipelineId, stage: "CODE_CHECK", appId });
    // Were the work done again, it would find this broken commit.
    await tag(repo, "v1.0.0", await commitFiles(repo, { "app/main.py": "def main(:\n" }, "break"));
    await engine.request({ pipelineId, stage: "CODE_CHECK", appId });
    const results = await waitForCount(pipelineId, "CODE_CHECK", 2);
    expect(results.map((r) => r.data)).toEqual([first, first]);
    expect(CodeCheckOutput.parse(first.output).commitId).toBe(commit);
    expect(await stageRuns(pipelineId)).toEqual([
      { stage: "CODE_CHECK", attempt: 1, status: "SUCCESS", runs: 1 },
    ]);
  });

  it("leaves an attempt running under another runner's live lease alone, and takes it over once the lease runs out", async () => {
    const { appId } = await localApp(GOOD_PROJECT);
    const pipelineId = newPipelineId();
    await sql(
      infra.databaseUrl,
      `insert into dev.stage_run (pipeline_id, stage, attempt, app_id, status, lease_owner, lease_until)
       values ($1, 'CODE_CHECK', 1, $2, 'RUNNING', 'another-replica', now() + interval '1 hour')`,
      [pipelineId, appId],
    );
    const leftAlone = await expectHandled(svc.deps.metrics, stageConsumerName("CODE_CHECK"), "ignored");
    await engine.request({ pipelineId, stage: "CODE_CHECK", appId });
    await leftAlone();
    expect(engine.of(pipelineId, "CODE_CHECK")).toEqual([]);
    expect(await stageRuns(pipelineId)).toEqual([
      { stage: "CODE_CHECK", attempt: 1, status: "RUNNING", runs: 1 },
    ]);
    // That runner died: its lease runs out, and the engine's next re-publish is taken.
    await sql(infra.databaseUrl, `update dev.stage_run set lease_until = now() where pipeline_id = $1`, [
      pipelineId,
    ]);
    await engine.request({ pipelineId, stage: "CODE_CHECK", appId });
    expect((await engine.result(pipelineId, "CODE_CHECK")).outcome).toBe("SUCCESS");
    expect(await stageRuns(pipelineId)).toEqual([
      { stage: "CODE_CHECK", attempt: 1, status: "SUCCESS", runs: 2 },
    ]);
  });

  it("checks a GitLab repository through the GitLab API (emulator), tag resolved to its commit", async () => {
    const stored = await emu.createRepo("acme/agent", {
      files: { ...GOOD_PROJECT, "app/__init__.py": "# package\n" },
    });
    const commit = (await stored.git.resolveCommit("refs/heads/main"))!;
    await stored.git.updateRef("refs/tags/v2.0.0", commit, null);
    const res = await svc.deps.app.inject({
      method: "POST",
      url: "/credentials",
      headers: { authorization: await bearer(infra) },
      payload: { gitType: "GITLAB", name: "ci", token: TOKEN },
    });
    const app = await createApp(svc, infra, keys, {
      gitType: "GITLAB",
      gitRepoUrl: emu.repoUrl("acme/agent"),
      credentialId: res.json().data.id as string,
    });
    const result = await engine.run({
      pipelineId: newPipelineId(),
      stage: "CODE_CHECK",
      appId: app.appId,
      tag: "v2.0.0",
    });
    expect(result.outcome).toBe("SUCCESS");
    expect(CodeCheckOutput.parse(result.output)).toMatchObject({
      commitId: commit,
      entryPoint: "app/main.py",
    });
  });

  it("waits for a git provider that does not answer, says so to the engine, and checks when it answers", async () => {
    const stored = await emu.createRepo("acme/waiting", { files: GOOD_PROJECT });
    const commit = (await stored.git.resolveCommit("refs/heads/main"))!;
    await stored.git.updateRef("refs/tags/v1.0.0", commit, null);
    const gitProxy = TcpProxy.forUrl(new URL(emu.repoUrl("acme/waiting")).origin);
    await gitProxy.start();
    try {
      const res = await svc.deps.app.inject({
        method: "POST",
        url: "/credentials",
        headers: { authorization: await bearer(infra) },
        payload: { gitType: "GITLAB", name: "ci-waiting", token: TOKEN },
      });
      const app = await createApp(svc, infra, keys, {
        gitType: "GITLAB",
        gitRepoUrl: gitProxy.url(emu.repoUrl("acme/waiting")),
        credentialId: res.json().data.id as string,
      });
      const pipelineId = newPipelineId();
      gitProxy.cut();
      try {
        await engine.request({ pipelineId, stage: "CODE_CHECK", appId: app.appId });
        const waiting = await eventually(
          () => engine.waitings.find((w) => w.pipelineId === pipelineId && w.reason !== null),
          "CODE_CHECK reported waiting for the provider",
          30_000,
        );
        expect(waiting).toMatchObject({ stage: "CODE_CHECK", attempt: 1 });
        expect(waiting.reason).toMatch(/git provider does not answer \(resolving tag v1\.0\.0\)/);
        // Past the provider's own call budget (GIT_TIMEOUT_MS 5 s) and the next pause: still no result.
        await eventually(
          () =>
            engine.waitings.filter((w) => w.pipelineId === pipelineId).length === 1 &&
            Date.now() - Date.parse(waiting.at) > 7000,
          "the provider down past its call budget",
          30_000,
          200,
        );
        expect(engine.of(pipelineId, "CODE_CHECK")).toEqual([]);
      } finally {
        gitProxy.restore();
      }
      const result = await engine.result(pipelineId, "CODE_CHECK", 1, 60_000);
      expect(result.outcome, JSON.stringify(result.error)).toBe("SUCCESS");
      expect(result.output).toMatchObject({ commitId: commit });
      await eventually(
        () => engine.waitings.some((w) => w.pipelineId === pipelineId && w.reason === null),
        "CODE_CHECK reported going on",
      );
    } finally {
      await gitProxy.stop();
    }
  }, 120_000);
});

async function waitForCount(
  pipelineId: number,
  stage: "CODE_CHECK" | "BUILD" | "PACKAGE",
  n: number,
  attempt = 1,
) {
  const deadline = Date.now() + 15_000;
  while (engine.of(pipelineId, stage, attempt).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} ${stage} results for pipeline ${pipelineId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return engine.of(pipelineId, stage, attempt);
}

describe("BUILD and PACKAGE", () => {
  /** CODE_CHECK and BUILD of a good repository: the inputs PACKAGE gets. */
  async function checkedAndBuilt() {
    const { appId, commit, name } = await localApp(GOOD_PROJECT);
    const pipelineId = newPipelineId();
    const cc = await engine.run({ pipelineId, stage: "CODE_CHECK", appId });
    const inputs: StageInputs = { CODE_CHECK: CodeCheckOutput.parse(cc.output) };
    const build = await engine.run({ pipelineId, stage: "BUILD", appId, inputs });
    expect(build.outcome).toBe("SUCCESS");
    return {
      appId,
      commit,
      name,
      pipelineId,
      dockerfile: build.output!["dockerfile"] as string,
      inputs: { ...inputs, BUILD: { dockerfile: build.output!["dockerfile"] as string } },
    };
  }

  it("BUILD renders a Dockerfile that parses, pins its base image by tag and runs the entry point", async () => {
    const { dockerfile, commit } = await checkedAndBuilt();
    const parsed = DockerfileParser.parse(dockerfile);
    expect(parsed.getFROMs().map((f) => `${f.getImageName()}:${f.getImageTag()}`)).toEqual([
      "python:3.11-slim",
    ]);
    expect(parsed.getCMDs().map((c) => c.getArgumentsContent())).toEqual(['["python","-m","app.main"]']);
    expect(dockerfile).toContain('io.procode.entrypoint="app/main.py"');
    expect(dockerfile).toContain(commit);
    expect(
      parsed
        .getInstructions()
        .find((i) => i.getKeyword() === "RUN" && /pip install -r requirements\.txt/.test(i.getTextContent())),
    ).toBeDefined();
  });

  it("BUILD without CODE_CHECK's output fails, not retryable", async () => {
    const { appId } = await localApp(GOOD_PROJECT);
    const result = await engine.run({ pipelineId: newPipelineId(), stage: "BUILD", appId });
    expect(result).toMatchObject({
      outcome: "FAILED",
      error: { message: "BUILD needs CODE_CHECK's output (inputs.CODE_CHECK is missing)", retryable: false },
    });
  });

  it("PACKAGE returns the image reference and digest from the reference builder", async () => {
    const { appId, commit, name, pipelineId, inputs, dockerfile } = await checkedAndBuilt();
    const result = await engine.run({ pipelineId, stage: "PACKAGE", appId, inputs });
    expect(result.outcome).toBe("SUCCESS");
    const output = result.output as { image: string; digest: string; buildId: string };
    expect(output.image).toBe(`${REGISTRY}/app-${appId}:v1.0.0`);
    expect(output.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const build = await ops.build(output.buildId);
    expect(build.request).toMatchObject({ appId, commitId: commit, dockerfile, image: output.image });
    expect(name).toMatch(/^repo-/);
  });

  it("a redelivered or re-published request does not build twice", async () => {
    const { appId, pipelineId, inputs } = await checkedAndBuilt();
    const before = await ops.stats();
    // Re-published while the build runs (left to the running attempt), and again after it ended.
    await engine.request({ pipelineId, stage: "PACKAGE", appId, inputs });
    await engine.request({ pipelineId, stage: "PACKAGE", appId, inputs });
    const first = await engine.result(pipelineId, "PACKAGE");
    await engine.request({ pipelineId, stage: "PACKAGE", appId, inputs });
    const results = await waitForCount(pipelineId, "PACKAGE", 2);
    expect(
      results.every(
        (r) => r.data.outcome === "SUCCESS" && r.data.output!["buildId"] === first.output!["buildId"],
      ),
    ).toBe(true);
    const after = await ops.stats();
    expect({ builds: after.builds - before.builds, creates: after.creates - before.creates }).toEqual({
      builds: 1,
      creates: 1,
    });
    expect(await stageRuns(pipelineId)).toContainEqual({
      stage: "PACKAGE",
      attempt: 1,
      status: "SUCCESS",
      runs: 1,
    });
  });

  it("waits for a builder that is down or answers 5xx, longer than the build's timeout, and builds when it answers", async () => {
    const { appId, pipelineId, inputs } = await checkedAndBuilt();
    builderProxy.cut();
    const cutAt = Date.now();
    try {
      await engine.request({ pipelineId, stage: "PACKAGE", appId, inputs, attempt: 1 });
      // Down for longer than the whole build may take (BUILD_TIMEOUT_MS 4 s): the attempt waits.
      await eventually(
        async () => (Date.now() - cutAt > 6000 && (await packageWaiting()) === 1 ? true : null),
        "PACKAGE waiting for the builder past the build's timeout",
        30_000,
      );
      expect(engine.of(pipelineId, "PACKAGE", 1)).toEqual([]);
    } finally {
      builderProxy.restore();
    }
    const first = await engine.result(pipelineId, "PACKAGE", 1, 30_000);
    expect(first.outcome).toBe("SUCCESS");
    expect(await packageWaiting()).toBe(0);

    await ops.outage("5xx", 6000);
    const second = await engine.run({ pipelineId, stage: "PACKAGE", appId, inputs, attempt: 2 }, 30_000);
    expect(second.outcome).toBe("SUCCESS");
    expect(engine.of(pipelineId, "PACKAGE", 2)).toHaveLength(1);
  }, 120_000);

  it("creates a build the builder no longer knows (404 after its restart) again under the same key", async () => {
    const { appId, pipelineId, inputs } = await checkedAndBuilt();
    await ops.nextBuilds(1, { durationMs: 3000 });
    const before = await ops.stats();
    await engine.request({ pipelineId, stage: "PACKAGE", appId, inputs, attempt: 1 });
    await eventually(
      async () => ((await ops.stats()).creates > before.creates ? true : null),
      "build created",
    );
    await ops.reset();
    const result = await engine.result(pipelineId, "PACKAGE", 1, 30_000);
    expect(result.outcome).toBe("SUCCESS");
    const after = await ops.stats();
    expect(after.creates).toBeGreaterThanOrEqual(1);
    expect(after.builds).toBe(1);
  });

  it("a dev-svc that stops mid-PACKAGE, its builder down, gives the attempt back, never fails it; after a restart it is redone", async () => {
    const { appId, pipelineId, inputs } = await checkedAndBuilt();
    // The situation that used to fail a release: the platform stopping while PACKAGE waits on a
    // builder that is down.
    builderProxy.cut();
    try {
      await engine.request({ pipelineId, stage: "PACKAGE", appId, inputs, attempt: 1 });
      await eventually(async () => ((await packageWaiting()) === 1 ? true : null), "PACKAGE waiting");
      // As SIGTERM does (runService calls close()): the kit's stopping signal, then the drain.
      await svc.close();
    } finally {
      builderProxy.restore();
    }
    expect(engine.of(pipelineId, "PACKAGE", 1)).toEqual([]);
    const runs = await sql<{ status: string; leased: boolean }>(
      infra.databaseUrl,
      `select status, coalesce(lease_until > now(), false) as leased from dev.stage_run
        where pipeline_id = $1 and stage = 'PACKAGE'`,
      [pipelineId],
    );
    expect(runs).toEqual([{ status: "RUNNING", leased: false }]);
    svc = await startDevSvc(infra, keys, serviceSettings);
    const result = await engine.result(pipelineId, "PACKAGE", 1, 90_000);
    expect(result, JSON.stringify(result.error)).toMatchObject({ outcome: "SUCCESS" });
    expect(engine.of(pipelineId, "PACKAGE", 1).every((r) => r.data.outcome === "SUCCESS")).toBe(true);
  }, 150_000);

  it("a build that fails or runs too long is a FAILED result naming the build", async () => {
    const { appId, pipelineId, inputs } = await checkedAndBuilt();
    await ops.nextBuilds(1, { outcome: "FAILED", durationMs: 200 });
    const failed = await engine.run({ pipelineId, stage: "PACKAGE", appId, inputs, attempt: 1 });
    expect(failed.error).toMatchObject({
      message: expect.stringMatching(/^PACKAGE: build build-[0-9a-f]+ ended FAILED: docker build failed/),
      details: { failure: "build_failed" },
    });
    await ops.nextBuilds(1, { durationMs: 60_000 });
    const slow = await engine.run({ pipelineId, stage: "PACKAGE", appId, inputs, attempt: 2 });
    expect(slow.error).toMatchObject({
      message: expect.stringMatching(/did not finish within 4000 ms \(last status PENDING\)$/),
      details: { failure: "timeout" },
      retryable: true,
    });
  });
});
