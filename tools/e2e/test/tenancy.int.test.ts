import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Credential, Iteration, RepoBinding } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  sql,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import { call, localDelivery, localWebhookSecret, type Answer } from "./support/client.js";

/**
 * Tenancy over the real platform, every call through the gateway: names per team, LOCAL repositories
 * owned by one team, credentials checked against the caller's team, the public webhook route that
 * tells strangers nothing and is rate-limited per source, and Idempotency-Key on the creates.
 */

let infra: TestInfra;
let platform: Platform;
let red: string;
let blue: string;
const RATE_LIMIT = 15;

const as = <T = unknown>(token: string, method: string, url: string, opts: Parameters<typeof call>[3] = {}) =>
  call<T>(platform.gatewayUrl, method, url, { token, ...opts });

async function ok<T>(token: string, method: string, url: string, body?: unknown): Promise<T> {
  const r = await as<T>(token, method, url, body === undefined ? {} : { body });
  if (r.code !== 0) throw new Error(`${method} ${url}: ${r.status} ${r.code} ${r.message}`);
  return r.data;
}

const proCode = (name: string, gitRepoUrl: string, extra: Record<string, unknown> = {}) => ({
  name,
  devMode: "pro-code",
  techStack: "python",
  gitRepoUrl,
  ...extra,
});

async function bound(token: string, appId: number): Promise<RepoBinding> {
  return eventually(
    async () => {
      const repo = await ok<RepoBinding>(token, "GET", `/apps/${appId}/repo`);
      return repo.state === "BOUND" ? repo : null;
    },
    `app ${appId} bound`,
    60_000,
    200,
  );
}

beforeAll(async () => {
  infra = await createTestInfra("e2e_tenancy");
  const limits = { PUBLIC_RATE_LIMIT_MAX: String(RATE_LIMIT), PUBLIC_RATE_LIMIT_WINDOW_MS: "600000" };
  platform = await startPlatform(infra, {
    env: {
      "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500", ...limits },
      "ops-gateway": limits,
    },
  });
  red = await signToken({ sub: "rita", team: "red" }, platform.jwtSecret);
  blue = await signToken({ sub: "bert", team: "blue" }, platform.jwtSecret);
  for (const name of ["shared", "blue-own", "idem"]) {
    git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", `${name}.git`);
  }
});

afterAll(async () => {
  await platform?.stop();
  await infra?.cleanup();
});

describe("app names are per team", () => {
  it("lets two teams each have an app called the same; a second one in a team is 1002 about that team only", async () => {
    await ok(red, "POST", "/apps", { name: "same-name", devMode: "low-code" });
    const theirs = await as<App>(blue, "POST", "/apps", { body: { name: "same-name", devMode: "low-code" } });
    expect({ code: theirs.code, team: theirs.data.team }).toEqual({ code: 0, team: "blue" });
    const again = await as(blue, "POST", "/apps", { body: { name: "same-name", devMode: "low-code" } });
    expect({ status: again.status, code: again.code, message: again.message }).toEqual({
      status: 409,
      code: 1002,
      message: 'name: your team already has an app named "same-name"',
    });
    // Neither team sees the other's.
    const reds = await ok<{ items: App[] }>(red, "GET", "/apps?name=same-name");
    expect(reds.items.map((a) => a.team)).toEqual(["red"]);
  });
});

describe("a LOCAL repository belongs to the team whose app first bound it", () => {
  let redApp: App;

  beforeAll(async () => {
    redApp = await ok<App>(
      red,
      "POST",
      "/apps",
      proCode("red-agent", "local://shared", { scaffoldTemplate: "python-agent" }),
    );
    await bound(red, redApp.id);
  });

  it("refuses another team's app on it as unreachable (1003), in the words of a repository that is not there", async () => {
    const theirs = await as(blue, "POST", "/apps", { body: proCode("blue-on-shared", "local://shared") });
    const missing = await as(blue, "POST", "/apps", { body: proCode("blue-on-nothing", "local://nothing") });
    expect({ status: theirs.status, code: theirs.code }).toEqual({ status: 400, code: 1003 });
    expect(theirs.message).toBe(missing.message.replaceAll("nothing", "shared"));
    // Nor can a blue app move onto it.
    const own = await ok<App>(blue, "POST", "/apps", proCode("blue-own", "local://blue-own"));
    const moved = await as(blue, "PUT", `/apps/${own.id}/procode-config`, {
      body: { gitRepoUrl: "local://shared" },
    });
    expect({ status: moved.status, code: moved.code }).toEqual({ status: 400, code: 1003 });
    expect((await ok<{ items: App[] }>(blue, "GET", "/apps?name=blue-on")).items).toEqual([]);
  });

  it("leaves the owner's repository untouched: no foreign tag, hook or binding", async () => {
    const hooks = await sql<{ n: string }>(
      infra.databaseUrl,
      `select count(*)::text as n from dev.git_repo where external_git_url = 'local://shared'`,
    );
    expect(hooks[0]!.n).toBe("1");
    const secret = localWebhookSecret(path.join(platform.repoRoot, "shared.git"), redApp.id);
    expect(secret).toBeTruthy();
    expect(git(path.join(platform.repoRoot, "shared.git"), "tag", "--list").trim()).toBe("");
  });
});

describe("credentialId is checked against the caller's team", () => {
  let redGitlab: Credential;
  let redLocal: Credential;

  beforeAll(async () => {
    redGitlab = await ok<Credential>(red, "POST", "/credentials", {
      gitType: "GITLAB",
      name: "gl",
      token: "glpat-red",
    });
    redLocal = await ok<Credential>(red, "POST", "/credentials", {
      gitType: "LOCAL",
      name: "lo",
      token: "local-red",
    });
  });

  it.each([
    ["another team's credential", () => redLocal.id, /^credentialId: no credential .* in your team/],
    [
      "a credential that does not exist",
      () => "00000000-0000-4000-8000-000000000000",
      /^credentialId: no credential/,
    ],
    [
      "a credential for another provider",
      () => redGitlab.id,
      /^credentialId: credential .* is for GITLAB; the repository is on LOCAL/,
    ],
  ])("refuses %s at once as 1001 naming credentialId", async (what, id, message) => {
    const team = what === "another team's credential" ? blue : red;
    const r = await as(team, "POST", "/apps", {
      body: proCode(`cred-${id().slice(0, 8)}`, "local://nothing-yet", { credentialId: id() }),
    });
    expect({ status: r.status, code: r.code }, r.message).toEqual({ status: 400, code: 1001 });
    expect(r.message).toMatch(message);
  });

  it("refuses another team's credential in PUT procode-config too, and accepts the team's own", async () => {
    git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "red-cred.git");
    const app = await ok<App>(
      red,
      "POST",
      "/apps",
      proCode("red-cred", "local://red-cred", { credentialId: redLocal.id }),
    );
    expect(app.procodeConfig?.credentialId).toBe(redLocal.id);
    const [blueApp] = (await ok<{ items: App[] }>(blue, "GET", "/apps?name=blue-own")).items;
    const r = await as(blue, "PUT", `/apps/${blueApp!.id}/procode-config`, {
      body: { credentialId: redLocal.id },
    });
    expect({ status: r.status, code: r.code }).toEqual({ status: 400, code: 1001 });
    expect(r.message).toMatch(/^credentialId: no credential/);
  });
});

describe("the public webhook route", () => {
  const refused = { status: 401, code: 5002, message: "webhook refused: not signed for this app's webhook" };
  const rows = async (appId: number) =>
    sql<{ status: string; reason: string | null }>(
      infra.databaseUrl,
      `select status, reason from dev.webhook_delivery where app_id = $1 order by id`,
      [appId],
    );
  const answer = (r: Answer) => ({ status: r.status, code: r.code, message: r.message });

  it("gives one answer to every refusal, and keeps a row only for a bound app (its team reads why)", async () => {
    const [redApp] = (await ok<{ items: App[] }>(red, "GET", "/apps?name=red-agent")).items;
    const lowCode = await ok<App>(red, "POST", "/apps", { name: "no-repo", devMode: "low-code" });
    const secret = localWebhookSecret(path.join(platform.repoRoot, "shared.git"), redApp!.id);
    const forged = localDelivery("not-the-secret", { ref: "refs/heads/main" });
    const good = localDelivery(secret, { ref: "refs/heads/main" });
    const attempts: [string, string, { body: string; headers: Record<string, string> }][] = [
      ["a forged signature, bound app", `/webhooks/local/${redApp!.id}`, forged],
      ["another provider's path, bound app", `/webhooks/gitlab/${redApp!.id}`, good],
      ["an app without a repository", `/webhooks/local/${lowCode.id}`, good],
      ["an app that does not exist", `/webhooks/local/987654`, good],
    ];
    for (const [what, url, delivery] of attempts) {
      const r = await call(platform.gatewayUrl, "POST", url, delivery);
      expect({ what, ...answer(r) }).toEqual({ what, ...refused });
    }
    expect(await rows(lowCode.id)).toEqual([]);
    expect(await rows(987654)).toEqual([]);
    const mine = await ok<{ items: { status: string; reason: string | null }[] }>(
      red,
      "GET",
      `/apps/${redApp!.id}/repo/webhook-deliveries`,
    );
    const reasons = mine.items.filter((d) => d.status === "REJECTED").map((d) => d.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        "X-Procode-Signature-256 does not match the body",
        "the app's repository is LOCAL, not GITLAB",
      ]),
    );
  });

  it("is rate-limited per source address, as is the ops callback: 429 (5006) with Retry-After", async () => {
    const flood = async (url: string) => {
      const answers: Answer[] = [];
      for (let i = 0; i < RATE_LIMIT + 5; i++) {
        answers.push(
          await call(platform.gatewayUrl, "POST", url, {
            body: "{}",
            headers: { "x-forwarded-for": `10.9.${i}.1` },
          }),
        );
      }
      return answers;
    };
    for (const url of ["/webhooks/local/987655", "/deploy/callback"]) {
      const answers = await flood(url);
      // A caller cannot pick its address through the gateway: every one of these came from this host.
      const limited = answers.filter((r) => r.status === 429);
      expect(limited.length, url).toBeGreaterThanOrEqual(5);
      expect(limited[0]).toMatchObject({ code: 5006 });
      expect(limited[0]!.message).toMatch(/^too many requests from this address; retry in \d+ s$/);
      expect(Number(limited[0]!.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Another source (as an Ingress would report it to the service) has its own allowance.
    const other = await call(platform.processes["dev-svc"].url, "POST", "/webhooks/local/987655", {
      body: "{}",
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    expect(answer(other)).toEqual(refused);
  });
});

describe("Idempotency-Key on the creates", () => {
  const key = (k: string) => ({ "idempotency-key": k });

  it("answers a repeated POST /apps with the first answer and creates nothing; a different body is 9010", async () => {
    const body = proCode("idem-app", "local://idem");
    const first = await as<App>(red, "POST", "/apps", { body, headers: key("app-1") });
    const again = await as<App>(red, "POST", "/apps", { body, headers: key("app-1") });
    expect(first.code).toBe(0);
    expect(again.data).toEqual(first.data);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await ok<{ total: number }>(red, "GET", "/apps?name=idem-app")).total).toBe(1);
    const other = await as(red, "POST", "/apps", {
      body: { ...body, name: "idem-other" },
      headers: key("app-1"),
    });
    expect({ status: other.status, code: other.code }).toEqual({ status: 422, code: 9010 });
    expect(other.message).toMatch(/^Idempotency-Key: already used/);
    expect((await ok<{ total: number }>(red, "GET", "/apps?name=idem-other")).total).toBe(0);
    // The key is the team's: another team's request with it is its own.
    const theirs = await as<App>(blue, "POST", "/apps", {
      body: { name: "idem-app", devMode: "low-code" },
      headers: key("app-1"),
    });
    expect({ code: theirs.code, team: theirs.data.team }).toEqual({ code: 0, team: "blue" });
  });

  it("creates one iteration of 8 concurrent POST /iterations with one key, each answered with it", async () => {
    const [app] = (await ok<{ items: App[] }>(red, "GET", "/apps?name=red-agent")).items;
    const body = { appId: app!.id, name: "once", sourceBranch: "main" };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        as<Iteration>(red, "POST", "/iterations", { body, headers: key("it-1") }),
      ),
    );
    expect(answers.map((a) => a.code)).toEqual(Array(8).fill(0));
    expect(new Set(answers.map((a) => a.data.id)).size).toBe(1);
    const listed = await ok<{ items: Iteration[] }>(red, "GET", `/apps/${app!.id}/iterations`);
    expect(listed.items.filter((i) => i.name === "once")).toHaveLength(1);
  });

  it("answers a repeated POST /credentials with the first credential, and refuses a malformed key naming it", async () => {
    const body = { gitType: "GITHUB", name: "idem-cred", token: "ghp-idem" };
    const first = await as<Credential>(red, "POST", "/credentials", { body, headers: key("cred-1") });
    const again = await as<Credential>(red, "POST", "/credentials", { body, headers: key("cred-1") });
    expect(again.data).toEqual(first.data);
    const listed = await ok<{ items: Credential[] }>(red, "GET", "/credentials?pageSize=100");
    expect(listed.items.filter((c) => c.name === "idem-cred")).toHaveLength(1);
    const bad = await as(red, "POST", "/credentials", { body, headers: key("with space") });
    expect({ status: bad.status, code: bad.code }).toEqual({ status: 400, code: 1001 });
    expect(bad.message).toMatch(/^idempotency-key: /);
  });
});
