import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { App, PHASE_STAGE_DEFAULTS, ProcodeConfig } from "@procode/contracts";
import { createTestInfra, sql, type TestInfra } from "@procode/test-kit";
import { GitHttpServer, GitRepos } from "./support/git-http-server.js";
import { call, EventTap, startAppSvc, tokenFor, type AppRuntime } from "./support/harness.js";
import type { KeyRing } from "@procode/service-kit";

let infra: TestInfra;
let repos: GitRepos;
let git: GitHttpServer;
let svc: AppRuntime;
let keyRing: KeyRing;
let tap: EventTap;
let t1: string;
let t2: string;

const PUBLIC = "https://platform.example.com";

beforeAll(async () => {
  infra = await createTestInfra("app-svc-apps");
  repos = await GitRepos.create();
  await repos.bare("team/agent.git");
  await repos.bare("team/other.git");
  git = await new GitHttpServer(repos.root).start();
  ({ runtime: svc, keyRing } = await startAppSvc(infra, {
    GIT_ALLOW_HTTP: "true",
    GIT_ALLOWED_HOSTS: `127.0.0.1:${git.port}`,
    PUBLIC_BASE_URL: `${PUBLIC}/`,
    GIT_PROBE_TIMEOUT_MS: "3000",
  }));
  tap = await EventTap.start(infra, "test-app-events");
  t1 = await tokenFor(infra, "t1", "alice");
  t2 = await tokenFor(infra, "t2", "bob");
});

afterAll(async () => {
  await tap?.stop();
  await svc?.close();
  await git?.stop();
  await repos?.remove();
  await infra?.cleanup();
});

const repoUrl = (name = "team/agent.git") => `${git.base}/${name}`;
const post = (token: string | null, body: unknown) => call(svc, token, "POST", "/apps", body);
const put = (token: string, id: number, body: unknown) =>
  call(svc, token, "PUT", `/apps/${id}/procode-config`, body);

/** The app's events once every event app-svc committed has arrived: exactly `n`. */
async function eventsOf(appId: number, n: number) {
  await tap.settle();
  const events = tap.forApp(appId);
  expect(events).toHaveLength(n);
  return events;
}

const APP_KEYS = Object.keys(App.shape).sort();
const CONFIG_KEYS = Object.keys(ProcodeConfig.shape).sort();

describe("POST /apps", () => {
  it("creates a low-code app: the seed's fields, the caller's team, one app.created with procode null", async () => {
    const res = await post(t1, { name: "  low-one  ", devMode: "low-code" });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(res.body.message).toBe("success");
    const app = res.body.data;
    expect(Object.keys(app).sort()).toEqual(APP_KEYS);
    expect(app).toMatchObject({
      name: "low-one",
      devMode: "low-code",
      techStack: null,
      team: "t1",
      createdBy: "alice",
      procodeConfig: null,
    });
    expect(typeof app.id).toBe("number");
    expect(app.createdAt).toBe(app.updatedAt);

    const rows = await sql(infra.databaseUrl, `select * from app.agent_app where id = $1`, [app.id]);
    expect(rows[0]).toMatchObject({ name: "low-one", dev_mode: "low-code", team: "t1", revision: 1 });
    expect(
      await sql(infra.databaseUrl, `select 1 from app.procode_config where app_id = $1`, [app.id]),
    ).toEqual([]);

    const [event] = await eventsOf(app.id, 1);
    expect(event!.type).toBe("app.created.v1");
    expect(event!.subject).toBe(`${infra.envName}.app.created.v1`);
    expect(event!.data).toEqual({
      appId: app.id,
      team: "t1",
      name: "low-one",
      devMode: "low-code",
      techStack: null,
      revision: 1,
      procode: null,
      createdBy: "alice",
      updatedAt: app.updatedAt,
    });
  });

  it("creates a pro-code app after probing its repository, with a sealed 32-byte webhook secret", async () => {
    const before = git.requests.length;
    const res = await post(t1, {
      name: "pro-one",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: repoUrl(),
      scaffoldTemplate: "python-agent",
      credentialId: "cred-1",
    });
    expect(res.body.code).toBe(0);
    const app = res.body.data;
    expect(Object.keys(app).sort()).toEqual(APP_KEYS);
    expect(Object.keys(app.procodeConfig).sort()).toEqual(CONFIG_KEYS);
    expect(app).toMatchObject({ name: "pro-one", devMode: "pro-code", techStack: "python", team: "t1" });
    expect(app.procodeConfig).toEqual({
      appId: app.id,
      gitRepoUrl: repoUrl(),
      gitType: "GITLAB",
      scaffoldTemplate: "python-agent",
      credentialId: "cred-1",
      credentialRequired: false,
      webhookUrl: `${PUBLIC}/webhooks/gitlab/${app.id}`,
      stageConfigs: {},
      effectiveStageConfigs: PHASE_STAGE_DEFAULTS,
      phases: ["DEVELOPING", "TESTING", "STAGING", "RELEASE"],
      concurrency: "QUEUE",
      deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
      updatedAt: expect.any(String),
    });
    // The probe spoke git's smart-HTTP discovery to the repository.
    expect(git.requests.slice(before)).toEqual(["GET /team/agent.git/info/refs?service=git-upload-pack"]);

    const [row] = await sql<Record<string, any>>(
      infra.databaseUrl,
      `select * from app.procode_config where app_id = $1`,
      [app.id],
    );
    expect(row).toMatchObject({ git_type: "GITLAB", credential_id: "cred-1", credential_required: false });
    const secret = keyRing.open({ keyId: row!["webhook_secret_key_id"], ciphertext: row!["webhook_secret"] });
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    expect(JSON.stringify(res.body)).not.toContain(secret);
    expect(row!["webhook_secret"]).not.toContain(secret);

    const [event] = await eventsOf(app.id, 1);
    expect(event!.type).toBe("app.created.v1");
    expect(event!.correlationId).toEqual(expect.any(String));
    expect(event!.data).toMatchObject({
      appId: app.id,
      revision: 1,
      devMode: "pro-code",
      procode: {
        gitRepoUrl: repoUrl(),
        gitType: "GITLAB",
        credentialId: "cred-1",
        scaffoldTemplate: "python-agent",
        webhookUrl: `${PUBLIC}/webhooks/gitlab/${app.id}`,
        credentialRequired: false,
        stageConfigs: {},
        phases: ["DEVELOPING", "TESTING", "STAGING", "RELEASE"],
      },
    });
    expect(JSON.stringify(event)).not.toContain(secret);
    expect(keyRing.open(event!.data.procode!.webhookSecret)).toBe(secret);
  });

  it("uses a given gitType for a host that does not show one; the webhook URL follows it", async () => {
    const res = await post(t1, {
      name: "pro-github-enterprise",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: repoUrl("team/other.git"),
      gitType: "GITHUB",
    });
    expect(res.body.code).toBe(0);
    expect(res.body.data.procodeConfig).toMatchObject({
      gitType: "GITHUB",
      credentialId: null,
      scaffoldTemplate: null,
      webhookUrl: `${PUBLIC}/webhooks/github/${res.body.data.id}`,
    });
  });

  const tooLong = "x".repeat(101);
  const pro = { devMode: "pro-code", techStack: "python", gitRepoUrl: "https://gitlab.example.com/a/b.git" };
  it.each([
    ["no name", { devMode: "low-code" }, "name"],
    ["an empty name", { name: "   ", devMode: "low-code" }, "name"],
    ["a 101-character name", { name: tooLong, devMode: "low-code" }, "name"],
    ["no devMode", { name: "v1" }, "devMode"],
    ["an unknown devMode", { name: "v2", devMode: "no-code" }, "devMode"],
    ["pro-code without techStack", { ...pro, name: "v3", techStack: undefined }, "techStack"],
    ["pro-code without gitRepoUrl", { ...pro, name: "v4", gitRepoUrl: undefined }, "gitRepoUrl"],
    ["an unknown techStack", { ...pro, name: "v5", techStack: "java" }, "techStack"],
    [
      "a gitRepoUrl that is not a URL",
      { ...pro, name: "v6", gitRepoUrl: "gitlab.example.com/a" },
      "gitRepoUrl",
    ],
    [
      "an scp-style git address",
      { ...pro, name: "v7", gitRepoUrl: "git@gitlab.example.com:a/b.git" },
      "gitRepoUrl",
    ],
    ["an unknown scaffoldTemplate", { ...pro, name: "v8", scaffoldTemplate: "cobol" }, "scaffoldTemplate"],
    ["an unknown gitType", { ...pro, name: "v9", gitType: "BITBUCKET" }, "gitType"],
    ["a file:// URL", { ...pro, name: "v10", gitRepoUrl: "file:///etc/passwd" }, "gitRepoUrl"],
    [
      "an ssh:// URL",
      { ...pro, name: "v11", gitRepoUrl: "ssh://git@gitlab.example.com/a/b.git" },
      "gitRepoUrl",
    ],
    [
      "credentials in the URL",
      { ...pro, name: "v12", gitRepoUrl: "https://u:p@gitlab.example.com/a/b" },
      "gitRepoUrl",
    ],
    [
      "a URL without a repository path",
      { ...pro, name: "v13", gitRepoUrl: "https://gitlab.example.com/" },
      "gitRepoUrl",
    ],
    [
      "a gitType contradicting the host",
      { ...pro, name: "v14", gitRepoUrl: "https://github.com/a/b", gitType: "GITLAB" },
      "gitType",
    ],
    [
      "a local:// URL when local repositories are off",
      { ...pro, name: "v15", gitRepoUrl: "local://agent" },
      "gitRepoUrl",
    ],
    [
      "a repository on a low-code app",
      { name: "v16", devMode: "low-code", gitRepoUrl: "https://gitlab.example.com/a/b" },
      "gitRepoUrl",
    ],
    [
      "a credential on a low-code app",
      { name: "v17", devMode: "low-code", credentialId: "c" },
      "credentialId",
    ],
  ])("answers %s with 400/1001 naming the field", async (_what, body, field) => {
    const res = await post(t1, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1001);
    expect(res.body.message).toMatch(new RegExp(`^(.*; )?${field}: `));
    expect(res.body.data.fields.map((f: { field: string }) => f.field)).toContain(field);
  });

  it("names the rule in the message (pro-code without techStack, scheme file:)", async () => {
    const noStack = await post(t1, { ...pro, name: "m1", techStack: undefined });
    expect(noStack.body.message).toBe("techStack: is required for pro-code apps");
    const file = await post(t1, { ...pro, name: "m2", gitRepoUrl: "file:///etc/passwd" });
    expect(file.body.message).toMatch(/^gitRepoUrl: scheme file: is not supported/);
    const local = await post(t1, { ...pro, name: "m3", gitRepoUrl: "local://agent" });
    expect(local.body.message).toBe("gitRepoUrl: local repositories are not enabled");
  });

  it("accepts a 100-character name, and answers bad JSON and a missing token in the envelope", async () => {
    const name = "n".repeat(100);
    expect((await post(t1, { name, devMode: "low-code" })).body.data.name).toBe(name);
    const bad = await svc.deps.app.inject({
      method: "POST",
      url: "/apps",
      headers: { authorization: `Bearer ${t1}`, "content-type": "application/json" },
      payload: "{",
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 1001, message: "body: is not valid JSON", data: null });
    const anon = await post(null, { name: "anon", devMode: "low-code" });
    expect(anon.status).toBe(401);
    expect(anon.body.code).toBe(5001);
  });

  it("answers 1003 naming the reason when the repository is not there, and keeps nothing", async () => {
    const res = await post(t1, { ...pro, name: "pro-missing", gitRepoUrl: repoUrl("team/missing.git") });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      code: 1003,
      message: "gitRepoUrl: git repository not reachable: the repository was not found (HTTP 404)",
      data: { fields: [{ field: "gitRepoUrl", message: expect.any(String) }] },
    });
    expect(await sql(infra.databaseUrl, `select 1 from app.agent_app where name = 'pro-missing'`)).toEqual(
      [],
    );
    // The name was not taken by the failed attempt.
    expect((await post(t1, { name: "pro-missing", devMode: "low-code" })).body.code).toBe(0);
  });

  it("answers 1002 for a name the team already has; another team may use it (names are per team)", async () => {
    expect((await post(t1, { name: "taken", devMode: "low-code" })).body.code).toBe(0);
    const again = await post(t1, { name: "taken", devMode: "low-code" });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      code: 1002,
      message: 'name: your team already has an app named "taken"',
      data: { fields: [{ field: "name", message: "already exists in the team" }] },
    });
    const theirs = await post(t2, { name: "taken", devMode: "low-code" });
    expect(theirs.body.code).toBe(0);
    expect(theirs.body.data.team).toBe("t2");
  });

  it("lets exactly one of 10 concurrent creates with one name win in each team; the others get 1002", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(i % 2 ? t1 : t2, { name: "race", devMode: "low-code" })),
    );
    const codes = results.map((r) => r.body.code);
    expect(codes.filter((c) => c === 0)).toHaveLength(2);
    expect(codes.filter((c) => c === 1002)).toHaveLength(18);
    expect(results.filter((r) => r.body.code === 1002).every((r) => r.status === 409)).toBe(true);
    const rows = await sql<{ id: string; team: string }>(
      infra.databaseUrl,
      `select id, team from app.agent_app where name = 'race' order by team`,
    );
    expect(new Set(rows.map((r) => r.team)).size).toBe(2);
    const winners = results.filter((r) => r.body.code === 0).map((r) => r.body.data.id as number);
    expect(rows.map((r) => Number(r.id)).sort()).toEqual([...winners].sort());
    for (const id of winners) await eventsOf(id, 1);
    expect(tap.received.filter((e) => e.data.name === "race")).toHaveLength(2);
  });
});

describe("GET /apps and GET /apps/{id}", () => {
  let mine: number;
  let theirs: number;

  beforeAll(async () => {
    mine = (await post(t1, { name: "Search_Me 100%", devMode: "low-code" })).body.data.id;
    await post(t1, { name: "search-me-too", devMode: "low-code" });
    await post(t1, { name: "searchXme", devMode: "low-code" });
    theirs = (
      await post(t2, {
        name: "search-me-t2",
        devMode: "pro-code",
        techStack: "python",
        gitRepoUrl: repoUrl("team/other.git"),
      })
    ).body.data.id;
  });

  it("gets an app of the caller's team with its configuration", async () => {
    const res = await call(svc, t2, "GET", `/apps/${theirs}`);
    expect(res.body.code).toBe(0);
    expect(Object.keys(res.body.data).sort()).toEqual(APP_KEYS);
    expect(res.body.data.procodeConfig.webhookUrl).toBe(`${PUBLIC}/webhooks/gitlab/${theirs}`);
  });

  it("answers another team's app exactly like a missing one (404, 1004)", async () => {
    const other = await call(svc, t1, "GET", `/apps/${theirs}`);
    const missing = await call(svc, t1, "GET", `/apps/999999`);
    expect(other.status).toBe(404);
    expect(other.body).toEqual({ code: 1004, message: `app ${theirs} not found`, data: null });
    expect(missing.body).toEqual({ code: 1004, message: `app 999999 not found`, data: null });
  });

  it("answers a malformed id with 1001 naming it", async () => {
    for (const id of ["abc", "0", "-1", "1.5", "99999999999999999999"]) {
      const res = await call(svc, t1, "GET", `/apps/${id}`);
      expect(res.status, id).toBe(400);
      expect(res.body.code).toBe(1001);
      expect(res.body.message).toMatch(/^id: /);
    }
  });

  it("searches names case-insensitively, taking % and _ literally, within the caller's team", async () => {
    const names = async (q: string) =>
      (await call(svc, t1, "GET", `/apps?${q}`)).body.data.items.map((a: { name: string }) => a.name);
    expect((await names("name=SEARCH")).sort()).toEqual(["Search_Me 100%", "search-me-too", "searchXme"]);
    expect(await names("name=h_m")).toEqual(["Search_Me 100%"]);
    expect(await names(`name=${encodeURIComponent("100%")}`)).toEqual(["Search_Me 100%"]);
    expect(await names("name=search-me-t2")).toEqual([]);
    expect((await call(svc, t1, "GET", `/apps/${mine}`)).body.code).toBe(0);
  });

  it("pages newest first and filters by devMode", async () => {
    const all = (await call(svc, t1, "GET", "/apps?pageSize=100")).body.data;
    expect(all.items.every((a: { team: string }) => a.team === "t1")).toBe(true);
    expect(all.total).toBe(all.items.length);
    const ids = all.items.map((a: { id: number }) => a.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const p1 = (await call(svc, t1, "GET", "/apps?page=1&pageSize=2")).body.data;
    const p2 = (await call(svc, t1, "GET", "/apps?page=2&pageSize=2")).body.data;
    expect(p1).toMatchObject({ page: 1, pageSize: 2, total: all.total });
    expect([...p1.items, ...p2.items].map((a: { id: number }) => a.id)).toEqual(ids.slice(0, 4));
    const far = (await call(svc, t1, "GET", "/apps?page=1000&pageSize=2")).body.data;
    expect(far).toEqual({ items: [], total: all.total, page: 1000, pageSize: 2 });

    const pros = (await call(svc, t1, "GET", "/apps?devMode=pro-code&pageSize=100")).body.data.items;
    expect(pros.length).toBeGreaterThan(0);
    expect(pros.every((a: App) => a.devMode === "pro-code" && a.procodeConfig !== null)).toBe(true);
    const lows = (await call(svc, t1, "GET", "/apps?devMode=low-code&pageSize=100")).body.data.items;
    expect(lows.every((a: App) => a.devMode === "low-code" && a.procodeConfig === null)).toBe(true);
    expect(pros.length + lows.length).toBe(all.total);
  });

  it("answers bad paging and filters with 1001 naming the parameter", async () => {
    for (const [q, field] of [
      ["page=0", "page"],
      ["pageSize=101", "pageSize"],
      ["pageSize=x", "pageSize"],
      ["devMode=no-code", "devMode"],
    ] as const) {
      const res = await call(svc, t1, "GET", `/apps?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.code).toBe(1001);
      expect(res.body.message).toMatch(new RegExp(`^${field}: `));
    }
  });
});

describe("PUT /apps/{id}/procode-config", () => {
  let appId: number;
  let secret: string;
  const seedBody = () => ({
    gitRepoUrl: repoUrl(),
    scaffoldTemplate: "python-agent",
    credentialId: "cred-9",
  });

  beforeAll(async () => {
    const res = await post(t1, {
      name: "configurable",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: repoUrl(),
    });
    appId = res.body.data.id;
    const [created] = await eventsOf(appId, 1);
    secret = keyRing.open(created!.data.procode!.webhookSecret);
  });

  it("answers the seed's shape (appId, gitRepoUrl, webhookUrl) with the rest of the configuration", async () => {
    const before = await call(svc, t1, "GET", `/apps/${appId}`);
    const probes = git.requests.length;
    const res = await put(t1, appId, seedBody());
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(Object.keys(res.body.data).sort()).toEqual(CONFIG_KEYS);
    expect(res.body.data).toMatchObject({
      appId,
      gitRepoUrl: repoUrl(),
      webhookUrl: `${PUBLIC}/webhooks/gitlab/${appId}`,
      scaffoldTemplate: "python-agent",
      credentialId: "cred-9",
    });
    // Same URL: no new probe.
    expect(git.requests.length).toBe(probes);

    const events = await eventsOf(appId, 2);
    expect(events[1]!.type).toBe("app.procode_config_changed.v1");
    expect(events[1]!.data.revision).toBe(2);
    expect(events[1]!.data.procode).toMatchObject({
      credentialId: "cred-9",
      scaffoldTemplate: "python-agent",
    });
    // The secret is kept, not rotated.
    expect(keyRing.open(events[1]!.data.procode!.webhookSecret)).toBe(secret);

    const after = await call(svc, t1, "GET", `/apps/${appId}`);
    expect(Date.parse(after.body.data.updatedAt)).toBeGreaterThan(Date.parse(before.body.data.updatedAt));
    expect(Date.parse(after.body.data.procodeConfig.updatedAt)).toBeGreaterThan(
      Date.parse(before.body.data.procodeConfig.updatedAt),
    );
    expect(after.body.data.updatedAt).toBe(events[1]!.data.updatedAt);
  });

  it("changes nothing and emits nothing when the body changes nothing", async () => {
    const res = await put(t1, appId, seedBody());
    expect(res.body.code).toBe(0);
    await eventsOf(appId, 2);
    const [row] = await sql(infra.databaseUrl, `select revision from app.agent_app where id = $1`, [appId]);
    expect(row).toEqual({ revision: 2 });
  });

  it("stores stage overrides and phases, shows the effective stage configs, keeps what is left out", async () => {
    const res = await put(t1, appId, {
      ...seedBody(),
      stageConfigs: { PACKAGE: { driveMode: "MANUAL" }, BUILD: { maxRetries: 5 } },
      phases: ["RELEASE"],
      concurrency: "REJECT",
      deployConfig: { env: { MODE: "prod" }, resources: { cpu: "500m", memory: "1Gi" } },
    });
    expect(res.body.code).toBe(0);
    expect(res.body.data).toMatchObject({
      stageConfigs: { PACKAGE: { driveMode: "MANUAL" }, BUILD: { maxRetries: 5 } },
      effectiveStageConfigs: {
        ...PHASE_STAGE_DEFAULTS,
        PACKAGE: { ...PHASE_STAGE_DEFAULTS.PACKAGE, driveMode: "MANUAL" },
        BUILD: { ...PHASE_STAGE_DEFAULTS.BUILD, maxRetries: 5 },
      },
      phases: ["RELEASE"],
      concurrency: "REJECT",
      deployConfig: { env: { MODE: "prod" }, resources: { cpu: "500m", memory: "1Gi" } },
    });
    const events = await eventsOf(appId, 3);
    expect(events[2]!.data).toMatchObject({
      revision: 3,
      procode: {
        stageConfigs: { PACKAGE: { driveMode: "MANUAL" }, BUILD: { maxRetries: 5 } },
        phases: ["RELEASE"],
        concurrency: "REJECT",
      },
    });

    // A seed-shaped body (no settings) keeps the settings; clearing the template is a change.
    const kept = await put(t1, appId, {
      gitRepoUrl: repoUrl(),
      credentialId: "cred-9",
      scaffoldTemplate: null,
    });
    expect(kept.body.data).toMatchObject({
      scaffoldTemplate: null,
      phases: ["RELEASE"],
      concurrency: "REJECT",
      stageConfigs: { PACKAGE: { driveMode: "MANUAL" }, BUILD: { maxRetries: 5 } },
    });
    const four = await eventsOf(appId, 4);
    expect(four[3]!.data.revision).toBe(4);
  });

  it("probes a new URL: 401 is accepted and recorded as credentialRequired", async () => {
    const probes = git.requests.length;
    const res = await put(t1, appId, { gitRepoUrl: repoUrl("private/agent.git"), credentialId: "cred-9" });
    expect(res.body.code).toBe(0);
    expect(res.body.data).toMatchObject({
      gitRepoUrl: repoUrl("private/agent.git"),
      credentialRequired: true,
    });
    expect(git.requests.slice(probes)).toEqual(["GET /private/agent.git/info/refs?service=git-upload-pack"]);
    const events = await eventsOf(appId, 5);
    expect(events[4]!.data.procode).toMatchObject({ credentialRequired: true, gitType: "GITLAB" });
    expect(keyRing.open(events[4]!.data.procode!.webhookSecret)).toBe(secret);
  });

  it("refuses an unreachable new URL with 1003 and keeps the configuration as it was", async () => {
    const res = await put(t1, appId, { gitRepoUrl: repoUrl("team/nope.git"), credentialId: "cred-9" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1003);
    expect(res.body.message).toMatch(/not found \(HTTP 404\)/);
    const now = await call(svc, t1, "GET", `/apps/${appId}`);
    expect(now.body.data.procodeConfig.gitRepoUrl).toBe(repoUrl("private/agent.git"));
    await eventsOf(appId, 5);
  });

  it.each([
    ["no credentialId for a GitLab repository", () => ({ credentialId: null }), "credentialId"],
    [
      "a DEPLOY stage that is not ASYNC",
      () => ({ ...seedBody(), stageConfigs: { DEPLOY: { driveMode: "MANUAL" } } }),
      "stageConfigs.DEPLOY.driveMode",
    ],
    [
      "an ASYNC stage other than DEPLOY",
      () => ({ ...seedBody(), stageConfigs: { BUILD: { driveMode: "ASYNC" } } }),
      "stageConfigs.BUILD.driveMode",
    ],
    [
      "an unknown stage field",
      () => ({ ...seedBody(), stageConfigs: { BUILD: { retries: 1 } } }),
      "stageConfigs.BUILD",
    ],
    [
      "negative maxRetries",
      () => ({ ...seedBody(), stageConfigs: { BUILD: { maxRetries: -1 } } }),
      "stageConfigs.BUILD.maxRetries",
    ],
    ["phases without RELEASE", () => ({ ...seedBody(), phases: ["TESTING"] }), "phases"],
    ["phases out of order", () => ({ ...seedBody(), phases: ["RELEASE", "TESTING"] }), "phases"],
    ["an unknown concurrency", () => ({ ...seedBody(), concurrency: "PARALLEL" }), "concurrency"],
    ["an unknown scaffoldTemplate", () => ({ ...seedBody(), scaffoldTemplate: "x" }), "scaffoldTemplate"],
    [
      "a gitType contradicting the host",
      () => ({ ...seedBody(), gitRepoUrl: "https://gitee.com/a/b.git", gitType: "GITHUB" }),
      "gitType",
    ],
  ])("answers %s with 1001 naming the field and changes nothing", async (_what, body, field) => {
    const res = await put(t1, appId, body());
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1001);
    expect(res.body.message).toMatch(new RegExp(`^(.*; )?${field.replace(/\./g, "\\.")}: `));
    await eventsOf(appId, 5);
  });

  it("answers a low-code app with 1001 naming devMode", async () => {
    const low = (await post(t1, { name: "low-for-put", devMode: "low-code" })).body.data.id;
    const res = await put(t1, low, seedBody());
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1001);
    expect(res.body.message).toMatch(/^devMode: .*low-code/);
    await eventsOf(low, 1);
  });

  it("answers another team's app with 404/1004 and leaves it alone", async () => {
    const res = await put(t2, appId, seedBody());
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: 1004, message: `app ${appId} not found`, data: null });
    await eventsOf(appId, 5);
  });

  it("serializes concurrent changes: every event has its own revision", async () => {
    const results = await Promise.all(
      ["c-a", "c-b", "c-c", "c-d"].map((credentialId) =>
        put(t1, appId, { gitRepoUrl: repoUrl("private/agent.git"), credentialId }),
      ),
    );
    expect(results.every((r) => r.body.code === 0)).toBe(true);
    const events = await eventsOf(appId, 9);
    expect(events.map((e) => e.data.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const [row] = await sql(infra.databaseUrl, `select revision from app.agent_app where id = $1`, [appId]);
    expect(row).toEqual({ revision: 9 });
  });
});

describe("input the database cannot hold or people cannot read", () => {
  it.each([
    ["a NUL in the name", "POST", "/apps", { name: "a\u0000b", devMode: "low-code" }, "name", "NUL"],
    [
      "a control character in the name",
      "POST",
      "/apps",
      { name: "a\nb", devMode: "low-code" },
      "name",
      "control",
    ],
    [
      "a NUL in the repository URL",
      "POST",
      "/apps",
      {
        name: "nul-url",
        devMode: "pro-code",
        techStack: "python",
        gitRepoUrl: "https://gitlab.example.com/a\u0000",
      },
      "gitRepoUrl",
      "NUL",
    ],
    [
      "a NUL in the credential id",
      "POST",
      "/apps",
      {
        name: "nul-cred",
        devMode: "pro-code",
        techStack: "python",
        gitRepoUrl: "https://gitlab.example.com/a/b",
        credentialId: "c\u0000",
      },
      "credentialId",
      "NUL",
    ],
    ["a NUL in the name search", "GET", "/apps?name=%00", undefined, "name", "NUL"],
  ] as const)("answers %s with 1001 naming the field", async (_what, method, url, body, field, rule) => {
    const res = await call(svc, t1, method, url, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1001);
    expect(res.body.message).toMatch(new RegExp(`^${field}: must not contain ${rule}`));
  });

  it("answers a NUL inside the deploy settings with 1001 naming the path", async () => {
    const id = (
      await post(t1, { name: "nul-deploy", devMode: "pro-code", techStack: "python", gitRepoUrl: repoUrl() })
    ).body.data.id;
    const res = await put(t1, id, {
      gitRepoUrl: repoUrl(),
      credentialId: "c",
      deployConfig: { env: { A: "x\u0000" } },
    });
    expect(res.body).toMatchObject({
      code: 1001,
      message: "deployConfig.env.A: must not contain NUL characters",
    });
    await eventsOf(id, 1);
  });
});

describe("tables", () => {
  it("has the seed's unique indexes uk_name and uk_app_id", async () => {
    const rows = await sql<{ indexname: string; indexdef: string }>(
      infra.databaseUrl,
      `select indexname, indexdef from pg_indexes where schemaname = 'app' and indexname in ('uk_name', 'uk_app_id')
       order by indexname`,
    );
    expect(rows.map((r) => r.indexname)).toEqual(["uk_app_id", "uk_name"]);
    expect(rows.every((r) => r.indexdef.startsWith("CREATE UNIQUE INDEX"))).toBe(true);
  });

  it("keeps updated_at current for any update, also one that does not set it", async () => {
    const id = (await post(t1, { name: "touched", devMode: "low-code" })).body.data.id;
    const read = async () =>
      (
        await sql<{ created_at: Date; updated_at: Date }>(
          infra.databaseUrl,
          `select created_at, updated_at from app.agent_app where id = $1`,
          [id],
        )
      )[0]!;
    const before = await read();
    await sql(infra.databaseUrl, `update app.agent_app set tech_stack = 'python' where id = $1`, [id]);
    const after = await read();
    expect(after.created_at).toEqual(before.created_at);
    expect(after.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
  });
});

describe("OpenAPI", () => {
  it("documents the routes with the contract schemas", async () => {
    const spec = (await svc.deps.app.inject({ url: "/openapi.json" })).json();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(["/apps", "/apps/{id}", "/apps/{id}/procode-config"]),
    );
    const created = spec.paths["/apps"].post.responses["200"].content["application/json"].schema;
    expect(created.properties.data).toEqual({ $ref: "#/components/schemas/App" });
    expect(Object.keys(spec.components.schemas.App.properties).sort()).toEqual(APP_KEYS);
    const put =
      spec.paths["/apps/{id}/procode-config"].put.responses["200"].content["application/json"].schema;
    expect(put.properties.data).toEqual({ $ref: "#/components/schemas/ProcodeConfig" });
    expect(spec.components.schemas.ProcodeConfig.properties).toHaveProperty("webhookUrl");
    expect(spec.paths["/apps/{id}"].get.operationId).toBe("getApp");
  });
});

describe("PUT /apps/{id}/procode-config keeps what it leaves out", () => {
  let appId: number;
  beforeAll(async () => {
    const res = await post(t1, {
      name: "patched",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: repoUrl(),
      credentialId: "cred-1",
    });
    appId = res.body.data.id;
  });

  it("changes one stage setting per field and keeps the repository, credential and other stages", async () => {
    const first = await put(t1, appId, {
      stageConfigs: { PACKAGE: { driveMode: "MANUAL" }, BUILD: { maxRetries: 5 } },
    });
    expect(first.status).toBe(200);
    const second = await put(t1, appId, { stageConfigs: { PACKAGE: { maxRetries: 1 } } });
    expect(second.status).toBe(200);
    expect(second.body.data).toMatchObject({
      gitRepoUrl: repoUrl(),
      credentialId: "cred-1",
      stageConfigs: { PACKAGE: { driveMode: "MANUAL", maxRetries: 1 }, BUILD: { maxRetries: 5 } },
      effectiveStageConfigs: {
        PACKAGE: { ...PHASE_STAGE_DEFAULTS.PACKAGE, driveMode: "MANUAL", maxRetries: 1 },
        BUILD: { ...PHASE_STAGE_DEFAULTS.BUILD, maxRetries: 5 },
      },
    });
  });

  it("returns a setting to its default with null", async () => {
    const res = await put(t1, appId, { stageConfigs: { PACKAGE: { driveMode: null } } });
    expect(res.body.data.stageConfigs).toEqual({ PACKAGE: { maxRetries: 1 }, BUILD: { maxRetries: 5 } });
    expect(res.body.data.effectiveStageConfigs.PACKAGE.driveMode).toBe(
      PHASE_STAGE_DEFAULTS.PACKAGE.driveMode,
    );
  });

  it("refuses to remove the credential of a GitLab repository, naming credentialId", async () => {
    const res = await put(t1, appId, { credentialId: null });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 1001,
      message: "credentialId: is required for a GITLAB repository (create one with POST /credentials)",
    });
  });
});
