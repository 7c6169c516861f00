import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  createGiteeEmulator,
  createGitHubEmulator,
  createGitLabEmulator,
  type EmulatorOptions,
  type GitEmulator,
} from "@procode/git-emulators";
import type { GitType } from "@procode/contracts";
import type { CallPolicy } from "../../src/integrations/git/call-policy.js";
import { createProviderFactory } from "../../src/integrations/git/factory.js";
import { createGuardedHttp, type GuardedHttp } from "../../src/integrations/git/http.js";
import { expectGitError, providerContract, seed } from "./provider-contract.js";
import { readStatuses } from "./status-readers.js";

export const TEST_POLICY: CallPolicy = { timeoutMs: 5000, maxRetries: 3, retryBaseMs: 20 };
const TOKEN = "glpat-contract-token-1234567890";

const makers: Record<string, (o: EmulatorOptions) => GitEmulator> = {
  GITLAB: createGitLabEmulator,
  GITHUB: createGitHubEmulator,
  GITEE: createGiteeEmulator,
};

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

/**
 * The adapter of `gitType` against its emulator through the real client library: the provider
 * contract, then the call policy (retries, no retry on 4xx, timeout, outage), auth errors and the
 * SSRF guard.
 */
export function remoteProviderSuite(gitType: Exclude<GitType, "LOCAL">, label: string): void {
  let dir: string;
  let emu: GitEmulator;
  let http: GuardedHttp;
  let emptyCount = 0;
  const factory = (policy: CallPolicy = TEST_POLICY, fetchFn = () => http.fetch) =>
    createProviderFactory({ policy, fetch: fetchFn(), localRoot: undefined, localHookTimeoutMs: 1000 });
  const provider = (repoPath = "acme/agent", token: string | null = TOKEN, policy?: CallPolicy) =>
    factory(policy)({ gitType, repoUrl: emu.repoUrl(repoPath), team: "t", token });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), `emu-${gitType.toLowerCase()}-`));
    emu = makers[gitType]!({ dataDir: dir, tokens: { [TOKEN]: "tester" } });
    await emu.start();
    http = createGuardedHttp({ allowHttp: true, allowHosts: ["127.0.0.1"] });
    const repo = await emu.createRepo("acme/agent");
    await seed(repo.git);
    await emu.createRepo("acme/private-one");
  });

  afterAll(async () => {
    await http?.close();
    await emu?.close();
    await rm(dir, { recursive: true, force: true });
  });

  providerContract(label, () => ({
    seeded: () => provider(),
    seededRepo: () => emu.repo("acme/agent")!.git,
    empty: async () => {
      const repoPath = `acme/empty-${++emptyCount}`;
      const repo = await emu.createRepo(repoPath);
      return { provider: provider(repoPath), repo: repo.git };
    },
    hooks: async () =>
      emu.repo("acme/agent")!.meta.hooks.map((h) => ({ id: String(h.id), url: h.url, secret: h.secret })),
  }));

  const commitsPath = /\/commits\/main$/;

  it(`${label}: retries a 503 and succeeds on the third attempt (3 requests)`, async () => {
    emu.clearRequests();
    emu.faults.failNext(2, 503, { pathPattern: "/commits/" });
    expect(await provider().resolveRef("main")).toMatch(/^[0-9a-f]{40}$/);
    expect(emu.requestsTo(commitsPath).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it(`${label}: gives up after 3 retries (4 requests) with 1006, saying how many attempts`, async () => {
    emu.clearRequests();
    emu.faults.failNext(10, 502, { pathPattern: "/commits/" });
    const err = expectGitError(await failure(provider().resolveRef("main")), "unavailable", 1006);
    expect(err.message).toMatch(/after 4 attempts/);
    expect(emu.requestsTo(commitsPath)).toHaveLength(4);
    emu.faults.reset();
  });

  it(`${label}: retries a 429`, async () => {
    emu.clearRequests();
    emu.faults.failNext(1, 429, { pathPattern: "/commits/" });
    await provider().resolveRef("main");
    expect(emu.requestsTo(commitsPath).map((r) => r.status)).toEqual([429, 200]);
  });

  it(`${label}: never retries another 4xx (400, 403, 404): one request each`, async () => {
    for (const [status, failureName, code] of [
      [400, "rejected", 1007],
      [403, "unauthorized", 1007],
      [404, "ref_not_found", 1008],
    ] as const) {
      emu.clearRequests();
      emu.faults.failNext(3, status, { pathPattern: "/commits/" });
      expectGitError(await failure(provider().resolveRef("main")), failureName, code);
      expect(emu.requestsTo(commitsPath)).toHaveLength(1);
      emu.faults.reset();
    }
  });

  it(`${label}: a provider slower than the budget fails with 1006 within the budget`, async () => {
    // The provider answers only after 4 s: giving up well before that proves the budget holds,
    // with room for a loaded machine (the exact figure is not the point).
    emu.faults.setLatency(4000);
    const started = Date.now();
    const err = expectGitError(
      await failure(provider("acme/agent", TOKEN, { ...TEST_POLICY, timeoutMs: 400 }).resolveRef("main")),
      "timeout",
      1006,
    );
    const elapsed = Date.now() - started;
    emu.faults.reset();
    expect(err.message).toMatch(/did not answer within 400 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(3000);
  });

  it(`${label}: a provider that drops every connection is 1006 after the retries, and works when back`, async () => {
    emu.faults.goDown();
    emu.clearRequests();
    const err = expectGitError(await failure(provider().listTags()), "unavailable", 1006);
    expect(err.message).toMatch(/unreachable|after 4 attempts/);
    emu.faults.comeBack();
    expect((await provider().listTags()).length).toBeGreaterThanOrEqual(2);
  });

  it(`${label}: a wrong token is 1007 and the token never appears in the error`, async () => {
    const wrong = "wrong-token-abcdef123456";
    const err = expectGitError(
      await failure(provider("acme/agent", wrong).listBranches()),
      "unauthorized",
      1007,
    );
    expect(`${err.message} ${JSON.stringify(err.data)}`).not.toContain(wrong);
    expect(err.message).toMatch(/credential/);
  });

  it(`${label}: sets a commit status through its client in the provider's words; the provider lists the newest per context`, async () => {
    const sha = (await emu.repo("acme/agent")!.git.resolveCommit("refs/heads/main"))!;
    const p = provider();
    const status = (state: "pending" | "running" | "success" | "failed", description: string) => ({
      state,
      context: "procode/CODE_CHECK",
      description,
      targetUrl: "http://console.example/pipelines/7?stage=CODE_CHECK",
    });
    await p.setCommitStatus(sha, status("pending", "waiting to run"));
    await p.setCommitStatus(sha, status("running", "CODE_CHECK running"));
    // The same state again (an answer lost, the push repeated) is success, on GitLab too.
    await p.setCommitStatus(sha, status("running", "CODE_CHECK running"));
    await p.setCommitStatus(sha, { ...status("success", "BUILD passed"), context: "procode/BUILD" });
    await p.setCommitStatus(sha, status("failed", "syntax error in main.py line 3"));
    const read = await readStatuses(gitType, emu, "acme/agent", sha, TOKEN);
    expect(read.statuses).toEqual([
      {
        context: "procode/CODE_CHECK",
        state: gitType === "GITLAB" ? "failed" : "failure",
        description: "syntax error in main.py line 3",
        targetUrl: "http://console.example/pipelines/7?stage=CODE_CHECK",
      },
      {
        context: "procode/BUILD",
        state: "success",
        description: "BUILD passed",
        targetUrl: "http://console.example/pipelines/7?stage=CODE_CHECK",
      },
    ]);
    if (gitType !== "GITLAB") expect(read.combined).toBe("failure");
    // GitLab moved one status through its states; GitHub and Gitee keep each one set.
    expect(emu.statuses("acme/agent", sha)).toHaveLength(gitType === "GITLAB" ? 2 : 5);
  });

  it(`${label}: a status on a commit the repository does not have, or with a refused token, fails at once`, async () => {
    emu.clearRequests();
    const spec = { state: "pending" as const, context: "procode/BUILD", description: "x", targetUrl: null };
    expectGitError(await failure(provider().setCommitStatus("0".repeat(40), spec)), "ref_not_found", 1008);
    const sha = (await emu.repo("acme/agent")!.git.resolveCommit("refs/heads/main"))!;
    expectGitError(
      await failure(provider("acme/agent", "wrong-token-abcdef123456").setCommitStatus(sha, spec)),
      "unauthorized",
      1007,
    );
    expect(emu.requestsTo(/\/statuses\//)).toHaveLength(2);
  });

  it(`${label}: a private repository without a token is not found (1003)`, async () => {
    expectGitError(await failure(provider("acme/private-one", null).probe()), "repo_not_found", 1003);
  });

  it(`${label}: refuses http and private addresses unless allowed, before any request`, async () => {
    emu.clearRequests();
    const strict = createGuardedHttp({ allowHttp: false, allowHosts: [] });
    const httpOnly = createGuardedHttp({ allowHttp: true, allowHosts: [] });
    try {
      const a = factory(
        TEST_POLICY,
        () => strict.fetch,
      )({ gitType, repoUrl: emu.repoUrl("acme/agent"), team: "t", token: TOKEN });
      expectGitError(await failure(a.probe()), "not_allowed", 1003);
      const b = factory(
        TEST_POLICY,
        () => httpOnly.fetch,
      )({ gitType, repoUrl: emu.repoUrl("acme/agent"), team: "t", token: TOKEN });
      const err = expectGitError(await failure(b.probe()), "not_allowed", 1003);
      expect(err.message).toMatch(/private|loopback/);
      expect(emu.requests).toHaveLength(0);
    } finally {
      await strict.close();
      await httpOnly.close();
    }
  });
}
