import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BareRepo, git } from "@procode/git-emulators";
import { createProviderFactory } from "../src/integrations/git/factory.js";
import { GitProviderError } from "../src/integrations/git/errors.js";
import type { GitProvider } from "../src/integrations/git/provider.js";
import { sh } from "./support/git-cli.js";
import { providerContract, seed } from "./support/provider-contract.js";
import { TEST_POLICY } from "./support/remote-contract.js";

let root: string;
let work: string;
let emptyCount = 0;

const factory = (localRoot: string | null = root, hookTimeoutMs = 1000) =>
  createProviderFactory({
    policy: TEST_POLICY,
    fetch: () => Promise.reject(new Error("no HTTP for LOCAL")),
    localRoot: localRoot ?? undefined,
    localHookTimeoutMs: hookTimeoutMs,
  });
const local = (name: string, hookTimeoutMs?: number): GitProvider =>
  factory(root, hookTimeoutMs)({ gitType: "LOCAL", repoUrl: `local://${name}`, team: "t", token: null });

async function bare(name: string): Promise<BareRepo> {
  const dir = path.join(root, `${name}.git`);
  await git(null, ["init", "--bare", "--quiet", "--initial-branch=main", dir]);
  return new BareRepo(dir);
}

async function failure(p: Promise<unknown>): Promise<GitProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GitProviderError);
    return err as GitProviderError;
  }
  throw new Error("expected the call to fail");
}

/** A receiver for the hook's deliveries. */
async function receiver(behaviour: "ok" | "hang" = "ok") {
  const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      if (behaviour === "ok") res.end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/local/1`;
  return {
    url,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "local-git-"));
  work = await mkdtemp(path.join(tmpdir(), "local-work-"));
  await seed(await bare("agent"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe("LOCAL adapter on real repositories", () => {
  providerContract("LOCAL", () => ({
    seeded: () => local("agent"),
    seededRepo: () => new BareRepo(path.join(root, "agent.git")),
    empty: async () => {
      const name = `empty-${++emptyCount}`;
      return { provider: local(name), repo: await bare(name) };
    },
    hooks: async () => {
      const dir = path.join(root, "agent.git", "procode-hooks");
      if (!existsSync(dir)) return [];
      return Promise.all(
        (await readdir(dir))
          .filter((f) => f.endsWith(".json"))
          .map(async (f) => {
            const cfg = JSON.parse(await readFile(path.join(dir, f), "utf8")) as {
              url: string;
              secret: string;
            };
            return { id: f.slice(0, -5), url: cfg.url, secret: cfg.secret };
          }),
      );
    },
  }));

  it("works on a non-bare repository made with git init and git commit", async () => {
    const dir = path.join(root, "worktree");
    await mkdir(dir);
    await sh(["init", "--quiet", "--initial-branch=main"], dir);
    await writeFile(path.join(dir, "app.py"), "print('hi')\n");
    await sh(["add", "app.py"], dir);
    await sh(["commit", "--quiet", "-m", "first"], dir);
    const head = (await sh(["rev-parse", "HEAD"], dir)).stdout.trim();
    const p = local("worktree");
    expect(await p.probe()).toMatchObject({
      defaultBranch: "main",
      isEmpty: false,
      cloneUrl: `file://${dir}`,
    });
    expect(await p.listBranches()).toEqual([{ name: "main", commitId: head }]);
    expect((await p.readFile("app.py", head)).toString()).toBe("print('hi')\n");
    expect(await p.createTag("v1.0.0", head)).toMatchObject({ created: true });
    expect((await sh(["rev-parse", "v1.0.0"], dir)).stdout.trim()).toBe(head);
  });

  it("refuses unknown repositories (1003), bad names, and everything when LOCAL_GIT_ROOT is unset", async () => {
    expect((await failure(local("missing").probe())).code).toBe(1003);
    expect(() => factory()({ gitType: "LOCAL", repoUrl: "local://../etc", team: "t", token: null })).toThrow(
      GitProviderError,
    );
    expect(() => factory()({ gitType: "LOCAL", repoUrl: "local://a/b", team: "t", token: null })).toThrow(
      /local:\/\/<name>/,
    );
    const off = factory(null)({ gitType: "LOCAL", repoUrl: "local://agent", team: "t", token: null });
    const err = await failure(off.probe());
    expect(err.code).toBe(1003);
    expect(err.message).toMatch(/LOCAL_GIT_ROOT/);
    expect((await failure(local("agent").readFile("../outside", "main"))).code).toBe(1008);
    expect((await failure(local("agent").createTag("-bad", "main"))).code).toBe(1007);
  });
});

describe("LOCAL repositories belong to one team", () => {
  const as = (team: string, name: string): GitProvider =>
    factory(root)({ gitType: "LOCAL", repoUrl: `local://${name}`, team, token: null });

  it("serves the team that used it first; to another team it is a repository that does not exist", async () => {
    const repo = await bare("owned");
    await seed(repo);
    const head = (await repo.refs("refs/heads/"))[0]!.sha;
    const tags = (await as("red", "owned").listTags()).map((t) => t.name);
    expect(tags.length).toBeGreaterThan(0);
    const missing = await failure(as("blue", "missing-one").probe());
    for (const attempt of [
      () => as("blue", "owned").probe(),
      () => as("blue", "owned").listTags(),
      () => as("blue", "owned").createTag("v9.9.9", head),
      () => as("blue", "owned").createWebhook({ url: "http://127.0.0.1:1/webhooks/local/9", secret: "s" }),
      () => as("blue", "owned").readFile("README.md", head),
    ]) {
      const err = await failure(attempt());
      expect({ code: err.code, failure: err.failure }).toEqual({
        code: missing.code,
        failure: missing.failure,
      });
      expect(err.message).toBe(missing.message.replaceAll("missing-one", "owned"));
    }
    expect((await repo.refs("refs/tags/")).map((r) => r.ref)).toEqual(tags.map((t) => `refs/tags/${t}`));
    expect(existsSync(path.join(repo.gitDir, "procode-hooks"))).toBe(false);
    // The owner still has it all.
    expect(await as("red", "owned").createTag("v1.0.0", head)).toMatchObject({ created: true });
  });

  it("gives a repository to exactly one of two teams using it at the same moment", async () => {
    await bare("contested");
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => as(i % 2 ? "red" : "blue", "contested").listBranches()),
    );
    const winners = new Set(
      results.flatMap((r, i) => (r.status === "fulfilled" ? [i % 2 ? "red" : "blue"] : [])),
    );
    expect(winners.size).toBe(1);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
  });
});

describe("LOCAL webhooks: the post-receive hook", () => {
  it("delivers each pushed ref, signed with the app's secret, with a fresh timestamp and delivery id", async () => {
    const repo = await bare("hooked");
    await seed(repo);
    const rx = await receiver();
    try {
      const secret = "local-secret-123";
      await local("hooked").createWebhook({ url: rx.url, secret });
      const clone = path.join(work, "hooked");
      await sh(["clone", "--quiet", path.join(root, "hooked.git"), clone], work);
      await writeFile(path.join(clone, "new.txt"), "new\n");
      await sh(["add", "new.txt"], clone);
      await sh(["commit", "--quiet", "-m", "second"], clone);
      const before = (await sh(["rev-parse", "HEAD~1"], clone)).stdout.trim();
      const after = (await sh(["rev-parse", "HEAD"], clone)).stdout.trim();
      await sh(["push", "--quiet", "origin", "main"], clone);
      expect(rx.got).toHaveLength(1);
      const d = rx.got[0]!;
      const body = JSON.parse(d.body) as Record<string, unknown>;
      expect(body).toMatchObject({
        event: "push",
        ref: "refs/heads/main",
        before,
        after,
        repository: "hooked",
      });
      const expected = `sha256=${createHmac("sha256", secret).update(d.body).digest("hex")}`;
      expect(d.headers["x-procode-signature-256"]).toBe(expected);
      expect(d.headers["x-procode-event"]).toBe("push");
      expect(d.headers["x-procode-delivery"]).toBe(body["deliveryId"]);
      expect(Number(d.headers["x-procode-timestamp"])).toBe(body["timestamp"]);
      expect(Math.abs(Date.now() / 1000 - Number(body["timestamp"]))).toBeLessThan(30);
      expect(d.body).not.toContain(secret);
    } finally {
      await rx.close();
    }
  });

  it("never fails a push when the platform is down, and never blocks it beyond the hook's timeout", async () => {
    const repo = await bare("down");
    await seed(repo);
    const hanging = await receiver("hang");
    try {
      // One hook to a closed port, one to a server that never answers.
      await local("down", 800).createWebhook({ url: "http://127.0.0.1:9/webhooks/local/2", secret: "s1" });
      await local("down", 800).createWebhook({ url: hanging.url, secret: "s2" });
      const clone = path.join(work, "down");
      await sh(["clone", "--quiet", path.join(root, "down.git"), clone], work);
      await writeFile(path.join(clone, "x.txt"), "x\n");
      await sh(["add", "x.txt"], clone);
      await sh(["commit", "--quiet", "-m", "x"], clone);
      const started = Date.now();
      const { stderr } = await sh(["push", "origin", "main"], clone);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(stderr).toMatch(/procode: webhook delivery for refs\/heads\/main failed/);
      expect(stderr).toMatch(/the push itself succeeded/);
      const remoteHead = await repo.resolveCommit("refs/heads/main");
      expect(remoteHead).toBe((await sh(["rev-parse", "HEAD"], clone)).stdout.trim());
    } finally {
      await hanging.close();
    }
  });

  it("keeps a post-receive hook that was there before, and announces commits and tags made by the adapter", async () => {
    const repo = await bare("chained");
    await seed(repo);
    const marker = path.join(work, "chained-ran");
    await writeFile(
      path.join(root, "chained.git", "hooks", "post-receive"),
      `#!/bin/sh\ncat > '${marker}'\n`,
      {
        mode: 0o755,
      },
    );
    const rx = await receiver();
    try {
      const p = local("chained");
      await p.createWebhook({ url: rx.url, secret: "s3" });
      const { commitId } = await p.commitFiles({
        branch: "main",
        message: "api",
        files: [{ path: "a.txt", content: "a" }],
      });
      await p.createTag("v9.9.9", commitId);
      const deadline = Date.now() + 5000;
      while (rx.got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const refs = rx.got.map((g) => (JSON.parse(g.body) as { ref: string; after: string }).ref).sort();
      expect(refs).toEqual(["refs/heads/main", "refs/tags/v9.9.9"]);
      expect((await readFile(marker, "utf8")).trim()).toMatch(/refs\/(heads\/main|tags\/v9\.9\.9)$/);
    } finally {
      await rx.close();
    }
  });
});
