import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitLabEmulator, type GitEmulator } from "@procode/git-emulators";
import { sql } from "@procode/test-kit";
import {
  api,
  createApp,
  developingIteration,
  engineApi,
  GIT_AUTHOR,
  startHarness,
  waitIteration,
  type Harness,
} from "./support/iterations/harness.js";

/**
 * Release by tag, and rollback by releasing an older tag, against the GitLab emulator driven by the real
 * client library, with the real pipeline-engine as a process: tags, idempotency, 2003, a provider
 * that fails, the engine down during a release, its refusals, and rollback to an older tag.
 */
const TOKEN = "glpat-release-0123456789abcdef";
let h: Harness;
let emu: GitEmulator;
let credentialId: string;

const tagPosts = (repoPath: string) =>
  emu
    .requestsTo(new RegExp(`/projects/${encodeURIComponent(repoPath)}/repository/tags$`))
    .filter((r) => r.method === "POST");

async function gitlabApp(
  repoPath: string,
  o: { phases?: ("DEVELOPING" | "TESTING" | "STAGING" | "RELEASE")[]; concurrency?: "QUEUE" | "REJECT" } = {},
) {
  await emu.createRepo(repoPath, { files: { "README.md": "# agent\n" } });
  return createApp(h, {
    gitType: "GITLAB",
    gitRepoUrl: emu.repoUrl(repoPath),
    credentialId,
    ...o,
  });
}

const headOf = async (repoPath: string, branch = "main") =>
  (await emu.repo(repoPath)!.git.resolveCommit(`refs/heads/${branch}`))!;
const tagOf = (repoPath: string, tag: string) => emu.repo(repoPath)!.git.resolveCommit(`refs/tags/${tag}`);

/** An iteration of the app moved to STAGING (the phase before RELEASE). */
async function stagingIteration(appId: number) {
  const it0 = await developingIteration(h, appId);
  for (const targetPhase of ["TESTING", "STAGING"]) {
    const r = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase });
    expect(r.status).toBe(200);
  }
  return it0;
}

async function cancelRelease(pipelineId: number) {
  const r = await engineApi(h, "POST", `/pipelines/${pipelineId}/cancel`);
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  h = await startHarness("dev-release");
  emu = createGitLabEmulator({ dataDir: path.join(h.dir, "gitlab"), tokens: { [TOKEN]: "tester" } });
  await emu.start();
  const cred = await api(h, "POST", "/credentials", { gitType: "GITLAB", name: "release", token: TOKEN });
  credentialId = cred.body.data.id;
});

afterAll(async () => {
  await emu?.close();
  await h?.close();
});

describe("POST /iterations/{id}/release on GitLab", () => {
  it("tags the head of the source branch, records the release, starts its phase pipeline, and answers the same release when asked again", async () => {
    const appId = await gitlabApp("acme/happy");
    const it0 = await stagingIteration(appId);
    const head = await headOf("acme/happy");

    const res = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v1.0.0" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: 0, message: "success" });
    expect(res.body.data).toEqual({
      iterationId: it0.id,
      tag: "v1.0.0",
      pipelineId: expect.any(Number),
      status: "RUNNING",
      iterationPhaseId: expect.any(Number),
      commitId: head,
      rollback: false,
    });
    const { pipelineId, iterationPhaseId } = res.body.data;
    expect(await tagOf("acme/happy", "v1.0.0")).toBe(head);
    expect(tagPosts("acme/happy")).toHaveLength(1);

    const shown = await waitIteration(h, it0.id, (i) => i.status === "RELEASING", "RELEASING");
    expect(shown).toMatchObject({
      currentPhase: "RELEASE",
      phasePipelineId: pipelineId,
      headCommit: head,
      phases: [{ id: iterationPhaseId, tag: "v1.0.0", status: "RUNNING", pipelineId, commitId: head }],
    });
    const pipeline = await engineApi(h, "GET", `/pipelines/${pipelineId}`);
    expect(pipeline.body.data).toMatchObject({ type: "PHASE", refId: iterationPhaseId, tag: "v1.0.0" });

    const again = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v1.0.0" });
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({
      iterationPhaseId,
      pipelineId,
      status: "RUNNING",
      commitId: head,
    });
    const viaProceed = await api(h, "POST", `/iterations/${it0.id}/proceed`, {
      targetPhase: "RELEASE",
      tag: "v1.0.0",
    });
    expect(viaProceed.body.data).toEqual({
      iterationId: it0.id,
      currentPhase: "RELEASE",
      phasePipelineId: pipelineId,
    });
    expect(tagPosts("acme/happy")).toHaveLength(1);
    const rows = await sql(
      h.infra.databaseUrl,
      `select id from dev.iteration_phase where iteration_id = $1`,
      [it0.id],
    );
    expect(rows).toHaveLength(1);
  });

  it("refuses a tag that is not 'v' + a semantic version (1001 naming tag)", async () => {
    const appId = await gitlabApp("acme/badtags");
    const it0 = await stagingIteration(appId);
    for (const tag of ["1.0.0", "v1", "v1.0", "release-1", "v01.0.0", "", "v 1.0.0", "v1.0.0\u0000"]) {
      const res = await api(h, "POST", `/iterations/${it0.id}/release`, { tag });
      expect({ tag, status: res.status, code: res.body.code }).toEqual({ tag, status: 400, code: 1001 });
      expect(res.body.message).toMatch(/^tag: /);
    }
    for (const payload of [{}, { tag: 1 }, "[]"]) {
      const res = await api(h, "POST", `/iterations/${it0.id}/release`, payload);
      expect(res.body.code).toBe(1001);
    }
    expect(tagPosts("acme/badtags")).toHaveLength(0);
  });

  it("answers 2003 when the tag already names another commit, and changes nothing", async () => {
    const appId = await gitlabApp("acme/taken");
    const first = await headOf("acme/taken");
    await emu.repo("acme/taken")!.git.updateRef("refs/tags/v5.0.0", first, null);
    await emu
      .repo("acme/taken")!
      .git.commitActions(
        "main",
        "second",
        [{ action: "create", path: "two.txt", content: Buffer.from("2\n") }],
        GIT_AUTHOR,
        null,
      );
    const it0 = await stagingIteration(appId);
    const res = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v5.0.0" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe(2003);
    expect(res.body.message).toMatch(
      new RegExp(`^tag: v5\\.0\\.0 already exists on commit ${first.slice(0, 12)}, not on the head`),
    );
    expect(await tagOf("acme/taken", "v5.0.0")).toBe(first);
    const after = await api(h, "GET", `/iterations/${it0.id}`);
    expect(after.body.data).toMatchObject({ status: "STAGING", currentPhase: "STAGING", phases: [] });
  });

  it("answers the provider's error when tagging fails (after its retries), and changes nothing else", async () => {
    const appId = await gitlabApp("acme/down");
    const it0 = await stagingIteration(appId);
    emu.faults.failNext(100, 503, { pathPattern: "/repository/tags" });
    try {
      const res = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v1.0.0" });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe(1006);
      expect(res.body.message).toMatch(/tag v1\.0\.0.*after 4 attempts.*retry later/);
    } finally {
      emu.faults.reset();
    }
    expect(tagPosts("acme/down").length).toBe(4);
    expect(await tagOf("acme/down", "v1.0.0")).toBeNull();
    const after = await api(h, "GET", `/iterations/${it0.id}`);
    expect(after.body.data).toMatchObject({ status: "STAGING", phases: [] });
    // Nothing half-done: the same release goes through once the provider answers.
    const retried = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v1.0.0" });
    expect(retried.status).toBe(200);
    expect(await tagOf("acme/down", "v1.0.0")).toBe(await headOf("acme/down"));
  });
});

describe("pipeline-engine down during a release", () => {
  it("records the release (202, PENDING, tag created once), and the phase pipeline starts and shows when the engine is back", async () => {
    const appId = await gitlabApp("acme/engine-down");
    const it0 = await stagingIteration(appId);
    const head = await headOf("acme/engine-down");
    await h.stopEngine();
    let iterationPhaseId: number;
    try {
      const res = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v2.0.0" });
      expect(res.status).toBe(202);
      expect(res.body.code).toBe(0);
      expect(res.body.message).toMatch(
        /^release v2\.0\.0 recorded \(iteration phase \d+\); its pipeline starts when pipeline-engine answers$/,
      );
      expect(res.body.data).toEqual({
        iterationId: it0.id,
        tag: "v2.0.0",
        pipelineId: null,
        status: "PENDING",
        iterationPhaseId: expect.any(Number),
        commitId: head,
        rollback: false,
      });
      iterationPhaseId = res.body.data.iterationPhaseId;
      expect(await tagOf("acme/engine-down", "v2.0.0")).toBe(head);

      // Asked again while the engine is still down: the same release, no second tag.
      const again = await api(h, "POST", `/iterations/${it0.id}/proceed`, {
        targetPhase: "RELEASE",
        tag: "v2.0.0",
      });
      expect(again.status).toBe(202);
      expect(again.body.data).toEqual({
        iterationId: it0.id,
        currentPhase: "STAGING",
        phasePipelineId: null,
      });
      expect(tagPosts("acme/engine-down")).toHaveLength(1);

      const waiting = await api(h, "GET", `/iterations/${it0.id}`);
      expect(waiting.body.data).toMatchObject({
        status: "STAGING",
        phases: [{ id: iterationPhaseId, tag: "v2.0.0", status: "PENDING", pipelineId: null }],
      });
    } finally {
      await h.startEngine();
    }
    const started = await waitIteration(
      h,
      it0.id,
      (i) =>
        i.status === "RELEASING" && i.phases[0]?.pipelineId !== null && i.phases[0]?.status === "RUNNING",
      "RELEASING with its phase pipeline",
      20_000,
    );
    expect(started.currentPhase).toBe("RELEASE");
    expect(started.phasePipelineId).toBe(started.phases[0].pipelineId);
    const pipeline = await engineApi(h, "GET", `/pipelines/${started.phasePipelineId}`);
    expect(pipeline.body.data).toMatchObject({
      type: "PHASE",
      refId: iterationPhaseId,
      tag: "v2.0.0",
      status: "RUNNING",
    });
    const all = await engineApi(h, "GET", `/pipelines?refId=${iterationPhaseId}&type=PHASE`);
    expect(all.body.data.total).toBe(1);

    const answered = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v2.0.0" });
    expect(answered.status).toBe(200);
    expect(answered.body.data).toMatchObject({ iterationPhaseId, pipelineId: started.phasePipelineId });
    expect(tagPosts("acme/engine-down")).toHaveLength(1);
  });
});

describe("the engine's refusals and rollback", () => {
  it("records a release the engine refuses (REJECT policy: 3005) with its reason, and lets it be asked again later", async () => {
    const appId = await gitlabApp("acme/reject", { phases: ["RELEASE"], concurrency: "REJECT" });
    const a = await developingIteration(h, appId);
    const b = await developingIteration(h, appId);
    const first = await api(h, "POST", `/iterations/${a.id}/release`, { tag: "v1.0.0" });
    expect(first.status).toBe(200);

    const refused = await api(h, "POST", `/iterations/${b.id}/release`, { tag: "v1.1.0" });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe(3005);
    expect(refused.body.message).toMatch(/another release of app \d+ is running/);
    const shown = await api(h, "GET", `/iterations/${b.id}`);
    expect(shown.body.data.phases).toEqual([
      expect.objectContaining({
        tag: "v1.1.0",
        status: "CANCELLED",
        pipelineId: null,
        reason: expect.stringMatching(/^3005: another release of app/),
      }),
    ]);

    await cancelRelease(first.body.data.pipelineId);
    await waitIteration(h, a.id, (i) => i.status === "FAILED", "FAILED after the cancel");
    const retried = await api(h, "POST", `/iterations/${b.id}/release`, { tag: "v1.1.0" });
    expect(retried.status).toBe(200);
    expect(retried.body.data).toMatchObject({ status: "RUNNING", rollback: false });
    expect(retried.body.data.iterationPhaseId).not.toBe(shown.body.data.phases[0].id);
  });

  it("asks the engine again about a release recorded while it was down, and records its refusal, so it blocks nothing", async () => {
    const appId = await gitlabApp("acme/refused-later", { phases: ["RELEASE"], concurrency: "REJECT" });
    const a = await developingIteration(h, appId);
    const b = await developingIteration(h, appId);
    const first = await api(h, "POST", `/iterations/${a.id}/release`, { tag: "v1.0.0" });
    expect(first.status).toBe(200);
    await h.stopEngine();
    let pending: number;
    try {
      const res = await api(h, "POST", `/iterations/${b.id}/release`, { tag: "v1.1.0" });
      expect(res.status).toBe(202);
      pending = res.body.data.iterationPhaseId;
    } finally {
      await h.startEngine();
    }
    // Nobody asks: the release asker does, and the engine refuses (REJECT: another release runs).
    const refused = await waitIteration(
      h,
      b.id,
      (i) => i.phases[0]?.status === "CANCELLED",
      "the refusal, recorded by the release asker",
      30_000,
    );
    expect(refused.phases).toEqual([
      expect.objectContaining({ id: pending, status: "CANCELLED", reason: expect.stringMatching(/^3005: /) }),
    ]);

    await cancelRelease(first.body.data.pipelineId);
    const next = await api(h, "POST", `/iterations/${b.id}/release`, { tag: "v1.2.0" });
    expect(next.status).toBe(200);
    expect(next.body.data).toMatchObject({ tag: "v1.2.0", status: "RUNNING" });
    const shown = await api(h, "GET", `/iterations/${b.id}`);
    expect(shown.body.data.phases).toEqual([
      expect.objectContaining({
        id: pending,
        tag: "v1.1.0",
        status: "CANCELLED",
        pipelineId: null,
        reason: expect.stringMatching(/^3005: /),
      }),
      expect.objectContaining({ tag: "v1.2.0", status: "RUNNING", pipelineId: next.body.data.pipelineId }),
    ]);
  });

  it("rolls back to an older tag that an earlier iteration released and then cancelled: no new tag, the tag's commit, a phase pipeline labelled rollback", async () => {
    const repoPath = "acme/rollback";
    const appId = await gitlabApp(repoPath, { phases: ["RELEASE"] });
    const one = await developingIteration(h, appId);
    const v1 = await api(h, "POST", `/iterations/${one.id}/release`, { tag: "v1.0.0" });
    expect(v1.status).toBe(200);
    const oldCommit = v1.body.data.commitId as string;
    await cancelRelease(v1.body.data.pipelineId);

    await emu
      .repo(repoPath)!
      .git.commitActions(
        "main",
        "newer",
        [{ action: "create", path: "new.txt", content: Buffer.from("new\n") }],
        GIT_AUTHOR,
        null,
      );
    const two = await developingIteration(h, appId);
    // Not in RELEASE yet: the old tag names another commit than the head (2003).
    const early = await api(h, "POST", `/iterations/${two.id}/release`, { tag: "v1.0.0" });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe(2003);

    const v11 = await api(h, "POST", `/iterations/${two.id}/release`, { tag: "v1.1.0" });
    expect(v11.status).toBe(200);
    expect(v11.body.data.commitId).not.toBe(oldCommit);
    // A rollback waits for the running release: 2001.
    const tooSoon = await api(h, "POST", `/iterations/${two.id}/release`, { tag: "v1.0.0" });
    expect(tooSoon.status).toBe(409);
    expect(tooSoon.body.code).toBe(2001);
    await cancelRelease(v11.body.data.pipelineId);
    await waitIteration(h, two.id, (i) => i.status === "FAILED", "FAILED after the cancel");

    const posts = tagPosts(repoPath).length;
    const rollback = await api(h, "POST", `/iterations/${two.id}/release`, { tag: "v1.0.0" });
    expect(rollback.status).toBe(200);
    expect(rollback.body.data).toMatchObject({
      iterationId: two.id,
      tag: "v1.0.0",
      commitId: oldCommit,
      rollback: true,
      status: "RUNNING",
    });
    expect(tagPosts(repoPath)).toHaveLength(posts);
    expect(await tagOf(repoPath, "v1.0.0")).toBe(oldCommit);
    const pipeline = await engineApi(h, "GET", `/pipelines/${rollback.body.data.pipelineId}`);
    expect(pipeline.body.data).toMatchObject({ rollback: true, tag: "v1.0.0" });
    const shown = await waitIteration(h, two.id, (i) => i.status === "RELEASING", "RELEASING the rollback");
    expect(shown.phases.map((p: { tag: string; rollback: boolean }) => [p.tag, p.rollback])).toEqual([
      ["v1.1.0", false],
      ["v1.0.0", true],
    ]);
  });
});
