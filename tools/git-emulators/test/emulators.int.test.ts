import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createGiteeEmulator,
  createGitHubEmulator,
  createGitLabEmulator,
  giteeSignature,
  gitlabWebhookSignature,
  type GitEmulator,
} from "../src/index.js";

const TOKEN = "emu-token-1234567890";
let dir: string;
let gitlab: GitEmulator;
let github: GitEmulator;
let gitee: GitEmulator;
let receiver: http.Server;
let receiverUrl: string;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];

function sh(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      "git",
      args,
      {
        cwd,
        env: {
          PATH: process.env["PATH"] ?? "",
          HOME: tmpdir(),
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_TERMINAL_PROMPT: "0",
          GIT_AUTHOR_NAME: "T",
          GIT_AUTHOR_EMAIL: "t@example.com",
          GIT_COMMITTER_NAME: "T",
          GIT_COMMITTER_EMAIL: "t@example.com",
        },
      },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)),
    ),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "emulators-"));
  gitlab = createGitLabEmulator({ dataDir: path.join(dir, "gitlab"), tokens: { [TOKEN]: "dev" } });
  github = createGitHubEmulator({ dataDir: path.join(dir, "github"), tokens: { [TOKEN]: "dev" } });
  gitee = createGiteeEmulator({ dataDir: path.join(dir, "gitee"), tokens: { [TOKEN]: "dev" } });
  for (const emu of [gitlab, github, gitee]) {
    await emu.start();
    const repo = await emu.createRepo("acme/app", {
      files: { "README.md": "hi\n", "src/main.py": "print(1)\n" },
    });
    const main = (await repo.git.resolveCommit("refs/heads/main"))!;
    for (const b of ["a", "b", "c", "d"]) await repo.git.updateRef(`refs/heads/${b}`, main, null);
    await emu.createRepo("acme/empty", { visibility: "public" });
  }
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  for (const emu of [gitlab, github, gitee]) await emu?.close();
  await new Promise<void>((r) => receiver.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe("GitLab emulator", () => {
  const h = { "private-token": TOKEN };

  it("paginates with Link, X-Total, X-Page and X-Next-Page headers", async () => {
    const res = await fetch(`${gitlab.apiUrl}/projects/acme%2Fapp/repository/branches?per_page=2`, {
      headers: h,
    });
    expect(res.status).toBe(200);
    expect((await res.json()) as unknown[]).toHaveLength(2);
    expect(res.headers.get("x-total")).toBe("5");
    expect(res.headers.get("x-total-pages")).toBe("3");
    expect(res.headers.get("x-page")).toBe("1");
    expect(res.headers.get("x-next-page")).toBe("2");
    expect(res.headers.get("link")).toMatch(/page=2&per_page=2>; rel="next"/);
  });

  it("creates a tag from query parameters (as gitbeaker sends them), refuses a second one with 400", async () => {
    const url = `${gitlab.apiUrl}/projects/acme%2Fapp/repository/tags?tag_name=v1.0.0&ref=main`;
    const created = await fetch(url, { method: "POST", headers: h });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { name: string }).name).toBe("v1.0.0");
    const again = await fetch(url, { method: "POST", headers: h });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ message: "Tag v1.0.0 already exists" });
    const missing = await fetch(`${gitlab.apiUrl}/projects/acme%2Fapp/repository/tags?ref=main`, {
      method: "POST",
      headers: h,
    });
    expect(await missing.json()).toEqual({ error: "tag_name is missing" });
  });

  it("answers 401 to a wrong token, 404 to a private project without one", async () => {
    expect(
      (await fetch(`${gitlab.apiUrl}/projects/acme%2Fapp`, { headers: { "private-token": "nope" } })).status,
    ).toBe(401);
    const anon = await fetch(`${gitlab.apiUrl}/projects/acme%2Fapp`);
    expect(anon.status).toBe(404);
    expect(await anon.json()).toEqual({ message: "404 Project Not Found" });
    expect((await fetch(`${gitlab.apiUrl}/projects/acme%2Fempty`)).status).toBe(200);
  });

  it("serves git over smart HTTP (401 with a realm without credentials) and sends push hooks with its headers", async () => {
    const anon = await fetch(`${gitlab.url}/acme/app.git/info/refs?service=git-upload-pack`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toBe('Basic realm="GitLab"');
    // Discovery as app-svc's probe does it, with or without the .git suffix.
    const basic = { authorization: `Basic ${Buffer.from(`oauth2:${TOKEN}`).toString("base64")}` };
    for (const p of ["/acme/app.git", "/acme/app"]) {
      const res = await fetch(`${gitlab.url}${p}/info/refs?service=git-upload-pack`, { headers: basic });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/x-git-upload-pack-advertisement");
      expect(await res.text()).toContain("# service=git-upload-pack");
    }
    const hook = await fetch(`${gitlab.apiUrl}/projects/acme%2Fapp/hooks`, {
      method: "POST",
      headers: { ...h, "content-type": "application/json" },
      body: JSON.stringify({
        url: receiverUrl,
        token: "hook-secret",
        push_events: true,
        signing_token: "sign-key",
      }),
    });
    expect(hook.status).toBe(201);
    const clone = path.join(dir, "gl-clone");
    await sh(["clone", "--quiet", gitlab.authedRepoUrl("acme/app", TOKEN), clone], dir);
    await writeFile(path.join(clone, "x.txt"), "x");
    await sh(["add", "x.txt"], clone);
    await sh(["commit", "--quiet", "-m", "x"], clone);
    await sh(["push", "--quiet", "origin", "main"], clone);
    // The provider sends its hooks after the push has been answered, as GitLab does.
    const deadline = Date.now() + 5000;
    while (!received.some((r) => r.headers["x-gitlab-event"] === "Push Hook") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await gitlab.deliveriesSettled();
    const d = received.find((r) => r.headers["x-gitlab-event"] === "Push Hook")!;
    expect(d.headers["x-gitlab-token"]).toBe("hook-secret");
    const body = JSON.parse(d.body) as { object_kind: string; ref: string; after: string };
    expect(body).toMatchObject({ object_kind: "push", ref: "refs/heads/main" });
    expect(body.after).toBe((await sh(["rev-parse", "HEAD"], clone)).trim());
    expect(d.headers["webhook-signature"]).toBe(
      gitlabWebhookSignature(
        "sign-key",
        String(d.headers["webhook-id"]),
        String(d.headers["webhook-timestamp"]),
        d.body,
      ),
    );
  });
});

describe("GitHub emulator", () => {
  const h = { authorization: `token ${TOKEN}` };

  it("paginates with a Link header, answers an empty repository's Git Data API with 409", async () => {
    const res = await fetch(`${github.apiUrl}/repos/acme/app/branches?per_page=2`, { headers: h });
    expect(res.headers.get("link")).toMatch(/rel="next".*rel="last"/);
    const empty = await fetch(`${github.apiUrl}/repos/acme/empty/commits/main`, { headers: h });
    expect(empty.status).toBe(409);
    expect(((await empty.json()) as { message: string }).message).toBe("Git Repository is empty.");
    const unknown = await fetch(`${github.apiUrl}/repos/acme/app/commits/nope`, { headers: h });
    expect(unknown.status).toBe(422);
    expect(
      (await fetch(`${github.apiUrl}/repos/acme/app`, { headers: { authorization: "token bad" } })).status,
    ).toBe(401);
  });

  it("pings a new hook, signed with X-Hub-Signature-256", async () => {
    const res = await fetch(`${github.apiUrl}/repos/acme/app/hooks`, {
      method: "POST",
      headers: { ...h, "content-type": "application/json" },
      body: JSON.stringify({
        name: "web",
        events: ["push"],
        config: { url: receiverUrl, secret: "gh-secret" },
      }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { config: { secret: string } }).config.secret).toBe("********");
    await github.deliveriesSettled();
    const ping = received.find((r) => r.headers["x-github-event"] === "ping")!;
    expect(ping.headers["x-hub-signature-256"]).toBe(
      `sha256=${createHmac("sha256", "gh-secret").update(ping.body).digest("hex")}`,
    );
    expect(ping.headers["x-github-delivery"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("Gitee emulator", () => {
  it("takes access_token from the query, paginates with total_count/total_page, reads a missing file as []", async () => {
    const res = await fetch(
      `${gitee.apiUrl}/repos/acme/app/branches?access_token=${TOKEN}&per_page=2&page=3`,
    );
    expect(res.headers.get("total_count")).toBe("5");
    expect(res.headers.get("total_page")).toBe("3");
    expect((await res.json()) as unknown[]).toHaveLength(1);
    const missing = await fetch(`${gitee.apiUrl}/repos/acme/app/contents/nope.txt?access_token=${TOKEN}`);
    expect(await missing.json()).toEqual([]);
    const bad = await fetch(`${gitee.apiUrl}/repos/acme/app?access_token=bad`);
    expect(bad.status).toBe(401);
  });

  it("signs hooks created in signature mode with the timestamp (X-Gitee-Token, X-Gitee-Timestamp)", async () => {
    const res = await fetch(`${gitee.apiUrl}/repos/acme/app/hooks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        access_token: TOKEN,
        url: receiverUrl,
        password: "gitee-key",
        encryption_type: 1,
        tag_push_events: true,
      }),
    });
    expect(res.status).toBe(201);
    const tag = await fetch(`${gitee.apiUrl}/repos/acme/app/tags`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ access_token: TOKEN, refs: "main", tag_name: "v2.0.0" }).toString(),
    });
    expect(tag.status).toBe(201);
    await gitee.deliveriesSettled();
    const d = received.find((r) => r.headers["x-gitee-event"] === "Tag Push Hook")!;
    const ts = String(d.headers["x-gitee-timestamp"]);
    expect(d.headers["x-gitee-token"]).toBe(giteeSignature("gitee-key", ts));
    expect(JSON.parse(d.body)).toMatchObject({
      hook_name: "tag_push_hooks",
      ref: "refs/tags/v2.0.0",
      password: "",
    });
  });
});

describe("fault injection", () => {
  it("fails the next N requests with a status, over HTTP", async () => {
    await fetch(`${gitlab.url}/_emulator/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ failNext: { count: 2, status: 503 } }),
    });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${gitlab.apiUrl}/projects/acme%2Fempty`)).status);
    expect(statuses).toEqual([503, 503, 200]);
  });

  it("adds latency, goes down (connections destroyed) and comes back, control endpoints unaffected", async () => {
    // Control calls on their own connections: going down cuts every open one.
    const ctl = (body: unknown, pathName = "/_emulator/faults") =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          `${github.url}${pathName}`,
          {
            method: body === undefined ? "GET" : "POST",
            agent: false,
            headers: { "content-type": "application/json" },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    await ctl({ latencyMs: 300 });
    const t0 = Date.now();
    await fetch(`${github.apiUrl}/repos/acme/empty`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await ctl({ latencyMs: 0, down: true });
    // Down: the connection is dropped without an answer.
    await expect(fetch(`${github.apiUrl}/repos/acme/empty`)).rejects.toMatchObject({
      cause: { code: "UND_ERR_SOCKET" },
    });
    expect(await ctl(undefined, "/_emulator/requests")).toBe(200);
    await ctl({ down: false });
    expect((await fetch(`${github.apiUrl}/repos/acme/empty`)).status).toBe(200);
  });

  it("stops (connection refused) and starts again on the same port with its repositories", async () => {
    const url = `${gitee.apiUrl}/repos/acme/empty`;
    await gitee.stop();
    // A new connection is refused (fetch could reuse a kept-alive socket, so ask TCP directly).
    const connecting = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
      socket.on("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(connecting).toBe("ECONNREFUSED");
    await gitee.start();
    expect((await fetch(url)).status).toBe(200);
  });
});
