import diagnostics from "node:diagnostics_channel";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestInfra, freePort, sql, type TestInfra } from "@procode/test-kit";
import { claimLocalRepository } from "@procode/service-kit";
import { createRepositoryProbe } from "../src/integrations/repository-probe.js";
import { ConnectionRecorder, GitHttpServer, GitRepos } from "./support/git-http-server.js";
import { call, startAppSvc, tokenFor, type AppRuntime } from "./support/harness.js";

/**
 * The reachability probe behind 1003: git smart-HTTP discovery through the SSRF guard, and
 * real git for local repositories. Refused targets must be refused before any connection: a
 * listening socket records every connection, and undici's connect diagnostics record every attempt.
 */

let infra: TestInfra;
let repos: GitRepos;
let git: GitHttpServer;
let recorder: ConnectionRecorder;
let silent: ConnectionRecorder;
let closedPort: number;
let open: AppRuntime;
let strict: AppRuntime;
let token: string;
const attempts: string[] = [];

const onConnect = (message: unknown) => {
  const p = (message as { connectParams?: { hostname?: string; port?: string | number } }).connectParams;
  attempts.push(`${p?.hostname ?? "?"}:${p?.port ?? "?"}`);
};

beforeAll(async () => {
  infra = await createTestInfra("app-svc-probe");
  repos = await GitRepos.create();
  // The root itself is a working tree: a plain folder inside it must not pass as a repository.
  await repos.worktree(".");
  await repos.bare("team/agent.git");
  await repos.bare("bare-repo.git");
  await repos.worktree("work-repo");
  await mkdir(path.join(repos.root, "plain-folder"));
  git = await new GitHttpServer(repos.root).start();
  recorder = await new ConnectionRecorder().start();
  silent = await new ConnectionRecorder().start();
  closedPort = await freePort();
  token = await tokenFor(infra, "t1");
  ({ runtime: open } = await startAppSvc(infra, {
    GIT_ALLOW_HTTP: "true",
    GIT_ALLOWED_HOSTS: `127.0.0.1:${git.port}, 127.0.0.1:${silent.port},127.0.0.1:${closedPort}`,
    GIT_PROBE_TIMEOUT_MS: "800",
    LOCAL_GIT_ROOT: repos.root,
  }));
  // Defaults: https only, nothing allowlisted, no local repositories.
  ({ runtime: strict } = await startAppSvc(infra, { GIT_ALLOWED_HOSTS: `127.0.0.1:${git.port}` }));
  diagnostics.subscribe("undici:client:beforeConnect", onConnect);
});

afterAll(async () => {
  diagnostics.unsubscribe("undici:client:beforeConnect", onConnect);
  await open?.close();
  await strict?.close();
  await git?.stop();
  await recorder?.stop();
  await silent?.stop();
  await repos?.remove();
  await infra?.cleanup();
});

let n = 0;
const create = (svc: AppRuntime, gitRepoUrl: string) =>
  call(svc, token, "POST", "/apps", {
    name: `probe-${++n}`,
    devMode: "pro-code",
    techStack: "python",
    gitRepoUrl,
  });

const appRows = async () =>
  Number(
    (await sql<{ n: string }>(infra.databaseUrl, `select count(*)::text as n from app.agent_app`))[0]!.n,
  );

describe("smart-HTTP probe", () => {
  it("accepts a repository that answers git's discovery, and connects only to it", async () => {
    const before = attempts.length;
    const res = await create(open, `${git.base}/team/agent.git`);
    expect(res.body.code).toBe(0);
    expect(res.body.data.procodeConfig.credentialRequired).toBe(false);
    expect(git.requests).toContain("GET /team/agent.git/info/refs?service=git-upload-pack");
    // The connect diagnostics see real attempts (so their silence below means something).
    expect(attempts.slice(before)).toContain(`127.0.0.1:${git.port}`);
  });

  it("follows a redirect within allowed hosts", async () => {
    const res = await create(open, `${git.base}/redirect-here/team/agent.git`);
    expect(res.body.code).toBe(0);
  });

  it.each([
    ["401", "private/agent.git"],
    ["403", "forbidden/agent.git"],
  ])("accepts a repository answering %s and marks that it needs a credential", async (_status, repo) => {
    const res = await create(open, `${git.base}/${repo}`);
    expect(res.body.code).toBe(0);
    expect(res.body.data.procodeConfig.credentialRequired).toBe(true);
  });

  it.each([
    ["a missing repository", "team/missing.git", "the repository was not found (HTTP 404)"],
    [
      "a web page",
      "web/agent.git",
      "the server answered but not as a git repository (no smart-HTTP advertisement)",
    ],
    ["a server error", "broken/agent.git", "the server answered HTTP 502"],
  ])("answers %s with 1003 naming the reason", async (_what, repo, reason) => {
    const before = await appRows();
    const res = await create(open, `${git.base}/${repo}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(1003);
    expect(res.body.message).toBe(`gitRepoUrl: git repository not reachable: ${reason}`);
    expect(await appRows()).toBe(before);
  });

  it("gives up after GIT_PROBE_TIMEOUT_MS on a server that never answers (1003)", async () => {
    const started = Date.now();
    const res = await create(open, `http://127.0.0.1:${silent.port}/team/agent.git`);
    expect(res.body.code).toBe(1003);
    expect(res.body.message).toMatch(/no answer within 800 ms$/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(silent.connections).toBeGreaterThan(0);
  });

  it("answers a refused connection with 1003", async () => {
    const res = await create(open, `http://127.0.0.1:${closedPort}/team/agent.git`);
    expect(res.body.code).toBe(1003);
    expect(res.body.message).toMatch(/the connection was refused$/);
  });
});

describe("SSRF guard: refused before any connection", () => {
  const noAttempt = async (svc: AppRuntime, url: string, code: number, message: RegExp) => {
    const before = attempts.length;
    const gitRequests = git.requests.length;
    const res = await create(svc, url);
    expect(res.body.code, url).toBe(code);
    expect(res.body.message, url).toMatch(message);
    expect(attempts.slice(before), url).toEqual([]);
    expect(recorder.connections, url).toBe(0);
    expect(git.requests.length, url).toBe(gitRequests);
  };

  it("refuses loopback that is not allowlisted: http://127.0.0.1/..., [::1], localhost", async () => {
    await noAttempt(
      open,
      `http://127.0.0.1:${recorder.port}/team/agent.git`,
      1003,
      /refused: address 127\.0\.0\.1 is private, loopback, link-local or reserved$/,
    );
    await noAttempt(open, `http://127.0.0.1/team/agent.git`, 1003, /refused: address 127\.0\.0\.1/);
    await noAttempt(open, `http://[::1]:${recorder.port}/team/agent.git`, 1003, /refused: address ::1/);
    await noAttempt(
      open,
      `http://localhost:${recorder.port}/team/agent.git`,
      1003,
      /refused: host localhost/,
    );
    await noAttempt(open, `http://2130706433:${recorder.port}/team/agent.git`, 1003, /refused: address 127/);
  });

  it("refuses the metadata address http://169.254.169.254/... and private networks", async () => {
    await noAttempt(open, "http://169.254.169.254/latest/meta-data", 1003, /address 169\.254\.169\.254/);
    await noAttempt(open, "https://169.254.169.254/team/agent.git", 1003, /address 169\.254\.169\.254/);
    await noAttempt(open, "https://10.1.2.3/team/agent.git", 1003, /address 10\.1\.2\.3/);
    await noAttempt(open, "https://[fd00::1]/team/agent.git", 1003, /address fd00::1/);
  });

  it("refuses file://, ssh:// and other schemes as invalid parameters", async () => {
    await noAttempt(open, "file:///etc/passwd", 1001, /^gitRepoUrl: scheme file: is not supported/);
    await noAttempt(
      open,
      "ftp://gitlab.example.com/a.git",
      1001,
      /^gitRepoUrl: scheme ftp: is not supported/,
    );
    await noAttempt(open, "gopher://127.0.0.1:70/a", 1001, /^gitRepoUrl: scheme gopher:/);
  });

  it("refuses plain http unless GIT_ALLOW_HTTP, even for an allowlisted host", async () => {
    await noAttempt(
      strict,
      `${git.base}/team/agent.git`,
      1003,
      /refused: http is not allowed here; use https$/,
    );
  });

  it("refuses a redirect to a loopback address that is not allowlisted", async () => {
    const res = await create(open, `${git.base}/redirect-to/${recorder.port}/team/agent.git`);
    expect(res.body.code).toBe(1003);
    expect(res.body.message).toMatch(/refused: address 127\.0\.0\.1 is private/);
    expect(recorder.connections).toBe(0);
  });

  it("refuses a host name that resolves to loopback, at connect time", async () => {
    // The probe as app-svc builds it, with a resolver the test controls: the name passes every
    // check on the URL and only its answer from DNS is loopback (this host's DNS is not involved).
    const probe = createRepositoryProbe({
      policy: {
        allowHttp: true,
        allowHosts: [],
        resolve: async (name) => {
          if (name !== "gitlab.rebind.example") throw new Error(`unexpected lookup of ${name}`);
          return [{ address: "127.0.0.1", family: 4 }];
        },
      },
      timeoutMs: 3000,
      localRoot: undefined,
    });
    const url = `http://gitlab.rebind.example:${recorder.port}/team/agent.git`;
    expect(await probe.probe({ kind: "http", url, gitType: "GITLAB" }, "t")).toEqual({
      reachable: false,
      reason: "refused: gitlab.rebind.example resolves only to private or reserved addresses",
    });
    expect(recorder.connections).toBe(0);
  });
});

describe("LOCAL repositories (real git under LOCAL_GIT_ROOT)", () => {
  it.each([
    ["a bare repository by its name", "local://bare-repo", "local://bare-repo"],
    ["a bare repository by its .git name", "local://bare-repo.git", "local://bare-repo.git"],
    ["a working tree", "local://work-repo", "local://work-repo"],
  ])("accepts %s", async (_what, url, stored) => {
    const res = await create(open, url);
    expect(res.body.code).toBe(0);
    expect(res.body.data.procodeConfig).toMatchObject({
      gitRepoUrl: stored,
      gitType: "LOCAL",
      credentialRequired: false,
      webhookUrl: `http://127.0.0.1:8080/webhooks/local/${res.body.data.id}`,
    });
  });

  it("answers another team's repository with 1003 in the words of a missing one, and keeps nothing", async () => {
    await repos.bare("theirs.git");
    expect(await claimLocalRepository(path.join(repos.root, "theirs.git"), "another-team")).toBe(
      "another-team",
    );
    const before = await appRows();
    const theirs = await create(open, "local://theirs");
    const missing = await create(open, "local://not-theirs-either");
    expect(theirs.body.code).toBe(1003);
    expect(theirs.body.message).toBe(missing.body.message.replace("not-theirs-either", "theirs"));
    expect(await appRows()).toBe(before);
    // Once the caller's team owns one, it is reachable for it as before.
    await repos.bare("ours.git");
    await claimLocalRepository(path.join(repos.root, "ours.git"), "t1");
    expect((await create(open, "local://ours")).body.code).toBe(0);
  });

  it("answers a missing repository and a plain folder inside a working tree with 1003", async () => {
    for (const url of ["local://nothing-here", "local://plain-folder"]) {
      const res = await create(open, url);
      expect(res.body.code, url).toBe(1003);
      expect(res.body.message).toMatch(/no git repository named .* under the local repository root$/);
    }
  });

  it.each([
    "local://..",
    "local://.",
    "local://team/agent.git",
    "local://-upload-pack=touch",
    "local://a%2F..%2F..",
    "local:bare-repo",
  ])("refuses %s as an invalid name (no traversal, no options)", async (url) => {
    const res = await create(open, url);
    expect(res.body.code).toBe(1001);
    expect(res.body.message).toMatch(/^gitRepoUrl: a local repository is named local:\/\/<name>/);
  });

  it("refuses local:// when no LOCAL_GIT_ROOT is configured, and LOCAL with an https URL", async () => {
    const off = await create(strict, "local://bare-repo");
    expect(off.body).toMatchObject({ code: 1001, message: "gitRepoUrl: local repositories are not enabled" });
    const mismatch = await call(open, token, "POST", "/apps", {
      name: "local-mismatch",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: "https://gitlab.example.com/a/b.git",
      gitType: "LOCAL",
    });
    expect(mismatch.body).toMatchObject({
      code: 1001,
      message: "gitType: LOCAL repositories are named local://<name>",
    });
  });
});
