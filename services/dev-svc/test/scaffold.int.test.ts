import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DockerfileParser } from "dockerfile-ast";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CodeCheckOutput } from "@procode/contracts";
import { type BareRepo, createGitLabEmulator, git, type GitEmulator } from "@procode/git-emulators";
import { createTestInfra, eventually, sql, type TestInfra } from "@procode/test-kit";
import { resolveTemplatesDir, TemplateCatalog, type ScaffoldTemplate } from "../src/scaffold/templates.js";
import {
  appSnapshot,
  bearer,
  newAppId,
  newKeys,
  publishAppEvent,
  randomSecret,
  startDevSvc,
  type AppSpec,
  type DevSvc,
} from "./support/dev-svc.js";
import { newPipelineId, StageEngine } from "./support/runners/engine.js";
import { createApp, GOOD_PROJECT, localRepo, repoBinding, tag } from "./support/runners/repos.js";

const TOKEN = "glpat-scaffold-token-0123456789";
let infra: TestInfra;
let dir: string;
let localRoot: string;
let emu: GitEmulator;
let svc: DevSvc;
let engine: StageEngine;
let template: ScaffoldTemplate;
let credentialId: string;
const keys = newKeys();

const uniqueName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function commitCount(repo: BareRepo, branch = "main"): Promise<number> {
  return Number((await repo.run(["rev-list", "--count", branch])).toString("utf8").trim());
}

/** Every file on a branch with its content. */
async function filesOn(repo: BareRepo, branch = "main"): Promise<Record<string, string>> {
  const names = (await repo.run(["ls-tree", "-r", "--name-only", branch]))
    .toString("utf8")
    .split("\n")
    .filter(Boolean);
  const out: Record<string, string> = {};
  for (const n of names) out[n] = (await repo.run(["show", `${branch}:${n}`])).toString("utf8");
  return out;
}

const templateFiles = () =>
  Object.fromEntries(template.files.map((f) => [f.path, f.content.toString("utf8")]));

/** A scaffolded repository released as it is: CODE_CHECK then BUILD on its first commit. */
async function checkAndBuild(appId: number, repoTag: string) {
  const pipelineId = newPipelineId();
  const cc = await engine.run({ pipelineId, stage: "CODE_CHECK", appId, tag: repoTag });
  expect(cc.error).toBeNull();
  const codeCheck = CodeCheckOutput.parse(cc.output);
  const build = await engine.run({
    pipelineId,
    stage: "BUILD",
    appId,
    tag: repoTag,
    inputs: { CODE_CHECK: codeCheck },
  });
  expect(build.error).toBeNull();
  return { codeCheck, dockerfile: build.output!["dockerfile"] as string };
}

beforeAll(async () => {
  infra = await createTestInfra("dev-scaffold");
  dir = await mkdtemp(path.join(tmpdir(), "scaffold-"));
  localRoot = path.join(dir, "local");
  emu = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [TOKEN]: "tester" } });
  await emu.start();
  svc = await startDevSvc(infra, keys, { LOCAL_GIT_ROOT: localRoot });
  engine = await StageEngine.connect(infra);
  template = (await TemplateCatalog.load(resolveTemplatesDir(undefined))).get("python-agent")!;
  const res = await svc.deps.app.inject({
    method: "POST",
    url: "/credentials",
    headers: { authorization: await bearer(infra) },
    payload: { gitType: "GITLAB", name: "ci", token: TOKEN },
  });
  credentialId = res.json().data.id as string;
}, 60_000);

afterAll(async () => {
  await engine?.close();
  await svc?.close();
  await emu?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** A pro-code app on LOCAL repository `name` with the python-agent template, once the scaffold settled. */
const scaffoldLocalApp = (name: string) =>
  createApp(
    svc,
    infra,
    keys,
    { gitType: "LOCAL", gitRepoUrl: `local://${name}`, scaffoldTemplate: "python-agent" },
    { waitFor: (b) => b.state === "BOUND" && b.scaffold.state !== "PENDING" },
  );

describe("the python-agent template", () => {
  it("holds a small HTTP agent with its dependency file, entry point, README, /healthz, tests and a starter evaluation set", () => {
    const files = templateFiles();
    expect(Object.keys(files).sort()).toEqual(
      [
        ".gitignore",
        ".python-version",
        "README.md",
        "app/__init__.py",
        "app/agent.py",
        "app/main.py",
        "evals/cases.jsonl",
        "evals/gate.json",
        "requirements.txt",
        "tests/__init__.py",
        "tests/test_app.py",
      ].sort(),
    );
    expect(files["app/main.py"]).toContain('"/healthz"');
    expect(template.dockerfileTemplate).toContain("{{START}}");
  });
});

describe("scaffold push on binding", () => {
  it("commits the template as the first commit of an empty LOCAL repository, which then passes CODE_CHECK and BUILD unchanged, and whose own tests pass", async () => {
    const name = uniqueName("empty");
    const { repo } = await localRepo(localRoot, name);
    const app = await createApp(
      svc,
      infra,
      keys,
      { gitType: "LOCAL", gitRepoUrl: `local://${name}`, scaffoldTemplate: "python-agent" },
      { waitFor: (b) => b.state === "BOUND" && b.scaffold.state === "PUSHED" },
    );
    const binding = (await repoBinding(svc, infra, app.appId))!;
    expect(binding.scaffold.message).toMatch(
      /^the python-agent template was committed to main as [0-9a-f]{12} \(11 files\)$/,
    );
    expect(await commitCount(repo)).toBe(1);
    expect(await filesOn(repo)).toEqual(templateFiles());
    const first = (await repo.resolveCommit("refs/heads/main"))!;

    await tag(repo, "v0.1.0", first);
    const { codeCheck, dockerfile } = await checkAndBuild(app.appId, "v0.1.0");
    expect(codeCheck).toMatchObject({
      commitId: first,
      dependencyFile: "requirements.txt",
      entryPoint: "app/main.py",
      pythonVersion: "3.12",
    });
    expect(codeCheck.checks.every((c) => c.passed)).toBe(true);
    const parsed = DockerfileParser.parse(dockerfile);
    expect(parsed.getFROMs().map((f) => `${f.getImageName()}:${f.getImageTag()}`)).toEqual([
      "python:3.12-slim",
    ]);
    expect(parsed.getCMDs().map((c) => c.getArgumentsContent())).toEqual(['["python","-m","app.main"]']);

    // What was pushed works: a checkout's own tests pass.
    const checkout = path.join(dir, `${name}-checkout`);
    await git(null, ["clone", "--quiet", repo.gitDir, checkout]);
    const { stderr } = await promisify(execFile)(
      "python3",
      ["-m", "unittest", "discover", "-s", "tests", "-t", "."],
      {
        cwd: checkout,
        timeout: 30_000,
      },
    );
    expect(stderr).toMatch(/Ran 9 tests[\s\S]*\nOK\s*$/);
    expect(await readFile(path.join(checkout, "README.md"), "utf8")).toContain("/healthz");

    // A re-bind (another webhook URL) does not commit again.
    await publishAppEvent(
      svc,
      "changed",
      appSnapshot(keys, {
        ...app,
        revision: 2,
        webhookUrl: `http://127.0.0.1:9/webhooks/local/${app.appId}/v2`,
      }),
    );
    await eventually(async () => {
      const b = await repoBinding(svc, infra, app.appId);
      return b?.state === "BOUND" && (await bindingGeneration(app.appId)) === 2;
    }, "the binding redone");
    expect(await commitCount(repo)).toBe(1);
    expect((await repoBinding(svc, infra, app.appId))!.scaffold.state).toBe("PUSHED");
  });

  it("commits the template to an empty GitLab repository (emulator); the result passes CODE_CHECK and BUILD unchanged", async () => {
    const stored = await emu.createRepo(`acme/${uniqueName("agent")}`);
    const app = await createApp(
      svc,
      infra,
      keys,
      {
        gitType: "GITLAB",
        gitRepoUrl: emu.repoUrl(stored.path),
        credentialId,
        scaffoldTemplate: "python-agent",
      },
      { waitFor: (b) => b.state === "BOUND" && b.scaffold.state === "PUSHED" },
    );
    expect(await commitCount(stored.git)).toBe(1);
    expect(await filesOn(stored.git)).toEqual(templateFiles());
    const first = (await stored.git.resolveCommit("refs/heads/main"))!;
    await stored.git.updateRef("refs/tags/v1.0.0", first, null);
    const { codeCheck, dockerfile } = await checkAndBuild(app.appId, "v1.0.0");
    expect(codeCheck.commitId).toBe(first);
    expect(dockerfile).toContain('io.procode.entrypoint="app/main.py"');
  });

  it("leaves a repository with commits untouched and says so", async () => {
    const name = uniqueName("busy");
    const { repo, commit } = await localRepo(localRoot, name, GOOD_PROJECT);
    const app = await scaffoldLocalApp(name);
    expect((await repoBinding(svc, infra, app.appId))!.scaffold).toEqual({
      state: "SKIPPED_NOT_EMPTY",
      message: "the repository already has commits on main; the python-agent template was not pushed",
    });
    expect(await repo.resolveCommit("refs/heads/main")).toBe(commit);
    expect(await commitCount(repo)).toBe(1);
  });

  it("counts a repository that already holds exactly the template (an earlier push whose answer was lost) as pushed, without a second commit", async () => {
    const name = uniqueName("again");
    const { repo } = await localRepo(localRoot, name, templateFiles());
    const app = await scaffoldLocalApp(name);
    expect((await repoBinding(svc, infra, app.appId))!.scaffold).toEqual({
      state: "PUSHED",
      message: "the python-agent template is already on main",
    });
    expect(await commitCount(repo)).toBe(1);
  });

  it("shows a failed push (FAILED and why, binding ERROR) and retries it with the binding until it lands", async () => {
    const stored = await emu.createRepo(`acme/${uniqueName("flaky")}`);
    emu.faults.failNext(100_000, 500, {
      pathPattern: `${encodeURIComponent(stored.path)}/repository/commits`,
    });
    const spec: AppSpec = {
      appId: newAppId(),
      gitType: "GITLAB",
      gitRepoUrl: emu.repoUrl(stored.path),
      credentialId,
      scaffoldTemplate: "python-agent",
      webhookUrl: "http://127.0.0.1:9/webhooks/gitlab/flaky",
      webhookSecret: randomSecret(),
    };
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    let failed;
    try {
      failed = await eventually(async () => {
        const b = await repoBinding(svc, infra, spec.appId);
        return b?.scaffold.state === "FAILED" && b.state === "ERROR" ? b : null;
      }, "the scaffold push failing");
    } finally {
      emu.faults.reset();
    }
    expect(failed.scaffold.message).toMatch(
      /^scaffold push of the python-agent template failed: .*GitLab.*500/,
    );
    expect(failed.lastError).toBe(failed.scaffold.message);
    await eventually(
      async () => {
        const b = await repoBinding(svc, infra, spec.appId);
        return b?.state === "BOUND" && b.scaffold.state === "PUSHED";
      },
      "the push retried and landed",
      15_000,
    );
    expect(await commitCount(stored.git)).toBe(1);
  });
});

async function bindingGeneration(appId: number): Promise<number> {
  const rows = await sql<{ generation: number }>(
    infra.databaseUrl,
    `select generation from dev.git_repo where app_id = $1`,
    [appId],
  );
  return rows[0]?.generation ?? 0;
}
