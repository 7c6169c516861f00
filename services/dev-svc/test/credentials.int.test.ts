import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGiteeEmulator, createGitLabEmulator, type GitEmulator } from "@procode/git-emulators";
import { KeyRing } from "@procode/service-kit";
import { createTestInfra, eventually, LogCapture, sql, type TestInfra } from "@procode/test-kit";
import { resealAll } from "../src/git/reencrypt.service.js";
import { Secrets } from "../src/git/secrets.js";
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

const GITLAB_TOKEN = "glpat-SECRET-gitlab-0a1b2c3d4e5f6789";
const GITEE_TOKEN = "gitee-SECRET-token-98f7e6d5c4b3a210";
const WRONG_TOKEN = "glpat-SECRET-wrong-ffeeddccbbaa0099";
const ALL_TOKENS = [GITLAB_TOKEN, GITEE_TOKEN, WRONG_TOKEN];
const serviceDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const k1 = newKeys("k1");
let infra: TestInfra;
let svc: DevSvc;
let gitlab: GitEmulator;
let gitee: GitEmulator;
let dir: string;
let auth: string;
const logs = new LogCapture();
/** Every response body this file received, to check none carries a token. */
const responses: string[] = [];

async function call(method: "GET" | "POST" | "DELETE", url: string, payload?: unknown, authz = auth) {
  const res = await svc.deps.app.inject({
    method,
    url,
    headers: { authorization: authz },
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  responses.push(res.body);
  return { status: res.statusCode, body: res.json() };
}

async function createCredential(gitType: string, token: string, name = "ci") {
  return call("POST", "/credentials", { gitType, name, token });
}

async function bindApp(
  gitType: "GITLAB" | "GITEE",
  emu: GitEmulator,
  credentialId: string,
  appId = newAppId(),
  revision = 1,
) {
  await publishAppEvent(
    svc,
    revision === 1 ? "created" : "changed",
    appSnapshot(k1, {
      appId,
      revision,
      gitType,
      gitRepoUrl: emu.repoUrl("acme/agent"),
      credentialId,
      webhookUrl: `http://127.0.0.1:9/webhooks/${gitType.toLowerCase()}/${appId}`,
      webhookSecret: randomSecret(),
    }),
  );
  return appId;
}

const state = async (appId: number) => (await call("GET", `/apps/${appId}/repo`)).body.data?.state;

function runReencrypt(keys: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(serviceDir, "node_modules", ".bin", "tsx"),
      ["src/commands/reencrypt.ts"],
      {
        cwd: serviceDir,
        env: {
          PATH: process.env["PATH"] ?? "",
          DATABASE_URL: infra.databaseUrl,
          ENCRYPTION_KEYS: keys,
          LOG_LEVEL: "warn",
        },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  infra = await createTestInfra("dev-credentials");
  dir = await mkdtemp(path.join(tmpdir(), "credentials-"));
  gitlab = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [GITLAB_TOKEN]: "tester" } });
  gitee = createGiteeEmulator({ dataDir: path.join(dir, "gitee"), tokens: { [GITEE_TOKEN]: "tester" } });
  for (const emu of [gitlab, gitee]) {
    await emu.start();
    await seed((await emu.createRepo("acme/agent")).git);
  }
  // Everything the service logs, at every level, for the no-token check.
  svc = await startDevSvc(infra, k1, { LOG_LEVEL: "trace", REPO_CACHE_TTL_MS: "0" }, logs);
  auth = await bearer(infra);
});

afterAll(async () => {
  await svc?.close();
  await gitlab?.close();
  await gitee?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe("credentials API", () => {
  it("stores a credential and answers with metadata only; the token is sealed under the active key", async () => {
    const res = await createCredential("GITLAB", `  ${GITLAB_TOKEN}\n`, "gitlab ci");
    expect(res.status).toBe(200);
    const c = res.body.data;
    expect(c).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      gitType: "GITLAB",
      name: "gitlab ci",
      username: null,
      keyId: "k1",
      createdBy: "alice",
      createdAt: expect.any(String),
    });
    const [row] = await sql<{ token_key_id: string; token_ciphertext: string }>(
      infra.databaseUrl,
      `select token_key_id, token_ciphertext from dev.credential where id = $1`,
      [c.id],
    );
    expect(row!.token_key_id).toBe("k1");
    // AES-256-GCM under k1, bound to this credential's id: it opens here and nowhere else.
    const ring = new KeyRing(k1);
    expect(ring.open({ keyId: "k1", ciphertext: row!.token_ciphertext }, `credential:${c.id}`)).toBe(
      GITLAB_TOKEN,
    );
    expect(() => ring.open({ keyId: "k1", ciphertext: row!.token_ciphertext }, "credential:other")).toThrow(
      "unable to authenticate data",
    );

    const list = await call("GET", "/credentials?pageSize=100");
    expect(list.body.data).toMatchObject({ page: 1, pageSize: 100, total: expect.any(Number) });
    expect(list.body.data.items.map((x: { id: string }) => x.id)).toContain(c.id);
    expect(Object.keys(list.body.data.items[0]).sort()).toEqual([
      "createdAt",
      "createdBy",
      "gitType",
      "id",
      "keyId",
      "name",
      "username",
    ]);
    expect((await call("GET", `/credentials/${c.id}`)).body.data).toEqual(c);
  });

  it("validates the body with 1001 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ gitType: "GITLAB", name: "x" }, "token"],
      [{ gitType: "SVN", name: "x", token: "t" }, "gitType"],
      [{ gitType: "GITLAB", name: "", token: "t" }, "name"],
      [{ gitType: "GITLAB", name: "x".repeat(101), token: "t" }, "name"],
      [{ gitType: "GITLAB", name: "x", token: "two words" }, "token"],
      [{ gitType: "GITLAB", name: "x", token: "" }, "token"],
      [{ gitType: "GITLAB", name: "a\u0000b", token: "t" }, "name"],
      [{ gitType: "GITLAB", name: "x", token: "t", username: "u\u0007" }, "username"],
    ];
    for (const [payload, field] of cases) {
      const res = await call("POST", "/credentials", payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect(res.body.code).toBe(1001);
      expect(res.body.message).toMatch(new RegExp(`^${field}: `));
    }
  });

  it("keeps credentials to their team (5004 for any other), and refuses to delete one in use (5005)", async () => {
    const c = (await createCredential("GITLAB", GITLAB_TOKEN, "shared")).body.data;
    const bob = await bearer(infra, "team-b", "bob");
    expect((await call("GET", `/credentials/${c.id}`, undefined, bob)).body.code).toBe(5004);
    expect((await call("DELETE", `/credentials/${c.id}`, undefined, bob)).status).toBe(404);
    expect((await call("GET", "/credentials", undefined, bob)).body.data).toEqual({
      items: [],
      total: 0,
      page: 1,
      pageSize: 20,
    });
    expect((await call("GET", "/credentials?pageSize=1000")).body.code).toBe(1001);
    expect((await call("GET", "/credentials/not-a-uuid")).body.code).toBe(5004);

    const appId = await bindApp("GITLAB", gitlab, c.id);
    await eventually(async () => (await state(appId)) === "BOUND", "bound with the credential");
    const inUse = await call("DELETE", `/credentials/${c.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body).toMatchObject({ code: 5005, data: { appIds: [appId] } });
    expect(inUse.body.message).toContain(String(appId));

    const other = (await createCredential("GITLAB", GITLAB_TOKEN, "replacement")).body.data;
    await bindApp("GITLAB", gitlab, other.id, appId, 2);
    await eventually(
      async () => (await call("GET", `/apps/${appId}/repo`)).body.data.credentialId === other.id,
      "rebound",
    );
    expect((await call("DELETE", `/credentials/${c.id}`)).body).toEqual({
      code: 0,
      message: "success",
      data: { id: c.id },
    });
    expect((await call("DELETE", `/credentials/${c.id}`)).body.code).toBe(5004);
  });
});

describe("service surface", () => {
  it("documents every route in OpenAPI and is ready", async () => {
    const spec = (await svc.deps.app.inject({ url: "/openapi.json" })).json();
    for (const p of [
      "/credentials",
      "/credentials/{id}",
      "/apps/{id}/repo",
      "/apps/{id}/repo/branches",
      "/apps/{id}/repo/tags",
      "/apps/{id}/repo/webhook-deliveries",
      "/apps/{id}/webide",
      "/webhooks/{gitType}/{appId}",
    ]) {
      expect(spec.paths[p], p).toBeDefined();
    }
    expect(spec.paths["/credentials"].post.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/CreateCredentialRequest",
    });
    expect(spec.components.schemas.CreateCredentialRequest.required).toContain("token");
    expect((await svc.deps.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    expect((await svc.deps.app.inject({ url: "/metrics" })).body).toMatch(
      /git_provider_calls_total|repo_binding_attempts_total/,
    );
  });
});

describe("no token anywhere", () => {
  it("uses tokens against GitLab and Gitee (good, wrong, failing) without one reaching a response, a log line or the database in clear", async () => {
    const gl = (await createCredential("GITLAB", GITLAB_TOKEN)).body.data;
    const ge = (await createCredential("GITEE", GITEE_TOKEN)).body.data;
    const wrong = (await createCredential("GITLAB", WRONG_TOKEN)).body.data;
    const a = await bindApp("GITLAB", gitlab, gl.id);
    const b = await bindApp("GITEE", gitee, ge.id);
    const c = await bindApp("GITLAB", gitlab, wrong.id);
    await eventually(async () => (await state(a)) === "BOUND" && (await state(b)) === "BOUND", "both bound");
    await eventually(async () => (await state(c)) === "NEEDS_CREDENTIAL", "wrong token refused");
    expect((await call("GET", `/apps/${c}/repo`)).body.data.lastError).toMatch(/GitLab answered 401/);
    expect((await call("GET", `/apps/${a}/repo/branches`)).body.data.items).toHaveLength(120);
    expect((await call("GET", `/apps/${b}/repo/tags`)).body.data.items).toHaveLength(2);
    // Failures on the way: provider errors, retries and an outage, with the token in every request.
    gitee.faults.failNext(10, 500);
    expect((await call("GET", `/apps/${b}/repo/branches`)).body.code).toBe(1006);
    gitee.faults.reset();
    gitlab.faults.goDown();
    await call("GET", `/apps/${a}/repo/tags`);
    gitlab.faults.comeBack();
    expect((await call("GET", `/apps/${c}/repo/branches`)).body.code).toBe(1007);

    // The credential table holds ciphertext only; so does every other table of the schema.
    const tables = await sql<{ table_name: string }>(
      infra.databaseUrl,
      `select table_name from information_schema.tables where table_schema = 'dev'`,
    );
    expect(tables.map((t) => t.table_name)).toContain("credential");
    let dump = "";
    for (const t of tables) {
      const rows = await sql(
        infra.databaseUrl,
        `select row_to_json(x)::text as j from dev."${t.table_name}" x`,
      );
      dump += rows.map((r) => r["j"] as string).join("\n");
    }
    expect(dump).toContain("token_ciphertext");
    expect(logs.lines.length).toBeGreaterThan(50);
    for (const token of ALL_TOKENS) {
      expect(dump).not.toContain(token);
      expect(logs.text()).not.toContain(token);
      for (const body of responses) expect(body).not.toContain(token);
    }
  });
});

describe("key rotation", () => {
  it("re-seals every credential and webhook secret under the new key, after which the old key can go", async () => {
    const c = (await createCredential("GITLAB", GITLAB_TOKEN, "rotate")).body.data;
    const appId = await bindApp("GITLAB", gitlab, c.id);
    await eventually(async () => (await state(appId)) === "BOUND", "bound before rotation");
    const k2 = newKeys("k2");
    const both = `${k2},${k1}`;
    const first = await runReencrypt(both);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/re-sealed under key "k2": \d+ credential\(s\), \d+ webhook secret\(s\)/);
    const keyIds = await sql<{ k: string }>(
      infra.databaseUrl,
      `select token_key_id as k from dev.credential union all select webhook_secret_key_id from dev.git_repo`,
    );
    expect(new Set(keyIds.map((r) => r.k))).toEqual(new Set(["k2"]));
    // Running it again changes nothing.
    const again = await resealAll(svc.deps.db, new Secrets(new KeyRing(both)), svc.deps.log);
    expect(again).toMatchObject({ activeKeyId: "k2", credentials: 0, webhookSecrets: 0, failed: [] });

    // The service with only the new key still reads with the credential.
    await svc.close();
    svc = await startDevSvc(infra, k2, { LOG_LEVEL: "trace", REPO_CACHE_TTL_MS: "0" }, logs);
    const branches = await call("GET", `/apps/${appId}/repo/branches`);
    expect(branches.body.data.items).toHaveLength(120);
    // A key ring without the key a row was sealed under is reported, not silently skipped.
    const missing = await resealAll(svc.deps.db, new Secrets(new KeyRing(newKeys("k3"))), svc.deps.log);
    expect(missing.failed.length).toBeGreaterThan(0);
    expect(missing.failed[0]!.reason).toMatch(/no key "k2" in the key ring/);
    expect(logs.text()).not.toContain(GITLAB_TOKEN);
  });
});
