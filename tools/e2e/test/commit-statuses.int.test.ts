import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Iteration, Pipeline, ReleaseResponse, RepoBinding } from "@procode/contracts";
import {
  createGiteeEmulator,
  createGitHubEmulator,
  createGitLabEmulator,
  type GitEmulator,
} from "@procode/git-emulators";
import { signToken } from "@procode/service-kit";
import { ok as okAt } from "./support/client.js";
import {
  createTestInfra,
  eventually,
  sql,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";

/**
 * Commit statuses of releases on GitLab, GitHub and Gitee, over the whole platform (every process
 * real, every call through the gateway) against the providers' emulators: each stage's context on
 * the released commit goes pending -> success, a CODE_CHECK that fails shows failed with its error,
 * a provider that is down for a while gets the statuses afterwards in their final state, and a
 * token the provider refuses is recorded, not retried.
 */

const TOKEN = "procode-status-token-0123456789";
const STAGES = ["CODE_CHECK", "BUILD", "PACKAGE", "DEPLOY"] as const;
const GOOD = { "requirements.txt": "# no dependencies\n", "main.py": "print('hello')\n" };
const BROKEN = { "requirements.txt": "# no dependencies\n", "main.py": "def broken(:\n    pass\n" };

let infra: TestInfra;
let platform: Platform;
let token: string;
let dataDir: string;
const emulators: Record<Provider, GitEmulator> = {} as never;

type Provider = "GITLAB" | "GITHUB" | "GITEE";

const ok = <T>(method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

/** A pro-code app on a new repository of the provider's emulator, bound. */
async function appOn(
  provider: Provider,
  name: string,
  files: Record<string, string>,
  credentialId: string,
  stageConfigs?: Record<string, unknown>,
) {
  const emu = emulators[provider];
  const repoPath = `acme/${name}`;
  await emu.createRepo(repoPath, { files });
  const app = await ok<App>("POST", "/apps", {
    name,
    devMode: "pro-code",
    techStack: "python",
    gitType: provider,
    gitRepoUrl: emu.repoUrl(repoPath),
    credentialId,
  });
  await eventually(
    async () => (await ok<RepoBinding>("GET", `/apps/${app.id}/repo`)).state === "BOUND",
    `${name} bound`,
    30_000,
    200,
  );
  if (stageConfigs) {
    await ok("PUT", `/apps/${app.id}/procode-config`, { stageConfigs });
    await eventually(
      async () =>
        (await ok<App>("GET", `/apps/${app.id}`)).procodeConfig?.effectiveStageConfigs.CODE_CHECK
          .maxRetries === 0,
      "the stage settings stored",
    );
  }
  return { appId: app.id, repoPath };
}

/** Walks a new iteration to STAGING and releases `tag`; the release's pipeline id. */
async function release(appId: number, tag: string): Promise<number> {
  const it0 = await ok<Iteration>("POST", "/iterations", {
    appId,
    name: `release ${tag}`,
    sourceBranch: "main",
  });
  await eventually(
    async () => (await ok<Iteration>("GET", `/iterations/${it0.id}`)).status === "DEVELOPING",
    "iteration DEVELOPING",
    30_000,
    200,
  );
  for (const targetPhase of ["TESTING", "STAGING"]) {
    await ok("POST", `/iterations/${it0.id}/proceed`, { targetPhase });
  }
  const r = await ok<ReleaseResponse>("POST", `/iterations/${it0.id}/release`, { tag });
  return r.pipelineId!;
}

async function pipelineEnds(id: number, status: Pipeline["status"]): Promise<Pipeline> {
  let last: Pipeline | undefined;
  try {
    return await eventually(
      async () => {
        last = await ok<Pipeline>("GET", `/pipelines/${id}`);
        return last.status === status ? last : null;
      },
      `pipeline ${id} ${status}`,
      90_000,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** Per context, every state the provider recorded for it on the commit, oldest first. */
function history(provider: Provider, repoPath: string, sha: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of emulators[provider].statuses(repoPath, sha)) (out[s.context] ??= []).push(...s.states);
  return out;
}

/** Per context, the newest status on the commit. */
function latest(provider: Provider, repoPath: string, sha: string) {
  const out: Record<string, { state: string; description: string | null; targetUrl: string | null }> = {};
  for (const s of emulators[provider].statuses(repoPath, sha)) out[s.context] = s;
  return out;
}

/** dev-svc's record of a release's statuses. */
const rowsOf = (pipelineId: number) =>
  sql<{ stage: string; state: string; version: number; refused_version: number; last_error: string | null }>(
    infra.databaseUrl,
    `select stage, state, version, refused_version, last_error from dev.commit_status where pipeline_id = $1 order by id`,
    [pipelineId],
  );

const word = (provider: Provider, state: "failed" | "canceled") =>
  provider === "GITLAB" ? state : state === "failed" ? "failure" : "error";

beforeAll(async () => {
  infra = await createTestInfra("e2e_commit_status");
  dataDir = mkdtempSync(path.join(os.tmpdir(), "procode-status-emu-"));
  emulators.GITLAB = createGitLabEmulator({
    dataDir: path.join(dataDir, "gitlab"),
    tokens: { [TOKEN]: "bot" },
  });
  emulators.GITHUB = createGitHubEmulator({
    dataDir: path.join(dataDir, "github"),
    tokens: { [TOKEN]: "bot" },
  });
  emulators.GITEE = createGiteeEmulator({ dataDir: path.join(dataDir, "gitee"), tokens: { [TOKEN]: "bot" } });
  for (const emu of Object.values(emulators)) await emu.start();
  platform = await startPlatform(infra, {
    env: {
      "pipeline-engine": { RETRY_BASE_MS: "200", RETRY_MAX_MS: "1000", STAGE_REPUBLISH_MS: "3000" },
      "ops-module": { DEFAULT_DURATION_MS: "300" },
      "dev-svc": {
        BIND_POLL_MS: "200",
        BIND_RETRY_BASE_MS: "500",
        GIT_RETRY_BASE_MS: "20",
        COMMIT_STATUS_POLL_MS: "200",
        COMMIT_STATUS_RETRY_BASE_MS: "200",
        COMMIT_STATUS_RETRY_MAX_MS: "1000",
      },
    },
  });
  token = await signToken({ sub: "e2e", team: "status-team" }, platform.jwtSecret);
}, 400_000);

afterAll(async () => {
  await platform?.stop();
  for (const emu of Object.values(emulators)) await emu?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await infra?.cleanup();
});

describe.each(["GITLAB", "GITHUB", "GITEE"] as const)("commit statuses on %s", (provider) => {
  let credentialId: string;
  const slug = provider.toLowerCase();

  beforeAll(async () => {
    const cred = await ok<{ id: string }>("POST", "/credentials", {
      gitType: provider,
      name: `${slug} bot`,
      token: TOKEN,
    });
    credentialId = cred.id;
  });

  it("a release that succeeds shows pending -> success for every stage on the released commit, linked to the console", async () => {
    const { appId, repoPath } = await appOn(provider, `${slug}-good`, GOOD, credentialId);
    const pipelineId = await release(appId, "v1.0.0");
    const done = await pipelineEnds(pipelineId, "SUCCESS");
    const sha = (await emulators[provider].repo(repoPath)!.git.resolveCommit("refs/tags/v1.0.0"))!;
    expect(done.checkpoints.find((c) => c.stage === "CODE_CHECK")?.output).toMatchObject({ commitId: sha });
    const final = await eventually(() => {
      const now = latest(provider, repoPath, sha);
      return STAGES.every((s) => now[`procode/${s}`]?.state === "success") ? now : null;
    }, "every context success");
    for (const stage of STAGES) {
      expect(final[`procode/${stage}`]).toMatchObject({
        state: "success",
        targetUrl: `${platform.gatewayUrl}/pipelines/${pipelineId}?stage=${stage}`,
      });
      // pending (GitLab also shows running; a stage that starts at once begins there) then success,
      // and nothing after it.
      const states = history(provider, repoPath, sha)[`procode/${stage}`]!;
      expect(states.length).toBeGreaterThanOrEqual(2);
      expect(states.slice(0, -1).every((s) => s === "pending" || s === "running")).toBe(true);
      expect(states.at(-1)).toBe("success");
      if (provider !== "GITLAB" || stage !== "CODE_CHECK") expect(states[0]).toBe("pending");
    }
  });

  it("a release whose CODE_CHECK fails shows failed with the error; the stages after it are not run", async () => {
    const { appId, repoPath } = await appOn(provider, `${slug}-broken`, BROKEN, credentialId, {
      // One attempt: the failure is what is under test, not the retries.
      CODE_CHECK: { maxRetries: 0 },
    });
    const pipelineId = await release(appId, "v1.0.0");
    const failed = await pipelineEnds(pipelineId, "FAILED");
    expect(failed.currentStage).toBe("CODE_CHECK");
    const sha = (await emulators[provider].repo(repoPath)!.git.resolveCommit("refs/tags/v1.0.0"))!;
    const final = await eventually(() => {
      const now = latest(provider, repoPath, sha);
      // Each stage's row is pushed on its own: wait until every one has its final state.
      const notRun = ["BUILD", "PACKAGE", "DEPLOY"].every(
        (stage) => now[`procode/${stage}`]?.state === word(provider, "canceled"),
      );
      return now["procode/CODE_CHECK"]?.state === word(provider, "failed") && notRun ? now : null;
    }, "CODE_CHECK failed");
    expect(final["procode/CODE_CHECK"]!.description).toContain("main.py");
    for (const stage of ["BUILD", "PACKAGE", "DEPLOY"]) {
      expect(final[`procode/${stage}`]).toMatchObject({
        state: word(provider, "canceled"),
        description: "not run: CODE_CHECK failed",
      });
    }
  });

  it("a provider whose status API is down for a while gets every status afterwards, in its final state", async () => {
    const emu = emulators[provider];
    const { appId, repoPath } = await appOn(provider, `${slug}-outage`, GOOD, credentialId);
    // Every status write fails while the release runs (the rest of the API answers).
    emu.faults.failNext(10_000, 503, { pathPattern: "/statuses/" });
    const pipelineId = await release(appId, "v1.0.0");
    await pipelineEnds(pipelineId, "SUCCESS");
    const sha = (await emu.repo(repoPath)!.git.resolveCommit("refs/tags/v1.0.0"))!;
    await eventually(
      () => emu.requestsTo(/\/statuses\//).filter((r) => r.status === 503).length >= 8,
      "status writes refused while down",
    );
    expect(emu.statuses(repoPath, sha)).toEqual([]);
    await eventually(
      async () => (await rowsOf(pipelineId)).filter((r) => r.state === "success").length === 4,
      "every stage's final state recorded",
      30_000,
      200,
    );
    // Then the whole provider is unreachable for a moment, and back.
    emu.faults.reset();
    emu.faults.goDown(1500);
    const final = await eventually(
      () => {
        const now = latest(provider, repoPath, sha);
        return STAGES.every((s) => now[`procode/${s}`]?.state === "success") ? now : null;
      },
      "every context success after the outage",
      30_000,
      100,
    );
    expect(Object.keys(final).sort()).toEqual(STAGES.map((s) => `procode/${s}`).sort());
    // Only the final state was written: nothing older arrived after the outage.
    for (const stage of STAGES)
      expect(history(provider, repoPath, sha)[`procode/${stage}`]).toEqual(["success"]);
  });
});

describe("a token the provider refuses", () => {
  it("is recorded on the status and not retried", async () => {
    const emu = emulators.GITHUB;
    const cred = await ok<{ id: string }>("POST", "/credentials", {
      gitType: "GITHUB",
      name: "refused",
      token: TOKEN,
    });
    const { appId, repoPath } = await appOn("GITHUB", "github-refused", GOOD, cred.id);
    emu.faults.failNext(10_000, 403, { pathPattern: "/statuses/" });
    emu.clearRequests();
    try {
      const pipelineId = await release(appId, "v2.0.0");
      await pipelineEnds(pipelineId, "SUCCESS");
      const rows = await eventually(
        async () => {
          const r = await rowsOf(pipelineId);
          return r.length === 4 && r.every((x) => x.state === "success" && x.refused_version === x.version)
            ? r
            : null;
        },
        "every status refused in its final state",
        30_000,
        200,
      );
      for (const r of rows) expect(r.last_error).toMatch(/GitHub answered 403/);
      // One write per state at most, and none after the last one was refused.
      const writes = emu.requestsTo(/\/statuses\//).length;
      const versions = rows.reduce((n, r) => n + r.version, 0);
      expect(writes).toBeLessThanOrEqual(versions);
      expect(
        emu.statuses(repoPath, (await emu.repo(repoPath)!.git.resolveCommit("refs/tags/v2.0.0"))!),
      ).toEqual([]);
    } finally {
      emu.faults.reset();
    }
  });
});
