import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BareRepo, createGitLabEmulator, git, type GitEmulator } from "@procode/git-emulators";
import { createTestInfra, eventually, expectHandled, sql, type TestInfra } from "@procode/test-kit";
import { seed } from "./support/provider-contract.js";
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

const TOKEN = "glpat-binding-token-0123456789";
let infra: TestInfra;
let emu: GitEmulator;
let svc: DevSvc;
let dir: string;
let localRoot: string;
let auth: string;
const keys = newKeys();

async function repoOf(appId: number, authz = auth) {
  const res = await svc.deps.app.inject({ url: `/apps/${appId}/repo`, headers: { authorization: authz } });
  return { status: res.statusCode, body: res.json() };
}

async function boundState(appId: number, state: string) {
  return eventually(async () => {
    const r = await repoOf(appId);
    return r.body.data?.state === state ? r.body.data : null;
  }, `app ${appId} in state ${state}`);
}

async function createCredential(token = TOKEN, team = "team-a"): Promise<string> {
  const res = await svc.deps.app.inject({
    method: "POST",
    url: "/credentials",
    headers: { authorization: await bearer(infra, team) },
    payload: { gitType: "GITLAB", name: "ci", token },
  });
  expect(res.statusCode).toBe(200);
  return res.json().data.id as string;
}

function gitlabApp(repoPath: string, over: Partial<AppSpec> = {}): AppSpec {
  const appId = over.appId ?? newAppId();
  return {
    appId,
    gitType: "GITLAB",
    gitRepoUrl: emu.repoUrl(repoPath),
    webhookUrl: `http://127.0.0.1:9/webhooks/gitlab/${appId}`,
    webhookSecret: randomSecret(),
    ...over,
  };
}

beforeAll(async () => {
  infra = await createTestInfra("dev-binding");
  dir = await mkdtemp(path.join(tmpdir(), "binding-"));
  localRoot = path.join(dir, "local");
  emu = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [TOKEN]: "tester" } });
  await emu.start();
  for (const name of ["acme/one", "acme/two", "acme/three", "acme/four", "acme/five"]) {
    await seed((await emu.createRepo(name)).git);
  }
  await git(null, ["init", "--bare", "--quiet", "--initial-branch=main", path.join(localRoot, "svc.git")]);
  await seed(new BareRepo(path.join(localRoot, "svc.git")));
  svc = await startDevSvc(infra, keys, { LOCAL_GIT_ROOT: localRoot });
  auth = await bearer(infra);
});

afterAll(async () => {
  await svc?.close();
  await emu?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("repository binding from app-svc's events", () => {
  it("binds a GitLab repository: git_repo row, webhook installed with the app's secret, BOUND", async () => {
    const credentialId = await createCredential();
    const spec = gitlabApp("acme/one", { credentialId });
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    const bound = await boundState(spec.appId, "BOUND");
    expect(bound).toMatchObject({
      appId: spec.appId,
      externalGitUrl: spec.gitRepoUrl,
      gitType: "GITLAB",
      credentialId,
      webhookUrl: spec.webhookUrl,
      lastError: null,
      scaffold: { state: "NOT_REQUESTED", message: null },
    });
    const hooks = emu.repo("acme/one")!.meta.hooks;
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({
      url: spec.webhookUrl,
      secret: spec.webhookSecret,
      pushEvents: true,
      tagPushEvents: true,
    });
    expect(bound.webhookId).toBe(String(hooks[0]!.id));
    const rows = await sql<{ app_id: string; default_branch: string; is_empty: boolean }>(
      infra.databaseUrl,
      `select app_id, default_branch, is_empty from dev.git_repo where app_id = $1`,
      [spec.appId],
    );
    expect(rows).toEqual([{ app_id: String(spec.appId), default_branch: "main", is_empty: false }]);
  });

  it("waits in NEEDS_CREDENTIAL without a credential (or with a rejected token), and binds once a good one is set", async () => {
    const spec = gitlabApp("acme/two", { credentialId: null });
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    const waiting = await boundState(spec.appId, "NEEDS_CREDENTIAL");
    expect(waiting.lastError).toMatch(/needs a credential.*POST \/credentials/);

    const wrong = await createCredential("not-the-token-123");
    await publishAppEvent(svc, "changed", appSnapshot(keys, { ...spec, credentialId: wrong, revision: 2 }));
    await eventually(
      async () => (await repoOf(spec.appId)).body.data.lastError?.includes("401"),
      "the 401 recorded",
    );
    expect((await repoOf(spec.appId)).body.data.state).toBe("NEEDS_CREDENTIAL");

    const good = await createCredential();
    await publishAppEvent(svc, "changed", appSnapshot(keys, { ...spec, credentialId: good, revision: 3 }));
    await boundState(spec.appId, "BOUND");
    expect(emu.repo("acme/two")!.meta.hooks).toHaveLength(1);
  });

  it("keeps retrying in the background while the provider is down, showing the error, and binds when it is back", async () => {
    const credentialId = await createCredential();
    const spec = gitlabApp("acme/three", { credentialId });
    emu.faults.failNext(1000, 503, { pathPattern: "acme%2Fthree" });
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    const failing = await eventually(async () => {
      const d = (await repoOf(spec.appId)).body.data;
      return d?.state === "ERROR" ? d : null;
    }, "ERROR state");
    expect(failing.lastError).toMatch(/GitLab answered 503/);
    const attempts = await eventually(async () => {
      const r = await sql<{ attempts: number }>(
        infra.databaseUrl,
        `select attempts from dev.git_repo where app_id = $1`,
        [spec.appId],
      );
      return r[0]!.attempts >= 2 ? r[0]!.attempts : null;
    }, "a second attempt");
    expect(attempts).toBeGreaterThanOrEqual(2);
    emu.faults.reset();
    await boundState(spec.appId, "BOUND");
  });

  it("applies only newer revisions, whatever order the events arrive in", async () => {
    const credentialId = await createCredential();
    const appId = newAppId();
    const newer = gitlabApp("acme/four", { appId, credentialId, revision: 2 });
    const older = gitlabApp("acme/five", { appId, credentialId, revision: 1 });
    await publishAppEvent(svc, "changed", appSnapshot(keys, newer));
    await boundState(appId, "BOUND");
    const staleSkipped = await expectHandled(svc.deps.metrics, "dev-svc-app-created", "ignored");
    await publishAppEvent(svc, "created", appSnapshot(keys, older));
    await staleSkipped();
    const rows = await sql<{ revision: number }>(
      infra.databaseUrl,
      `select revision from dev.app_projection where app_id = $1`,
      [appId],
    );
    expect(rows[0]!.revision).toBe(2);
    expect((await repoOf(appId)).body.data.externalGitUrl).toBe(newer.gitRepoUrl);
    expect(emu.repo("acme/five")!.meta.hooks).toHaveLength(0);
  });

  it("moves the webhook when the repository changes: removed from the old one, installed on the new one", async () => {
    const credentialId = await createCredential();
    const appId = newAppId();
    const first = gitlabApp("acme/four", {
      appId,
      credentialId,
      webhookUrl: `http://127.0.0.1:9/webhooks/gitlab/${appId}`,
    });
    await publishAppEvent(svc, "created", appSnapshot(keys, first));
    await boundState(appId, "BOUND");
    expect(emu.repo("acme/four")!.meta.hooks.filter((h) => h.url === first.webhookUrl)).toHaveLength(1);
    const moved = { ...first, gitRepoUrl: emu.repoUrl("acme/five"), revision: 2 };
    await publishAppEvent(svc, "changed", appSnapshot(keys, moved));
    await eventually(
      async () => emu.repo("acme/five")!.meta.hooks.some((h) => h.url === first.webhookUrl),
      "hook on the new repository",
    );
    await eventually(
      async () => !emu.repo("acme/four")!.meta.hooks.some((h) => h.url === first.webhookUrl),
      "hook gone from the old repository",
    );
    // The binder records BOUND after its calls to the provider, so the row may lag the hooks a moment.
    expect(await boundState(appId, "BOUND")).toMatchObject({ externalGitUrl: moved.gitRepoUrl });
  });

  it("binds a LOCAL repository by installing its post-receive hook, no credential needed", async () => {
    const appId = newAppId();
    const secret = randomSecret();
    const spec: AppSpec = {
      appId,
      gitType: "LOCAL",
      gitRepoUrl: "local://svc",
      webhookUrl: `http://127.0.0.1:9/webhooks/local/${appId}`,
      webhookSecret: secret,
    };
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    await boundState(appId, "BOUND");
    const hooksDir = path.join(localRoot, "svc.git", "procode-hooks");
    const files = await readdir(hooksDir);
    expect(files).toHaveLength(1);
    expect(JSON.parse(await readFile(path.join(hooksDir, files[0]!), "utf8"))).toMatchObject({
      url: spec.webhookUrl,
      secret,
    });
    expect(await readFile(path.join(localRoot, "svc.git", "hooks", "post-receive"), "utf8")).toMatch(
      /procode-post-receive/,
    );
  });

  it("answers 404 (1004) for another team's app and 409 (1005) for a low-code app", async () => {
    const credentialId = await createCredential();
    const spec = gitlabApp("acme/one", { credentialId, appId: newAppId() });
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    await boundState(spec.appId, "BOUND");
    const other = await repoOf(spec.appId, await bearer(infra, "team-b", "bob"));
    expect(other).toEqual({
      status: 404,
      body: { code: 1004, message: `app ${spec.appId} not found`, data: null },
    });
    const unknown = await repoOf(987654321);
    expect(unknown.body.code).toBe(1004);
    const low = { ...gitlabApp("acme/one"), devMode: "low-code" as const };
    await publishAppEvent(svc, "created", appSnapshot(keys, low));
    await eventually(async () => (await repoOf(low.appId)).status === 409, "low-code app visible");
    expect((await repoOf(low.appId)).body.code).toBe(1005);
  });

  it("finishes a binding that was due when the service stopped, after it starts again", async () => {
    const credentialId = await createCredential();
    const spec = gitlabApp("acme/two", {
      credentialId,
      webhookUrl: `http://127.0.0.1:9/webhooks/gitlab/restart`,
    });
    emu.faults.failNext(1000, 502, { pathPattern: "acme%2Ftwo" });
    await publishAppEvent(svc, "created", appSnapshot(keys, spec));
    await eventually(
      async () => (await repoOf(spec.appId)).body.data?.state === "ERROR",
      "ERROR before the restart",
    );
    await svc.close();
    emu.faults.reset();
    svc = await startDevSvc(infra, keys, { LOCAL_GIT_ROOT: localRoot });
    await boundState(spec.appId, "BOUND");
  });
});
