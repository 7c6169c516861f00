import { createHmac, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BareRepo,
  createGiteeEmulator,
  createGitHubEmulator,
  createGitLabEmulator,
  git,
  type GitEmulator,
} from "@procode/git-emulators";
import type { GitType } from "@procode/contracts";
import { createTestInfra, eventually, holdTransaction, sql, type TestInfra } from "@procode/test-kit";
import { giteeSignature, localSignature } from "../src/git/webhook-signatures.js";
import { sh } from "./support/git-cli.js";
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

const TOKEN = "emulator-token-abcdef-0123456789";
const keys = newKeys();
let infra: TestInfra;
let svc: DevSvc;
let dir: string;
let localRoot: string;
const emus: Partial<Record<GitType, GitEmulator>> = {};
const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);

interface BoundApp {
  appId: number;
  secret: string;
}

async function credential(gitType: GitType): Promise<string> {
  const res = await svc.deps.app.inject({
    method: "POST",
    url: "/credentials",
    headers: { authorization: await bearer(infra) },
    payload: { gitType, name: `${gitType} token`, token: TOKEN },
  });
  return res.json().data.id as string;
}

/** An app of `gitType` whose webhook points at this dev-svc, bound through app-svc's event. */
async function bindApp(gitType: GitType, repoUrl: string, secret = randomSecret()): Promise<BoundApp> {
  const appId = newAppId();
  const credentialId = gitType === "LOCAL" ? null : await credential(gitType);
  await publishAppEvent(
    svc,
    "created",
    appSnapshot(keys, {
      appId,
      gitType,
      gitRepoUrl: repoUrl,
      credentialId,
      webhookUrl: `${svc.url}/webhooks/${gitType.toLowerCase()}/${appId}`,
      webhookSecret: secret,
    }),
  );
  await eventually(async () => {
    const r = await sql<{ state: string }>(
      infra.databaseUrl,
      `select state from dev.git_repo where app_id = $1`,
      [appId],
    );
    return r[0]?.state === "BOUND";
  }, `app ${appId} bound`);
  return { appId, secret };
}

async function post(gitType: string, appId: number, body: string, headers: Record<string, string>) {
  const res = await svc.deps.app.inject({
    method: "POST",
    url: `/webhooks/${gitType}/${appId}`,
    headers: { "content-type": "application/json", ...headers },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

const head = async (appId: number, branch: string) =>
  (
    await sql<{ commit_id: string }>(
      infra.databaseUrl,
      `select commit_id from dev.branch_head where app_id = $1 and branch = $2`,
      [appId, branch],
    )
  )[0]?.commit_id ?? null;

const deliveries = (appId: number) =>
  sql<{ delivery_id: string; status: string; reason: string | null; headers: unknown; payload: unknown }>(
    infra.databaseUrl,
    `select delivery_id, status, reason, headers, payload from dev.webhook_delivery where app_id = $1 order by id`,
    [appId],
  );

const githubSig = (secret: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

beforeAll(async () => {
  infra = await createTestInfra("dev-webhooks");
  dir = await mkdtemp(path.join(tmpdir(), "webhooks-"));
  localRoot = path.join(dir, "local");
  emus.GITLAB = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [TOKEN]: "tester" } });
  emus.GITHUB = createGitHubEmulator({ dataDir: path.join(dir, "github"), tokens: { [TOKEN]: "tester" } });
  emus.GITEE = createGiteeEmulator({ dataDir: path.join(dir, "gitee"), tokens: { [TOKEN]: "tester" } });
  for (const emu of Object.values(emus)) {
    await emu.start();
    await seed((await emu.createRepo("acme/agent")).git);
  }
  await git(null, ["init", "--bare", "--quiet", "--initial-branch=main", path.join(localRoot, "agent.git")]);
  await seed(new BareRepo(path.join(localRoot, "agent.git")));
  svc = await startDevSvc(
    infra,
    keys,
    { LOCAL_GIT_ROOT: localRoot, WEBHOOK_BODY_LIMIT_BYTES: "65536" },
    undefined,
    true,
  );
});

afterAll(async () => {
  await svc?.close();
  for (const emu of Object.values(emus)) await emu.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** The one answer to every refused delivery. */
const REFUSED = { code: 5002, message: "webhook refused: not signed for this app's webhook", data: null };

describe("webhook receivers: verification", () => {
  it("passes GitHub's published test vector over HTTP, and refuses the same signature on a tampered body", async () => {
    const app = await bindApp("GITHUB", emus.GITHUB!.repoUrl("acme/agent"), "It's a Secret to Everybody");
    const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const good = await post("github", app.appId, "Hello, World!", {
      "content-type": "text/plain",
      "x-hub-signature-256": signature,
      "x-github-event": "push",
    });
    // The signature holds; the body is then refused for not being JSON, which no push is.
    expect(good).toEqual({
      status: 400,
      body: { code: 1001, message: "body: is not valid JSON", data: expect.anything() },
    });
    const bad = await post("github", app.appId, "Hello, World?", {
      "content-type": "text/plain",
      "x-hub-signature-256": signature,
    });
    expect(bad).toEqual({ status: 401, body: REFUSED });
    // The reason is for the app's team, in its delivery log, not for whoever sent it.
    const rows = await deliveries(app.appId);
    expect(rows.map((r) => r.reason)).toContain("X-Hub-Signature-256 does not match the body");
  });

  it("acknowledges a signed push at once and records the branch head in the background; a replay changes nothing", async () => {
    const app = await bindApp("GITHUB", emus.GITHUB!.repoUrl("acme/agent"));
    const body = JSON.stringify({
      ref: "refs/heads/main",
      before: A,
      after: B,
      repository: { full_name: "acme/agent" },
    });
    const delivery = randomUUID();
    const headers = {
      "x-github-event": "push",
      "x-github-delivery": delivery,
      "x-hub-signature-256": githubSig(app.secret, body),
    };
    // Hold the branch-head table so the background work cannot finish: the acknowledgement must
    // not wait for it (a time bound would only measure the machine's load).
    const release = await holdTransaction(infra.databaseUrl, [
      "lock table dev.branch_head in exclusive mode",
    ]);
    let first: Awaited<ReturnType<typeof post>>;
    try {
      first = await post("github", app.appId, body, headers);
      const [row] = (await deliveries(app.appId)).filter((r) => r.delivery_id === delivery);
      expect(row!.status).toBe("RECEIVED");
      expect(await head(app.appId, "main")).toBeNull();
    } finally {
      await release();
    }
    expect(first).toEqual({
      status: 200,
      body: { code: 0, message: "success", data: { deliveryId: delivery, duplicate: false } },
    });
    await eventually(async () => (await head(app.appId, "main")) === B, "branch head recorded");
    const replay = await post("github", app.appId, body, headers);
    expect(replay.body.data).toEqual({ deliveryId: delivery, duplicate: true });
    const rows = await deliveries(app.appId);
    expect(rows.filter((r) => r.delivery_id === delivery).map((r) => r.status)).toEqual(["PROCESSED"]);
    expect(await head(app.appId, "main")).toBe(B);
  });

  it("refuses forged, unsigned and stale deliveries of every provider with one 401 answer, storing why for bound apps only", async () => {
    const gl = await bindApp("GITLAB", emus.GITLAB!.repoUrl("acme/agent"));
    const ge = await bindApp("GITEE", emus.GITEE!.repoUrl("acme/agent"));
    const lo = await bindApp("LOCAL", "local://agent");
    const gh = await bindApp("GITHUB", emus.GITHUB!.repoUrl("acme/agent"));
    const push = (extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        object_kind: "push",
        hook_name: "push_hooks",
        ref: "refs/heads/main",
        before: A,
        after: C,
        ...extra,
      });
    const now = Date.now();
    const oldGitee = String(now - 2 * 3600_000);
    const oldLocal = Math.floor(now / 1000) - 3600;
    const localBody = JSON.stringify({
      event: "push",
      deliveryId: "d-old",
      timestamp: oldLocal,
      ref: "refs/heads/main",
      before: A,
      after: C,
    });
    const cases: [string, number, string, Record<string, string>, RegExp][] = [
      [
        "gitlab",
        gl.appId,
        push(),
        { "x-gitlab-token": "guess", "x-gitlab-event": "Push Hook" },
        /X-Gitlab-Token does not match/,
      ],
      ["gitlab", gl.appId, push(), { "x-gitlab-event": "Push Hook" }, /X-Gitlab-Token is missing/],
      [
        "gitee",
        ge.appId,
        push(),
        { "x-gitee-token": giteeSignature(ge.secret, oldGitee), "x-gitee-timestamp": oldGitee },
        /outside the 3600 s window/,
      ],
      [
        "gitee",
        ge.appId,
        push(),
        { "x-gitee-token": "nope", "x-gitee-timestamp": String(now) },
        /X-Gitee-Token does not match/,
      ],
      [
        "local",
        lo.appId,
        localBody,
        {
          "x-procode-event": "push",
          "x-procode-delivery": "d-old",
          "x-procode-timestamp": String(oldLocal),
          "x-procode-signature-256": localSignature(lo.secret, localBody),
        },
        /outside the 300 s window/,
      ],
      [
        "github",
        gh.appId,
        push(),
        { "x-github-event": "push", "x-hub-signature-256": githubSig("forged", push()) },
        /does not match/,
      ],
      ["github", gh.appId, push(), { "x-github-event": "push" }, /missing/],
      // Signed for another app, or sent to the wrong provider's path.
      [
        "github",
        gl.appId,
        push(),
        { "x-hub-signature-256": githubSig(gl.secret, push()) },
        /repository is GITLAB, not GITHUB/,
      ],
      ["gitlab", 99999999, push(), { "x-gitlab-token": gl.secret }, /no repository binding/],
    ];
    for (const [type, appId, body, headers, reason] of cases) {
      const res = await post(type, appId, body, headers);
      // One answer whatever the reason: nothing tells a stranger which apps exist or how they are bound.
      expect({ status: res.status, body: res.body }, `${type} ${JSON.stringify(headers)}`).toEqual({
        status: 401,
        body: REFUSED,
      });
      const stored = (await deliveries(appId)).map((r) => r.reason ?? "");
      if (appId === 99999999) expect(stored).toEqual([]);
      else
        expect(
          stored.some((r) => reason.test(r)),
          `${reason} among ${JSON.stringify(stored)}`,
        ).toBe(true);
    }
    const huge = await post("gitlab", 1, push(), { "x-gitlab-token": gl.secret });
    expect(huge.status).toBe(401);
    const beyond = await svc.deps.app.inject({
      method: "POST",
      url: "/webhooks/gitlab/99999999999999999999999",
      headers: { "content-type": "application/json", "x-gitlab-token": gl.secret },
      payload: push(),
    });
    // An id no app can have is a bad parameter, never a crash.
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json()).toMatchObject({ code: 1001, message: expect.stringMatching(/^appId: /) });
    // Refusals are stored before the 401; wait only for what was accepted (GitHub's ping on hook
    // creation) to be settled by the worker, so every row is final.
    await eventually(
      async () =>
        (await Promise.all([gl, ge, lo, gh].map((a) => deliveries(a.appId)))).every((rows) =>
          rows.every((r) => r.status !== "RECEIVED"),
        ),
      "every delivery settled",
    );
    for (const app of [gl, ge, lo, gh]) {
      expect(await head(app.appId, "main")).toBeNull();
      // GitHub's ping on hook creation is the only delivery that got through (and it is not a push).
      const rows = (await deliveries(app.appId)).filter(
        (r) => !(r.status === "IGNORED" && /ping/.test(r.reason ?? "")),
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(row.status).toBe("REJECTED");
        expect(row.reason).toBeTruthy();
        expect(row.payload).toBeNull();
        expect(JSON.stringify(row)).not.toContain(app.secret);
      }
    }
  });

  it("accepts GitLab's token and Gitee's signature; records tag pushes; answers 413 for an oversized body", async () => {
    const gl = await bindApp("GITLAB", emus.GITLAB!.repoUrl("acme/agent"));
    const tag = JSON.stringify({
      object_kind: "tag_push",
      ref: "refs/tags/v1.2.3",
      before: "0".repeat(40),
      after: B,
    });
    const res = await post("gitlab", gl.appId, tag, {
      "x-gitlab-token": gl.secret,
      "x-gitlab-event": "Tag Push Hook",
    });
    expect(res.status).toBe(200);
    await eventually(async () => {
      const r = await sql<{ tag: string; commit_id: string }>(
        infra.databaseUrl,
        `select tag, commit_id from dev.tag_push where app_id = $1`,
        [gl.appId],
      );
      return r.length === 1 && r[0]!.tag === "v1.2.3" && r[0]!.commit_id === B;
    }, "tag push recorded");

    const ge = await bindApp("GITEE", emus.GITEE!.repoUrl("acme/agent"));
    const ts = String(Date.now());
    const body = JSON.stringify({
      hook_name: "push_hooks",
      password: "",
      sign: "x",
      ref: "refs/heads/dev",
      before: A,
      after: C,
    });
    const ok = await post("gitee", ge.appId, body, {
      "x-gitee-token": giteeSignature(ge.secret, ts),
      "x-gitee-timestamp": ts,
    });
    expect(ok.status).toBe(200);
    await eventually(async () => (await head(ge.appId, "dev")) === C, "gitee push recorded");
    const stored = (await deliveries(ge.appId)).find((r) => r.status === "PROCESSED")!;
    expect(stored.payload).not.toHaveProperty("password");
    expect(stored.payload).not.toHaveProperty("sign");

    // A signed payload the database could not store (a NUL in a commit message) is refused naming
    // the field, and the refusal is in the app's delivery log; nothing else changes.
    const nul = JSON.stringify({
      object_kind: "push",
      ref: "refs/heads/nul",
      before: A,
      after: B,
      commits: [{ message: "odd\u0000message" }],
    });
    const refused = await post("gitlab", gl.appId, nul, { "x-gitlab-token": gl.secret });
    expect(refused).toEqual({
      status: 400,
      body: {
        code: 1001,
        message: "commits.0.message: must not contain NUL characters",
        data: { fields: [{ field: "commits.0.message", message: "must not contain NUL characters" }] },
      },
    });
    expect((await deliveries(gl.appId)).map((r) => r.reason)).toContain(
      "commits.0.message: must not contain NUL characters",
    );
    expect(await head(gl.appId, "nul")).toBeNull();

    const big = await post("gitlab", gl.appId, JSON.stringify({ pad: "x".repeat(70000) }), {
      "x-gitlab-token": gl.secret,
    });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe(9004);
  });
});

describe("webhooks end to end: real deliveries from the emulators and a LOCAL post-receive hook", () => {
  async function pushCommit(url: string, name: string): Promise<string> {
    const clone = path.join(dir, `clone-${name}-${randomUUID().slice(0, 8)}`);
    await sh(["clone", "--quiet", url, clone], dir);
    await writeFile(path.join(clone, `${name}.txt`), `${name}\n`);
    await sh(["add", "."], clone);
    await sh(["commit", "--quiet", "-m", `change ${name}`], clone);
    await sh(["push", "--quiet", "origin", "main"], clone);
    return (await sh(["rev-parse", "HEAD"], clone)).stdout.trim();
  }

  for (const gitType of ["GITLAB", "GITHUB", "GITEE"] as const) {
    it(`${gitType}: a git push to the provider reaches dev-svc, is verified and moves the branch head`, async () => {
      const emu = emus[gitType]!;
      const repoPath = `acme/e2e-${gitType.toLowerCase()}`;
      await seed((await emu.createRepo(repoPath)).git);
      const app = await bindApp(gitType, emu.repoUrl(repoPath));
      const commit = await pushCommit(emu.authedRepoUrl(repoPath, TOKEN), gitType.toLowerCase());
      await eventually(async () => (await head(app.appId, "main")) === commit, `${gitType} push recorded`);
      const rows = await deliveries(app.appId);
      expect(rows.some((r) => r.status === "PROCESSED")).toBe(true);
      expect(rows.every((r) => r.status !== "REJECTED")).toBe(true);
      if (gitType === "GITHUB")
        expect(rows.some((r) => r.status === "IGNORED" && /ping/.test(r.reason ?? ""))).toBe(true);
    });
  }

  it("GitLab's signing token (webhook-signature) is verified end to end", async () => {
    const emu = emus.GITLAB!;
    await seed((await emu.createRepo("acme/signed")).git);
    const app = await bindApp("GITLAB", emu.repoUrl("acme/signed"));
    const hook = emu.repo("acme/signed")!.meta.hooks[0]!;
    hook.secret = null;
    hook.signingToken = app.secret;
    const commit = await pushCommit(emu.authedRepoUrl("acme/signed", TOKEN), "signed");
    await eventually(async () => (await head(app.appId, "main")) === commit, "signed push recorded");
  });

  it("LOCAL: a push runs the post-receive hook, whose signed delivery moves the branch head", async () => {
    const app = await bindApp("LOCAL", "local://agent");
    const commit = await pushCommit(path.join(localRoot, "agent.git"), "local");
    await eventually(async () => (await head(app.appId, "main")) === commit, "local push recorded");
    const rows = await deliveries(app.appId);
    expect(rows.map((r) => r.status)).toContain("PROCESSED");
    const view = await svc.deps.app.inject({
      url: `/apps/${app.appId}/repo/webhook-deliveries`,
      headers: { authorization: await bearer(infra) },
    });
    expect(view.json().data.total).toBeGreaterThan(0);
    expect(view.json().data.items[0]).toMatchObject({ gitType: "LOCAL", event: "push", status: "PROCESSED" });
    const other = await svc.deps.app.inject({
      url: `/apps/${app.appId}/repo/webhook-deliveries`,
      headers: { authorization: await bearer(infra, "team-b") },
    });
    expect(other.statusCode).toBe(404);
  });
});
