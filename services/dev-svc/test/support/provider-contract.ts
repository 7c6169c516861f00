import { expect, it } from "vitest";
import type { BareRepo } from "@procode/git-emulators";
import { GitProviderError } from "../../src/integrations/git/errors.js";
import type { GitProvider } from "../../src/integrations/git/provider.js";

/**
 * What every GitProvider adapter must do, run against each provider (three emulators through their
 * real client libraries, and LOCAL against real repositories). The seeded repository has `main` with
 * README.md and src/agent/main.py, 119 more branches (so lists cross pages), a lightweight tag v0.1.0
 * and an annotated tag v0.2.0.
 */
export interface ContractHarness {
  /** The adapter for the seeded repository. */
  seeded(): GitProvider;
  /** The adapter for a fresh empty repository (a new one each call). */
  empty(): Promise<{ provider: GitProvider; repo: BareRepo }>;
  /** The seeded repository on disk, to check what the adapter did. */
  seededRepo(): BareRepo;
  /** Webhook URLs installed on the seeded repository, with their secret. */
  hooks(): Promise<{ id: string; url: string; secret: string | null }[]>;
}

const SEED_FILES = {
  "README.md": "# agent\n",
  "src/agent/main.py": "print('hello')\n",
};

/** Seeds a bare repository the way the contract expects. */
export async function seed(repo: BareRepo): Promise<void> {
  const main = await repo.commitActions(
    "main",
    "Initial commit",
    Object.entries(SEED_FILES).map(([path, content]) => ({
      action: "create",
      path,
      content: Buffer.from(content),
    })),
    { name: "Tester", email: "tester@example.com" },
    null,
  );
  const lines = Array.from(
    { length: 119 },
    (_, i) => `create refs/heads/feature/b${String(i).padStart(3, "0")} ${main}`,
  );
  await repo.run(["update-ref", "--stdin"], { input: `${lines.join("\n")}\n` });
  await repo.updateRef("refs/tags/v0.1.0", main, null);
  await repo.run(["tag", "-a", "v0.2.0", main, "-m", "annotated"], {
    env: { GIT_COMMITTER_NAME: "Tester", GIT_COMMITTER_EMAIL: "tester@example.com" },
  });
}

export function expectGitError(err: unknown, failure: string, code: number): GitProviderError {
  expect(err).toBeInstanceOf(GitProviderError);
  const e = err as GitProviderError;
  expect({ failure: e.failure, code: e.code }).toEqual({ failure, code });
  return e;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to fail");
}

export function providerContract(name: string, h: () => ContractHarness): void {
  it(`${name}: probe reports the default branch, and an empty repository as empty`, async () => {
    const info = await h().seeded().probe();
    expect(info).toMatchObject({ defaultBranch: "main", isEmpty: false });
    expect(info.cloneUrl).toMatch(/agent/);
    const { provider } = await h().empty();
    expect(await provider.probe()).toMatchObject({ defaultBranch: null, isEmpty: true });
    expect(await provider.isEmpty()).toBe(true);
  });

  it(`${name}: lists every branch across pages with its head commit`, async () => {
    const main = await h().seededRepo().resolveCommit("refs/heads/main");
    const branches = await h().seeded().listBranches();
    expect(branches).toHaveLength(120);
    expect(new Set(branches.map((b) => b.name)).size).toBe(120);
    expect(branches.find((b) => b.name === "main")).toEqual({ name: "main", commitId: main });
    expect(branches.find((b) => b.name === "feature/b118")?.commitId).toBe(main);
  });

  it(`${name}: lists tags with the commit each points at (annotated tags peeled)`, async () => {
    const main = await h().seededRepo().resolveCommit("refs/heads/main");
    const tags = await h().seeded().listTags();
    expect(tags.map((t) => t.name).sort()).toEqual(["v0.1.0", "v0.2.0"]);
    for (const t of tags) expect(t.commitId).toBe(main);
  });

  it(`${name}: resolves a branch, a tag and a commit id; an unknown ref is 1008`, async () => {
    const p = h().seeded();
    const main = await h().seededRepo().resolveCommit("refs/heads/main");
    expect(await p.resolveRef("main")).toBe(main);
    expect(await p.resolveRef("v0.2.0")).toBe(main);
    expect(await p.resolveRef(main!)).toBe(main);
    expectGitError(await failure(p.resolveRef("no-such-branch")), "ref_not_found", 1008);
  });

  it(`${name}: reads a file and the recursive tree at a commit; a missing file is 1008`, async () => {
    const p = h().seeded();
    const main = (await h().seededRepo().resolveCommit("refs/heads/main"))!;
    expect((await p.readFile("src/agent/main.py", main)).toString()).toBe(SEED_FILES["src/agent/main.py"]);
    const tree = await p.readTree(main);
    expect(
      tree
        .filter((e) => e.type === "blob")
        .map((e) => e.path)
        .sort(),
    ).toEqual(["README.md", "src/agent/main.py"]);
    expect(
      tree
        .filter((e) => e.type === "tree")
        .map((e) => e.path)
        .sort(),
    ).toEqual(["src", "src/agent"]);
    expect(tree.every((e) => /^[0-9a-f]{40}$/.test(e.sha))).toBe(true);
    expectGitError(await failure(p.readFile("nope.txt", main)), "file_not_found", 1008);
  });

  it(`${name}: creates a tag idempotently and refuses the same tag on another commit (2003)`, async () => {
    const p = h().seeded();
    const repo = h().seededRepo();
    const main = (await repo.resolveCommit("refs/heads/main"))!;
    const tag = `v1.0.${Date.now() % 100000}`;
    expect(await p.createTag(tag, main)).toEqual({ name: tag, commitId: main, created: true });
    expect(await repo.resolveCommit(`refs/tags/${tag}`)).toBe(main);
    expect(await p.createTag(tag, main)).toEqual({ name: tag, commitId: main, created: false });
    const other = await repo.commitActions(
      "side",
      "another commit",
      [{ action: "create", path: "side.txt", content: Buffer.from("x") }],
      { name: "Tester", email: "tester@example.com" },
      main,
    );
    const err = expectGitError(await failure(p.createTag(tag, other)), "tag_exists_elsewhere", 2003);
    expect(err.message).toContain(main.slice(0, 12));
    expect(await repo.resolveCommit(`refs/tags/${tag}`)).toBe(main);
  });

  it(`${name}: commits several files into an empty repository as one root commit, then on top of it`, async () => {
    const { provider, repo } = await h().empty();
    const first = await provider.commitFiles({
      branch: "main",
      message: "Scaffold",
      files: [
        { path: "app/main.py", content: "print(1)\n" },
        { path: "requirements.txt", content: "fastapi\n" },
        { path: "README.md", content: Buffer.from("# scaffold\n") },
      ],
    });
    expect(await repo.resolveCommit("refs/heads/main")).toBe(first.commitId);
    const info = await repo.commit(first.commitId);
    expect(info.parentIds).toEqual([]);
    expect(info.message.trim()).toBe("Scaffold");
    expect(
      (await repo.tree(first.commitId, true))
        .filter((e) => e.type === "blob")
        .map((e) => e.path)
        .sort(),
    ).toEqual(["README.md", "app/main.py", "requirements.txt"]);
    const second = await provider.commitFiles({
      branch: "main",
      message: "Update",
      files: [{ path: "app/main.py", content: "print(2)\n" }],
    });
    expect((await repo.commit(second.commitId)).parentIds).toEqual([first.commitId]);
    expect((await provider.readFile("app/main.py", second.commitId)).toString()).toBe("print(2)\n");
    expect((await provider.readFile("requirements.txt", second.commitId)).toString()).toBe("fastapi\n");
    expect(await provider.isEmpty()).toBe(false);
  });

  it(`${name}: installs one webhook per URL (replacing it), and deleting is idempotent`, async () => {
    const p = h().seeded();
    const url = `http://127.0.0.1:9/webhooks/x/${Date.now()}`;
    const a = await p.createWebhook({ url, secret: "first-secret" });
    const b = await p.createWebhook({ url, secret: "second-secret" });
    const mine = (await h().hooks()).filter((x) => x.url === url);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.id).toBe(b.id);
    expect(mine[0]!.secret).toBe("second-secret");
    void a;
    await p.deleteWebhook(b.id);
    expect((await h().hooks()).filter((x) => x.url === url)).toHaveLength(0);
    await p.deleteWebhook(b.id);
  });
}
