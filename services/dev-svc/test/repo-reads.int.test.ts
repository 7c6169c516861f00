import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BareRepo, createGitLabEmulator, git, type GitEmulator } from "@procode/git-emulators";
import { signToken } from "@procode/service-kit";
import { createTestInfra, eventually, sql, type TestInfra } from "@procode/test-kit";
import { seed } from "./support/provider-contract.js";
import {
  appSnapshot,
  bearer,
  newAppId,
  newKeys,
  publishAppEvent,
  randomSecret,
  startDevSvc,
  type DevSvc,
} from "./support/dev-svc.js";

const TOKEN = "glpat-reads-0123456789abcdef";
const keys = newKeys();
let infra: TestInfra;
let emu: GitEmulator;
let svc: DevSvc;
let dir: string;
let localRoot: string;
let auth: string;
let ide: http.Server;
let ideUrl: string;

async function get(url: string, authz = auth) {
  const res = await svc.deps.app.inject({ url, headers: { authorization: authz } });
  return { status: res.statusCode, body: res.json() };
}

async function gitlabApp(repoPath: string): Promise<number> {
  const cred = await svc.deps.app.inject({
    method: "POST",
    url: "/credentials",
    headers: { authorization: auth },
    payload: { gitType: "GITLAB", name: "reads", token: TOKEN },
  });
  const appId = newAppId();
  await publishAppEvent(
    svc,
    "created",
    appSnapshot(keys, {
      appId,
      gitType: "GITLAB",
      gitRepoUrl: emu.repoUrl(repoPath),
      credentialId: cred.json().data.id,
      webhookUrl: `http://127.0.0.1:9/webhooks/gitlab/${appId}`,
      webhookSecret: randomSecret(),
    }),
  );
  await eventually(async () => (await get(`/apps/${appId}/repo`)).body.data?.state === "BOUND", "bound");
  return appId;
}

beforeAll(async () => {
  infra = await createTestInfra("dev-reads");
  dir = await mkdtemp(path.join(tmpdir(), "reads-"));
  localRoot = path.join(dir, "local");
  emu = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [TOKEN]: "tester" } });
  await emu.start();
  await seed((await emu.createRepo("acme/agent")).git);
  await seed((await emu.createRepo("acme/never-read")).git);
  await git(null, ["init", "--bare", "--quiet", "--initial-branch=main", path.join(localRoot, "tool.git")]);
  await seed(new BareRepo(path.join(localRoot, "tool.git")));
  ide = http.createServer((_req, res) => res.end("ide"));
  await new Promise<void>((r) => ide.listen(0, "127.0.0.1", r));
  ideUrl = `http://127.0.0.1:${(ide.address() as AddressInfo).port}`;
  svc = await startDevSvc(infra, keys, {
    LOCAL_GIT_ROOT: localRoot,
    REPO_CACHE_TTL_MS: "0",
    WEBIDE_URL_TEMPLATE: `${ideUrl}/#/?repo={cloneUrl}&ref={branch}`,
    WEBIDE_CHECK_TIMEOUT_MS: "300",
    WEBIDE_CHECK_CACHE_MS: "0",
  });
  auth = await bearer(infra);
});

afterAll(async () => {
  await svc?.close();
  await emu?.close();
  await new Promise<void>((r) => (ide?.listening ? ide.close(() => r()) : r()));
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("branches and tags through the read-through cache", () => {
  it("lists branches and tags from the provider, and keeps answering from the cache, flagged stale, with the emulator stopped", async () => {
    const appId = await gitlabApp("acme/agent");
    const branches = await get(`/apps/${appId}/repo/branches`);
    expect(branches.status).toBe(200);
    expect(branches.body.data).toMatchObject({ stale: false, message: null });
    expect(branches.body.data.items).toHaveLength(120);
    expect(branches.body.data.items[0]).toEqual({
      name: "feature/b000",
      commitId: await emu.repo("acme/agent")!.git.resolveCommit("refs/heads/main"),
    });
    const tags = await get(`/apps/${appId}/repo/tags`);
    expect(tags.body.data.items.map((t: { name: string }) => t.name).sort()).toEqual(["v0.1.0", "v0.2.0"]);

    await emu.stop();
    try {
      const started = Date.now();
      const stale = await get(`/apps/${appId}/repo/branches`);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(stale.status).toBe(200);
      expect(stale.body.data).toMatchObject({ stale: true, fetchedAt: branches.body.data.fetchedAt });
      expect(stale.body.data.items).toEqual(branches.body.data.items);
      expect(stale.body.data.message).toMatch(/GITLAB is unavailable.*retry later/);
      const staleTags = await get(`/apps/${appId}/repo/tags`);
      expect(staleTags.body.data).toMatchObject({ stale: true, items: tags.body.data.items });
    } finally {
      await emu.start();
    }
    const fresh = await get(`/apps/${appId}/repo/branches`);
    expect(fresh.body.data.stale).toBe(false);
  });

  it("answers 503 (1006) with a clear message when the provider is down and nothing is cached", async () => {
    const appId = await gitlabApp("acme/never-read");
    emu.faults.goDown();
    try {
      const res = await get(`/apps/${appId}/repo/tags`);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe(1006);
      expect(res.body.message).toMatch(/no cached tags for this app yet/);
    } finally {
      emu.faults.comeBack();
    }
  });

  it("refetches after a push invalidated the cached copy", async () => {
    const appId = await gitlabApp("acme/agent");
    await get(`/apps/${appId}/repo/branches`);
    await sql(infra.databaseUrl, `update dev.ref_cache set invalidated_at = now() where app_id = $1`, [
      appId,
    ]);
    const repo = emu.repo("acme/agent")!.git;
    const main = (await repo.resolveCommit("refs/heads/main"))!;
    await repo.updateRef("refs/heads/zz-new", main, null);
    const res = await get(`/apps/${appId}/repo/branches`);
    expect(res.body.data.items.map((b: { name: string }) => b.name)).toContain("zz-new");
  });

  it("hides another team's app (404, 1004) on every repository route", async () => {
    const appId = await gitlabApp("acme/agent");
    const other = await bearer(infra, "team-b", "bob");
    for (const url of [`/apps/${appId}/repo/branches`, `/apps/${appId}/repo/tags`, `/apps/${appId}/webide`]) {
      const res = await get(url, other);
      expect(res).toEqual({
        status: 404,
        body: { code: 1004, message: `app ${appId} not found`, data: null },
      });
    }
    expect((await get(`/apps/abc/repo/branches`)).body.code).toBe(1001);
  });
});

describe("WebIDE link", () => {
  it("links the repository at a branch in the WebIDE, with the clone URL and branch URL-encoded", async () => {
    const appId = await gitlabApp("acme/agent");
    const res = await get(`/apps/${appId}/webide?branch=feature/b001`);
    const cloneUrl = `${emu.url}/acme/agent.git`;
    expect(res.body.data).toEqual({
      available: true,
      url: `${ideUrl}/#/?repo=${encodeURIComponent(cloneUrl)}&ref=feature%2Fb001`,
      cloneUrl,
      branch: "feature/b001",
      hint: null,
    });
    expect((await get(`/apps/${appId}/webide`)).body.data.branch).toBe("main");
    expect((await get(`/apps/${appId}/webide?branch=bad..name`)).body).toMatchObject({ code: 1001 });
  });

  it("falls back to the clone URL and a local-IDE hint when the WebIDE does not answer", async () => {
    const appId = await gitlabApp("acme/agent");
    await new Promise<void>((r) => ide.close(() => r()));
    const res = await get(`/apps/${appId}/webide?branch=main`);
    expect(res.body.data).toMatchObject({
      available: false,
      url: null,
      cloneUrl: `${emu.url}/acme/agent.git`,
      branch: "main",
    });
    expect(res.body.data.hint).toMatch(/WebIDE is not answering.*use a local IDE: git clone --branch main /);
  });

  it("gives a LOCAL repository's directory as its clone URL", async () => {
    const appId = newAppId();
    await publishAppEvent(
      svc,
      "created",
      appSnapshot(keys, {
        appId,
        gitType: "LOCAL",
        gitRepoUrl: "local://tool",
        webhookUrl: `http://127.0.0.1:9/webhooks/local/${appId}`,
        webhookSecret: randomSecret(),
      }),
    );
    await eventually(async () => (await get(`/apps/${appId}/repo`)).body.data?.state === "BOUND", "bound");
    const res = await get(`/apps/${appId}/webide`);
    expect(res.body.data.cloneUrl).toBe(`file://${path.join(localRoot, "tool.git")}`);
    const branches = await get(`/apps/${appId}/repo/branches`);
    expect(branches.body.data.items).toHaveLength(120);
  });
});

describe("WebIDE not configured", () => {
  it("answers with the clone URL and a hint to use a local IDE", async () => {
    const infra2 = await createTestInfra("dev-reads-noide");
    const bare = await startDevSvc(infra2, keys, { LOCAL_GIT_ROOT: localRoot });
    try {
      const appId = newAppId();
      const token = `Bearer ${await signToken({ sub: "alice", team: "team-a" }, infra2.jwtSecret)}`;
      await publishAppEvent(
        bare,
        "created",
        appSnapshot(keys, {
          appId,
          gitType: "LOCAL",
          gitRepoUrl: "local://tool",
          webhookUrl: `http://127.0.0.1:9/webhooks/local/${appId}`,
          webhookSecret: randomSecret(),
        }),
      );
      await eventually(
        async () =>
          (
            await bare.deps.app.inject({ url: `/apps/${appId}/repo`, headers: { authorization: token } })
          ).json().data,
        "projection",
      );
      const res = await bare.deps.app.inject({
        url: `/apps/${appId}/webide`,
        headers: { authorization: token },
      });
      expect(res.json().data).toMatchObject({ available: false, url: null, branch: "main" });
      expect(res.json().data.hint).toMatch(/no WebIDE is configured; use a local IDE/);
    } finally {
      await bare.close();
      await infra2.cleanup();
    }
  });
});
