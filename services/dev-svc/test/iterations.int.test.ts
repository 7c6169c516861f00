import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IterationPhaseChanged, messageSubject } from "@procode/contracts";
import type { BareRepo } from "@procode/git-emulators";
import { createLogger, Database, Outbox } from "@procode/service-kit";
import { eventually, sql } from "@procode/test-kit";
import {
  api,
  createApp,
  developingIteration,
  engineApi,
  localRepo,
  outboxOf,
  pushCommit,
  startHarness,
  waitIteration,
  type Harness,
} from "./support/iterations/harness.js";
import { listIterations } from "../src/store/iteration.repository.js";

/**
 * Iterations over real HTTP, PostgreSQL and NATS, with the real pipeline-engine as a process and
 * LOCAL repositories (real git): creation and its checks, reads and team isolation, and phase
 * progression DRAFT -> DEVELOPING -> TESTING -> STAGING -> RELEASE with a real tag.
 */
let h: Harness;
let repo: BareRepo;
let appId: number;
let mainHead: string;

beforeAll(async () => {
  h = await startHarness("dev-iterations");
  repo = await localRepo(h, "agent");
  await repo.commitActions(
    "feature/x",
    "feature",
    [{ action: "create", path: "feature.txt", content: Buffer.from("x\n") }],
    { name: "Tester", email: "tester@example.com" },
    await repo.resolveCommit("refs/heads/main"),
  );
  mainHead = (await repo.resolveCommit("refs/heads/main"))!;
  appId = await createApp(h, { gitRepoUrl: "local://agent", bound: true });
});

afterAll(async () => {
  await h?.close();
});

describe("POST /iterations", () => {
  it("creates a DRAFT iteration with the branch's head commit, announces it, and it leaves DRAFT when its pipeline reaches DEVELOPING", async () => {
    const res = await api(h, "POST", "/iterations", { appId, name: "v1.0.0", sourceBranch: "main" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: 0, message: "success" });
    const it0 = res.body.data;
    expect(it0).toMatchObject({
      appId,
      name: "v1.0.0",
      status: "DRAFT",
      sourceBranch: "main",
      currentPhase: null,
      headCommit: mainHead,
      iterationPipelineId: null,
      phasePipelineId: null,
      phases: [],
      createdBy: "alice",
    });
    const events = (await outboxOf(h, "dev.iteration_created.v1")).filter(
      (e) => e.payload.data.iterationId === it0.id,
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.payload.data).toEqual({
      iterationId: it0.id,
      appId,
      team: "team-a",
      name: "v1.0.0",
      sourceBranch: "main",
      actor: { sub: "alice", team: "team-a" },
    });
    expect(events[0]!.payload.correlationId).toBeTruthy();

    const developing = await waitIteration(h, it0.id, (i) => i.status === "DEVELOPING", "DEVELOPING");
    expect(developing.currentPhase).toBe("DEVELOPING");
    expect(developing.iterationPipelineId).toEqual(expect.any(Number));
    const pipeline = await engineApi(h, "GET", `/pipelines/${developing.iterationPipelineId}`);
    expect(pipeline.body.data).toMatchObject({
      type: "ITERATION",
      refId: it0.id,
      currentStage: "DEVELOPING",
    });
  });

  it("answers 1001 naming the field for bad input, never crashing", async () => {
    const cases: [unknown, RegExp][] = [
      [{ appId, name: "", sourceBranch: "main" }, /^name: must be 1-100 characters/],
      [{ appId, name: "x".repeat(101), sourceBranch: "main" }, /^name: must be 1-100 characters/],
      [{ appId, sourceBranch: "main" }, /^name: is required/],
      [{ appId, name: "a" }, /^sourceBranch: is required/],
      [{ name: "a", sourceBranch: "main" }, /^appId: is required/],
      [{ appId: "12", name: "a", sourceBranch: "main" }, /^appId: /],
      [{ appId: -3, name: "a", sourceBranch: "main" }, /^appId: /],
      [{ appId: 1e20, name: "a", sourceBranch: "main" }, /^appId: Too big/],
      [{ appId, name: "a\u0000b", sourceBranch: "main" }, /^name: must not contain NUL/],
      [{ appId, name: "a", sourceBranch: "bad branch" }, /^sourceBranch: is not a valid git branch name/],
      [{ appId, name: "a", sourceBranch: "a..b" }, /^sourceBranch: is not a valid git branch name/],
      [{ appId, name: "a", sourceBranch: "x".repeat(101) }, /^sourceBranch: /],
    ];
    for (const [payload, message] of cases) {
      const res = await api(h, "POST", "/iterations", payload);
      expect({ payload, status: res.status, code: res.body.code }).toEqual({
        payload,
        status: 400,
        code: 1001,
      });
      expect(res.body.message).toMatch(message);
    }
    const notJson = await api(h, "POST", "/iterations", "{not json");
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe(1001);
  });

  it("refuses a branch that does not exist (1001 naming sourceBranch), and accepts any branch that does", async () => {
    const missing = await api(h, "POST", "/iterations", { appId, name: "a", sourceBranch: "no-such" });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: 1001, data: { fields: [{ field: "sourceBranch" }] } });
    expect(missing.body.message).toMatch(/^sourceBranch: branch "no-such" does not exist/);
    // A tag is not a branch.
    await repo.updateRef("refs/tags/only-a-tag", mainHead, null);
    const tagOnly = await api(h, "POST", "/iterations", { appId, name: "a", sourceBranch: "only-a-tag" });
    expect(tagOnly.body.code).toBe(1001);

    const feature = await api(h, "POST", "/iterations", { appId, name: "f", sourceBranch: "feature/x" });
    expect(feature.status).toBe(200);
    expect(feature.body.data.headCommit).toBe(await repo.resolveCommit("refs/heads/feature/x"));
  });

  it("answers an unknown app and another team's app alike (404, 1004), and a low-code app with 1001", async () => {
    const unknown = await api(h, "POST", "/iterations", {
      appId: 987654321,
      name: "a",
      sourceBranch: "main",
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ code: 1004, message: "app 987654321 not found", data: null });
    const foreign = await api(
      h,
      "POST",
      "/iterations",
      { appId, name: "a", sourceBranch: "main" },
      h.otherAuth,
    );
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ code: 1004, message: `app ${appId} not found`, data: null });

    const lowCode = await createApp(h, { devMode: "low-code" });
    const res = await api(h, "POST", "/iterations", { appId: lowCode, name: "a", sourceBranch: "main" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1001);
    expect(res.body.message).toMatch(new RegExp(`^appId: app ${lowCode} is a low-code app`));
    const rows = await sql(h.infra.databaseUrl, `select id from dev.iteration where app_id = $1`, [lowCode]);
    expect(rows).toHaveLength(0);
  });

  it("shows the iteration routes in the OpenAPI document, with the release's 202 answer", async () => {
    const spec = (await h.svc.deps.app.inject({ url: "/openapi.json" })).json();
    for (const p of [
      "/iterations",
      "/iterations/{id}",
      "/apps/{id}/iterations",
      "/iterations/{id}/proceed",
      "/iterations/{id}/release",
    ]) {
      expect(spec.paths[p], p).toBeDefined();
    }
    expect(Object.keys(spec.paths["/iterations/{id}/release"].post.responses)).toEqual(
      expect.arrayContaining(["200", "202", "400", "404", "409", "503"]),
    );
    expect(spec.paths["/iterations"].post.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/CreateIterationRequest",
    });
    expect(spec.components.schemas.CreateIterationRequest.required).toEqual(
      expect.arrayContaining(["appId", "name", "sourceBranch"]),
    );
  });

  it("needs a bearer token", async () => {
    const res = await h.svc.deps.app.inject({ method: "POST", url: "/iterations", payload: {} });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe(5001);
  });
});

describe("GET /iterations/{id} and GET /apps/{id}/iterations", () => {
  let app2: number;
  const ids: number[] = [];

  beforeAll(async () => {
    await localRepo(h, "lister");
    app2 = await createApp(h, { gitRepoUrl: "local://lister" });
    for (let i = 0; i < 5; i++) {
      const r = await api(h, "POST", "/iterations", { appId: app2, name: `it-${i}`, sourceBranch: "main" });
      ids.push(r.body.data.id);
    }
    for (const id of ids) await waitIteration(h, id, (i) => i.status === "DEVELOPING", "DEVELOPING");
    // Two of them move on to TESTING.
    for (const id of ids.slice(1, 3)) {
      const r = await api(h, "POST", `/iterations/${id}/proceed`, { targetPhase: "TESTING" });
      expect(r.status).toBe(200);
    }
  });

  it("lists an app's iterations newest first, paged, with the total, and filtered by status", async () => {
    const page1 = await api(h, "GET", `/apps/${app2}/iterations?pageSize=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.data).toMatchObject({ total: 5, page: 1, pageSize: 2 });
    expect(page1.body.data.items.map((i: { id: number }) => i.id)).toEqual([ids[4], ids[3]]);
    const page3 = await api(h, "GET", `/apps/${app2}/iterations?pageSize=2&page=3`);
    expect(page3.body.data.items.map((i: { id: number }) => i.id)).toEqual([ids[0]]);
    const beyond = await api(h, "GET", `/apps/${app2}/iterations?pageSize=2&page=9`);
    expect(beyond.body.data).toEqual({ items: [], total: 5, page: 9, pageSize: 2, nextCursor: null });

    const testing = await api(h, "GET", `/apps/${app2}/iterations?status=TESTING`);
    expect(testing.body.data.total).toBe(2);
    expect(testing.body.data.items.map((i: { id: number }) => i.id)).toEqual([ids[2], ids[1]]);
    expect(testing.body.data.items[0]).toMatchObject({ status: "TESTING", currentPhase: "TESTING" });
    const developing = await api(h, "GET", `/apps/${app2}/iterations?status=DEVELOPING`);
    expect(developing.body.data.total).toBe(3);
    const released = await api(h, "GET", `/apps/${app2}/iterations?status=RELEASED`);
    expect(released.body.data).toEqual({ items: [], total: 0, page: 1, pageSize: 20, nextCursor: null });
    // The counts follow every change (kept by the database in the same transaction).
    const counts = await sql(
      h.infra.databaseUrl,
      `select status, n::int as n from dev.iteration_count where app_id = $1 and n <> 0 order by status`,
      [app2],
    );
    expect(counts).toEqual([
      { status: "DEVELOPING", n: 3 },
      { status: "TESTING", n: 2 },
    ]);
  });

  it("pages by cursor from any page, newest first, to a last page without one", async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor === null ? "pageSize=2" : `pageSize=2&cursor=${encodeURIComponent(cursor)}`;
      const res = await api(h, "GET", `/apps/${app2}/iterations?${q}`);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ total: 5, page: 1, pageSize: 2 });
      seen.push(...res.body.data.items.map((i: { id: number }) => i.id));
      cursor = res.body.data.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
    // A page by offset gives the cursor of the page after it; an exactly full last page gives none.
    const page2 = await api(h, "GET", `/apps/${app2}/iterations?pageSize=2&page=2`);
    const after2 = await api(
      h,
      "GET",
      `/apps/${app2}/iterations?pageSize=2&cursor=${encodeURIComponent(page2.body.data.nextCursor)}`,
    );
    expect(after2.body.data.items.map((i: { id: number }) => i.id)).toEqual([ids[0]]);
    expect(after2.body.data.nextCursor).toBeNull();
    const all = await api(h, "GET", `/apps/${app2}/iterations?pageSize=5`);
    expect(all.body.data.nextCursor).toBeNull();
    // With a status, the cursor continues within that status.
    const testing = await api(h, "GET", `/apps/${app2}/iterations?status=TESTING&pageSize=1`);
    expect(testing.body.data.items.map((i: { id: number }) => i.id)).toEqual([ids[2]]);
    const testing2 = await api(
      h,
      "GET",
      `/apps/${app2}/iterations?status=TESTING&pageSize=1&cursor=${encodeURIComponent(testing.body.data.nextCursor)}`,
    );
    expect(testing2.body.data.items.map((i: { id: number }) => i.id)).toEqual([ids[1]]);
    expect(testing2.body.data.nextCursor).toBeNull();
  });

  it("lists from a plan PostgreSQL keeps for the connection, not one planned per page", async () => {
    // An app with many iterations beside a few small ones, so that PostgreSQL's statistics are those
    // of a long list (its estimates, not the answers, decide whether a plan is kept).
    const big = 990_001;
    await sql(
      h.infra.databaseUrl,
      `insert into dev.iteration (app_id, team, name, status, source_branch, created_by)
       select $1, 'plan-cache', 'iteration ' || g, case when g % 4 = 0 then 'TESTING' else 'DEVELOPING' end,
         'main', 'test' from generate_series(1, 20000) g`,
      [big],
    );
    await sql(h.infra.databaseUrl, `analyze dev.iteration`);
    const newest = (
      await sql(h.infra.databaseUrl, `select id from dev.iteration where app_id = $1 order by id desc`, [big])
    ).map((r) => Number(r.id));
    // One connection, so that its prepared statements can be read back.
    const db = new Database({
      url: h.infra.databaseUrl,
      poolMax: 1,
      log: createLogger({ name: "plan-cache", level: "silent" }),
    });
    try {
      const pages = [
        { limit: 20, offset: 0 },
        { limit: 5, offset: 0 },
        { limit: 20, offset: 40 },
        { limit: 100, offset: 19_950 },
        { limit: 1, offset: 0 },
      ];
      for (let round = 0; round < 2; round++) {
        for (const q of pages) {
          const page = await listIterations(db.sql, big, q);
          expect(page.items.map((i) => i.id)).toEqual(newest.slice(q.offset, q.offset + q.limit));
          expect(page.total).toBe(20_000);
          const after = await listIterations(db.sql, big, { ...q, before: page.items[0]!.id });
          expect(after.items.map((i) => i.id)).toEqual(newest.slice(q.offset + 1, q.offset + 1 + q.limit));
        }
      }
      const plans = await db.sql.query<{ name: string; generic_plans: string; custom_plans: string }>(
        `select name, generic_plans, custom_plans from pg_prepared_statements
         where name like 'dev_iterations_of_app%' order by name`,
      );
      // Five plans for the statement's parameters, then the one kept for every call.
      expect(plans.rows.map((r) => [r.name, Number(r.generic_plans), Number(r.custom_plans)])).toEqual([
        ["dev_iterations_of_app", 5, 5],
        ["dev_iterations_of_app_after", 5, 5],
      ]);
    } finally {
      await db.close();
    }
  });

  it("refuses bad paging and status values with 1001 naming the parameter", async () => {
    for (const [q, field] of [
      ["status=DONE", "status"],
      ["pageSize=101", "pageSize"],
      ["pageSize=0", "pageSize"],
      ["page=0", "page"],
      ["page=abc", "page"],
      ["cursor=abc", "cursor"],
      ["cursor=", "cursor"],
      ["cursor=aXRlcmF0aW9uOi0x", "cursor"], // the last id -1
      [`cursor=${"x".repeat(65)}`, "cursor"],
      ["cursor=aXRlcmF0aW9uOjU&page=2", "cursor"], // a good cursor with a page
    ] as const) {
      const res = await api(h, "GET", `/apps/${app2}/iterations?${q}`);
      expect({ q, status: res.status, code: res.body.code }).toEqual({ q, status: 400, code: 1001 });
      expect(res.body.message).toMatch(new RegExp(`^${field}: `));
    }
    const badId = await api(h, "GET", `/iterations/abc`);
    expect(badId.body.code).toBe(1001);
    const hugeId = await api(h, "GET", `/iterations/99999999999999999999`);
    expect(hugeId.body.code).toBe(1001);
  });

  it("keeps each team to its own iterations and apps (404 with 2004 or 1004, never a leak)", async () => {
    const mine = await api(h, "GET", `/iterations/${ids[0]}`);
    expect(mine.status).toBe(200);
    expect(mine.body.data).toMatchObject({ id: ids[0], appId: app2, name: "it-0" });

    const theirs = await api(h, "GET", `/iterations/${ids[0]}`, undefined, h.otherAuth);
    const none = await api(h, "GET", `/iterations/987654321`, undefined, h.otherAuth);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual({ code: 2004, message: `iteration ${ids[0]} not found`, data: null });
    expect(none.body).toEqual({ code: 2004, message: "iteration 987654321 not found", data: null });

    const list = await api(h, "GET", `/apps/${app2}/iterations`, undefined, h.otherAuth);
    expect(list.status).toBe(404);
    expect(list.body).toEqual({ code: 1004, message: `app ${app2} not found`, data: null });

    for (const [url, payload] of [
      [`/iterations/${ids[0]}/proceed`, { targetPhase: "TESTING" }],
      [`/iterations/${ids[0]}/release`, { tag: "v1.0.0" }],
    ] as const) {
      const res = await api(h, "POST", url, payload, h.otherAuth);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe(2004);
    }
    const after = await api(h, "GET", `/iterations/${ids[0]}`);
    expect(after.body.data).toMatchObject({ status: "DEVELOPING", phases: [] });
  });
});

describe("POST /iterations/{id}/proceed", () => {
  it("moves DEVELOPING -> TESTING -> STAGING -> RELEASE, tagging the LOCAL repository, and shows the release and its pipeline", async () => {
    const it0 = await developingIteration(h, appId);
    const testing = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
    expect(testing.status).toBe(200);
    expect(testing.body).toEqual({
      code: 0,
      message: "success",
      data: { iterationId: it0.id, currentPhase: "TESTING", phasePipelineId: null },
    });
    // The answer is visible at once, before the engine's event.
    const read = await api(h, "GET", `/iterations/${it0.id}`);
    expect(read.body.data).toMatchObject({ status: "TESTING", currentPhase: "TESTING" });

    const staging = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "STAGING" });
    expect(staging.body.data).toMatchObject({ currentPhase: "STAGING" });

    // A push to the branch moves the iteration's head commit.
    const pushed = await pushCommit(h, repo, "main", "second");
    await waitIteration(h, it0.id, (i) => i.headCommit === pushed, "head commit follows the push");

    const release = await api(h, "POST", `/iterations/${it0.id}/proceed`, {
      targetPhase: "RELEASE",
      tag: "v1.0.0",
    });
    expect(release.status).toBe(200);
    expect(release.body.data).toEqual({
      iterationId: it0.id,
      currentPhase: "RELEASE",
      phasePipelineId: expect.any(Number),
    });
    const phasePipelineId = release.body.data.phasePipelineId as number;
    expect(await repo.resolveCommit("refs/tags/v1.0.0")).toBe(pushed);

    const shown = await waitIteration(
      h,
      it0.id,
      (i) => i.status === "RELEASING" && i.phases[0]?.status === "RUNNING",
      "RELEASING",
    );
    expect(shown).toMatchObject({
      currentPhase: "RELEASE",
      phasePipelineId,
      headCommit: pushed,
      phases: [
        {
          phaseType: "RELEASE",
          branch: "main",
          tag: "v1.0.0",
          commitId: pushed,
          status: "RUNNING",
          pipelineId: phasePipelineId,
          rollback: false,
          reason: null,
        },
      ],
    });
    const pipeline = await engineApi(h, "GET", `/pipelines/${phasePipelineId}`);
    expect(pipeline.body.data).toMatchObject({
      type: "PHASE",
      parentId: shown.iterationPipelineId,
      refId: shown.phases[0].id,
      tag: "v1.0.0",
      rollback: false,
    });

    // While the release runs the iteration cannot go anywhere.
    const again = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "STAGING" });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe(2001);
    const another = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v1.0.1" });
    expect(another.status).toBe(409);
    expect(another.body.code).toBe(2001);
    expect(another.body.message).toMatch(/v1\.0\.0 .* is still RUNNING/);
    expect(await repo.resolveCommit("refs/tags/v1.0.1")).toBeNull();
  });

  it("answers 2002 for an unknown, lower-case or backwards target, and 2003 for RELEASE without a tag", async () => {
    const it0 = await developingIteration(h, appId);
    await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
    const cases: [unknown, number, number, RegExp][] = [
      [{ targetPhase: "PRODUCTION" }, 400, 2002, /^targetPhase: must be one of TESTING, STAGING, RELEASE/],
      [{ targetPhase: "staging" }, 400, 2002, /^targetPhase: must be one of/],
      [{ targetPhase: "DEVELOPING" }, 400, 2002, /^targetPhase: must be one of/],
      [{ targetPhase: "TESTING" }, 400, 2002, /^targetPhase: iteration \d+ is already in TESTING/],
      [{ targetPhase: "RELEASE" }, 409, 2003, /^tag: entering RELEASE needs a tag/],
      [
        { targetPhase: "RELEASE", tag: "1.0.0" },
        400,
        1001,
        /^tag: must be 'v' followed by a semantic version/,
      ],
      [{}, 400, 1001, /^targetPhase: is required/],
    ];
    for (const [payload, status, code, message] of cases) {
      const res = await api(h, "POST", `/iterations/${it0.id}/proceed`, payload);
      expect({ payload, status: res.status, code: res.body.code }).toEqual({ payload, status, code });
      expect(res.body.message).toMatch(message);
    }
    // Skipping a phase is the engine's to refuse (2002), with its reason.
    const skip = await api(h, "POST", `/iterations/${it0.id}/proceed`, {
      targetPhase: "RELEASE",
      tag: "v3.0.0",
    });
    expect(skip.status).toBe(400);
    expect(skip.body.code).toBe(2002);
    expect(skip.body.message).toMatch(/the next phase is STAGING, not RELEASE/);
    expect(await repo.resolveCommit("refs/tags/v3.0.0")).toBeNull();
    const unchanged = await api(h, "GET", `/iterations/${it0.id}`);
    expect(unchanged.body.data).toMatchObject({ status: "TESTING", currentPhase: "TESTING", phases: [] });
  });

  it("goes from DEVELOPING straight to RELEASE for an app whose phases are only RELEASE; other targets are 2002", async () => {
    await localRepo(h, "quick");
    const quick = await createApp(h, { gitRepoUrl: "local://quick", phases: ["RELEASE"] });
    const it0 = await developingIteration(h, quick);
    const testing = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
    expect(testing.status).toBe(400);
    expect(testing.body.code).toBe(2002);
    expect(testing.body.message).toMatch(
      /TESTING is not a phase of this app \(phases: DEVELOPING, RELEASE\)/,
    );
    const release = await api(h, "POST", `/iterations/${it0.id}/release`, { tag: "v0.1.0" });
    expect(release.status).toBe(200);
    expect(release.body.data).toMatchObject({ iterationId: it0.id, tag: "v0.1.0", status: "RUNNING" });
    await waitIteration(
      h,
      it0.id,
      (i) => i.status === "RELEASING" && i.currentPhase === "RELEASE",
      "RELEASING",
    );
  });

  it("answers 503 (9003) when pipeline-engine does not answer, and changes nothing", async () => {
    const it0 = await developingIteration(h, appId);
    await h.stopEngine();
    try {
      const started = Date.now();
      const res = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe(9003);
      expect(res.body.message).toMatch(/^pipeline-engine is unavailable/);
      const after = await api(h, "GET", `/iterations/${it0.id}`);
      expect(after.body.data).toMatchObject({ status: "DEVELOPING", currentPhase: "DEVELOPING" });
    } finally {
      await h.startEngine();
    }
    const res = await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
    expect(res.status).toBe(200);
  });
});

describe("events from pipeline-engine", () => {
  const handled = async (result: string) => {
    const m = await h.svc.deps.metrics.messagesHandled.get();
    return m.values
      .filter(
        (v) => v.labels["consumer"] === "dev-svc-iteration-phase-changed" && v.labels["result"] === result,
      )
      .reduce((n, v) => n + v.value, 0);
  };

  it("applies each iteration event once and in order: a repeated or older one changes nothing", async () => {
    const it0 = await developingIteration(h, appId);
    await api(h, "POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
    await eventually(
      async () =>
        (await sql(h.infra.databaseUrl, `select event_seq from dev.iteration where id = $1`, [it0.id]))[0]?.[
          "event_seq"
        ] === 2,
      "the TESTING event applied",
    );
    const duplicatesBefore = await handled("duplicate");
    const stale = Outbox.envelope(
      IterationPhaseChanged,
      {
        iterationId: it0.id,
        appId,
        pipelineId: it0.iterationPipelineId,
        phase: "DEVELOPING",
        iterationStatus: "DEVELOPING",
        phasePipelineId: null,
        iterationPhaseId: null,
        sequence: 1,
      },
      "test-stale",
    );
    await h.svc.deps.nats.js.publish(
      messageSubject(h.infra.envName, IterationPhaseChanged.type),
      JSON.stringify(stale),
    );
    await eventually(
      async () => (await handled("duplicate")) > duplicatesBefore,
      "the stale event acknowledged",
    );
    const after = await api(h, "GET", `/iterations/${it0.id}`);
    expect(after.body.data).toMatchObject({ status: "TESTING", currentPhase: "TESTING" });
  });
});
