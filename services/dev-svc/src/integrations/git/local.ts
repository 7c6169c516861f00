import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { isCommitId, isSafeRepoPath, isValidRefName, ZERO_COMMIT } from "../../domain/git-refs.js";
import type { LocalLocation } from "@procode/contracts";
import { claimLocalRepository } from "@procode/service-kit";
import { callWithPolicy, type CallObserver, type CallPolicy } from "./call-policy.js";
import { GitProviderError, tagExistsElsewhere } from "./errors.js";
import {
  CHAINED_HOOK_NAME,
  HOOK_CONFIG_DIR,
  HOOK_MARKER,
  HOOK_NODE_FILE,
  HOOK_SCRIPT_NAME,
  hookFiles,
} from "./local-hook.js";
import type {
  CommitRequest,
  CreatedTag,
  GitProvider,
  RefInfo,
  RepoInfo,
  TreeEntry,
  WebhookSpec,
} from "./provider.js";

class GitCommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Environment that keeps git away from the user's and the system's configuration and prompts. */
function gitEnv(gitDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: tmpdir(),
    GIT_DIR: gitDir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
    LC_ALL: "C",
    ...extra,
  };
}

function runGit(
  gitDir: string,
  args: string[],
  signal: AbortSignal,
  opts: { input?: Buffer | string; env?: Record<string, string> } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { env: gitEnv(gitDir, opts.env), signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e) => reject(e));
    child.on("close", (code) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const text = Buffer.concat(err).toString("utf8").trim();
      reject(new GitCommandError(`git ${args[0]} failed: ${text.split("\n")[0] ?? ""}`, text));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

export interface LocalProviderOptions {
  /** LOCAL_GIT_ROOT; undefined when LOCAL repositories are disabled. */
  root: string | undefined;
  /** How long the post-receive hook waits for the webhook (LOCAL_HOOK_TIMEOUT_MS). */
  hookTimeoutMs: number;
  /** The node binary the hook runs with. */
  nodePath?: string;
  /** The team of the app the provider works for: only the repository's owner reaches it. */
  team: string;
}

/**
 * LOCAL: plain git repositories on this machine, bare or not, under LOCAL_GIT_ROOT, driven
 * with the real git binary. Webhooks are a post-receive hook (see local-hook.ts). A repository
 * belongs to the team whose app first used it (the kit's claimLocalRepository); for any other team
 * it is not there at all, exactly as a repository that does not exist.
 */
export class LocalGitProvider implements GitProvider {
  readonly gitType = "LOCAL" as const;
  readonly describe: string;
  private gitDirCache: string | null = null;

  constructor(
    private readonly location: LocalLocation,
    private readonly opts: LocalProviderOptions,
    private readonly policy: CallPolicy,
    private readonly observe?: CallObserver,
  ) {
    this.describe = `local://${location.name}`;
  }

  private run<T>(op: string, fn: (signal: AbortSignal, gitDir: string) => Promise<T>): Promise<T> {
    return callWithPolicy(
      this.policy,
      this.describe,
      op,
      async ({ signal }) => {
        const gitDir = await this.gitDir();
        try {
          return await fn(signal, gitDir);
        } catch (err) {
          if (err instanceof GitProviderError) throw err;
          if (err instanceof GitCommandError)
            throw new GitProviderError("rejected", `${this.describe}: ${op}: ${err.message}`);
          throw new GitProviderError("unavailable", `${this.describe}: ${op}: ${(err as Error).message}`);
        }
      },
      this.observe,
    );
  }

  /** The repository's git directory: `<root>/<name>.git` (bare) or `<root>/<name>/.git`, or `<root>/<name>`. */
  private async gitDir(): Promise<string> {
    if (this.gitDirCache) return this.gitDirCache;
    const root = this.opts.root;
    if (!root) {
      throw new GitProviderError(
        "not_allowed",
        "LOCAL repositories are not enabled here (LOCAL_GIT_ROOT is not set)",
      );
    }
    const base = path.resolve(root);
    const candidates = [
      path.join(base, `${this.location.name}.git`),
      path.join(base, this.location.name, ".git"),
      path.join(base, this.location.name),
    ];
    const notFound = new GitProviderError(
      "repo_not_found",
      `no repository ${this.describe} (looked for ${this.location.name}.git and ${this.location.name} under LOCAL_GIT_ROOT)`,
      404,
    );
    for (const c of candidates) {
      if (!c.startsWith(base + path.sep)) continue;
      if (existsSync(path.join(c, "HEAD")) && existsSync(path.join(c, "objects"))) {
        // Another team's repository answers exactly like a missing one.
        if ((await claimLocalRepository(c, this.opts.team)) !== this.opts.team) throw notFound;
        this.gitDirCache = c;
        return c;
      }
    }
    throw notFound;
  }

  /** What a person clones: the repository's directory. */
  private async cloneUrl(gitDir: string): Promise<string> {
    return `file://${path.basename(gitDir) === ".git" ? path.dirname(gitDir) : gitDir}`;
  }

  private async refs(signal: AbortSignal, gitDir: string, prefix: string): Promise<RefInfo[]> {
    const out = (
      await runGit(
        gitDir,
        ["for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)", prefix],
        signal,
      )
    ).toString("utf8");
    return out
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [ref = "", sha = "", peeled = ""] = line.split("\0");
        return { name: ref.slice(prefix.length), commitId: peeled || sha };
      });
  }

  async probe(): Promise<RepoInfo> {
    return this.run("read the repository", async (signal, gitDir) => {
      const branches = await this.refs(signal, gitDir, "refs/heads/");
      const head = (
        await runGit(gitDir, ["symbolic-ref", "--short", "HEAD"], signal).catch(() => Buffer.from(""))
      )
        .toString("utf8")
        .trim();
      const defaultBranch = branches.some((b) => b.name === head) ? head : (branches[0]?.name ?? null);
      const anyRef = (await runGit(gitDir, ["for-each-ref", "--count=1", "refs/"], signal))
        .toString("utf8")
        .trim();
      return { defaultBranch, isEmpty: anyRef === "", cloneUrl: await this.cloneUrl(gitDir) };
    });
  }

  async isEmpty(): Promise<boolean> {
    return (await this.probe()).isEmpty;
  }

  async listBranches(): Promise<RefInfo[]> {
    return this.run("list branches", (signal, gitDir) => this.refs(signal, gitDir, "refs/heads/"));
  }

  async listTags(): Promise<RefInfo[]> {
    return this.run("list tags", (signal, gitDir) => this.refs(signal, gitDir, "refs/tags/"));
  }

  private async commitOf(signal: AbortSignal, gitDir: string, ref: string): Promise<string | null> {
    if (!ref || ref.startsWith("-")) return null;
    try {
      const out = await runGit(
        gitDir,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`],
        signal,
      );
      return out.toString("utf8").trim() || null;
    } catch (err) {
      if (err instanceof GitCommandError) return null;
      throw err;
    }
  }

  async resolveRef(ref: string): Promise<string> {
    return this.run(`resolve ${ref}`, async (signal, gitDir) => {
      const sha = await this.commitOf(signal, gitDir, ref);
      if (!sha)
        throw new GitProviderError(
          "ref_not_found",
          `${ref} is not a branch, tag or commit of ${this.describe}`,
          404,
        );
      return sha;
    });
  }

  async createTag(name: string, commitId: string): Promise<CreatedTag> {
    if (!isValidRefName(name)) throw new GitProviderError("rejected", `"${name}" is not a valid tag name`);
    return this.run(`create tag ${name}`, async (signal, gitDir) => {
      const target = isCommitId(commitId) ? await this.commitOf(signal, gitDir, commitId) : null;
      if (!target)
        throw new GitProviderError(
          "ref_not_found",
          `commit ${commitId} does not exist in ${this.describe}`,
          404,
        );
      try {
        // The empty old value makes git refuse when the tag exists: no race with a concurrent push.
        await runGit(gitDir, ["update-ref", `refs/tags/${name}`, target, ""], signal);
        await this.announce(gitDir, [{ before: ZERO_COMMIT, after: target, ref: `refs/tags/${name}` }]);
        return { name, commitId: target, created: true };
      } catch (err) {
        if (!(err instanceof GitCommandError)) throw err;
        const existing = await this.commitOf(signal, gitDir, `refs/tags/${name}`);
        if (existing === target) return { name, commitId: target, created: false };
        if (existing === null) throw err;
        throw tagExistsElsewhere(name, existing, target, 409);
      }
    });
  }

  async readFile(filePath: string, commitId: string): Promise<Buffer> {
    if (!isSafeRepoPath(filePath))
      throw new GitProviderError("file_not_found", `"${filePath}" is not a file path`);
    return this.run(`read ${filePath}`, async (signal, gitDir) => {
      const commit = await this.commitOf(signal, gitDir, commitId);
      if (!commit)
        throw new GitProviderError("ref_not_found", `${commitId} is not a commit of ${this.describe}`, 404);
      let type = "";
      try {
        type = (await runGit(gitDir, ["cat-file", "-t", `${commit}:${filePath}`], signal))
          .toString("utf8")
          .trim();
      } catch (err) {
        if (!(err instanceof GitCommandError)) throw err;
      }
      if (type !== "blob")
        throw new GitProviderError(
          "file_not_found",
          `${filePath} does not exist at ${commit.slice(0, 12)}`,
          404,
        );
      return runGit(gitDir, ["cat-file", "blob", `${commit}:${filePath}`], signal);
    });
  }

  async readTree(commitId: string): Promise<TreeEntry[]> {
    return this.run(`read the tree at ${commitId.slice(0, 12)}`, async (signal, gitDir) => {
      const commit = await this.commitOf(signal, gitDir, commitId);
      if (!commit)
        throw new GitProviderError("ref_not_found", `${commitId} is not a commit of ${this.describe}`, 404);
      const out = (await runGit(gitDir, ["ls-tree", "-r", "-t", "-z", commit], signal)).toString("utf8");
      return out
        .split("\0")
        .filter(Boolean)
        .map((line) => {
          const tab = line.indexOf("\t");
          const [mode = "", type = "", sha = ""] = line.slice(0, tab).split(" ");
          return { path: line.slice(tab + 1), type: type as TreeEntry["type"], mode, sha };
        });
    });
  }

  async commitFiles(request: CommitRequest): Promise<{ commitId: string }> {
    if (!isValidRefName(request.branch))
      throw new GitProviderError("rejected", `"${request.branch}" is not a valid branch name`);
    if (request.files.length === 0)
      throw new GitProviderError("rejected", "a commit needs at least one file");
    for (const f of request.files) {
      if (!isSafeRepoPath(f.path)) throw new GitProviderError("rejected", `"${f.path}" is not a file path`);
    }
    return this.run(`commit to ${request.branch}`, async (signal, gitDir) => {
      const ref = `refs/heads/${request.branch}`;
      const current = await this.commitOf(signal, gitDir, ref);
      let parent = current;
      if (!parent) {
        const head = (
          await runGit(gitDir, ["symbolic-ref", "--short", "HEAD"], signal).catch(() => Buffer.from(""))
        )
          .toString("utf8")
          .trim();
        parent =
          head && head !== request.branch ? await this.commitOf(signal, gitDir, `refs/heads/${head}`) : null;
      }
      const tmp = await mkdtemp(path.join(tmpdir(), "procode-index-"));
      const env = { GIT_INDEX_FILE: path.join(tmp, "index") };
      try {
        await runGit(gitDir, parent ? ["read-tree", parent] : ["read-tree", "--empty"], signal, { env });
        for (const f of request.files) {
          const blob = (await runGit(gitDir, ["hash-object", "-w", "--stdin"], signal, { input: f.content }))
            .toString("utf8")
            .trim();
          await runGit(gitDir, ["update-index", "--add", "--cacheinfo", `100644,${blob},${f.path}`], signal, {
            env,
          });
        }
        const tree = (await runGit(gitDir, ["write-tree"], signal, { env })).toString("utf8").trim();
        const author = request.author ?? { name: "Pro-code", email: "procode@localhost" };
        const commit = (
          await runGit(gitDir, ["commit-tree", tree, ...(parent ? ["-p", parent] : [])], signal, {
            input: request.message,
            env: {
              GIT_AUTHOR_NAME: author.name,
              GIT_AUTHOR_EMAIL: author.email,
              GIT_COMMITTER_NAME: author.name,
              GIT_COMMITTER_EMAIL: author.email,
            },
          })
        )
          .toString("utf8")
          .trim();
        try {
          // Compare-and-swap: fails when the branch moved since we read it.
          await runGit(gitDir, ["update-ref", ref, commit, current ?? ""], signal);
        } catch (err) {
          if (err instanceof GitCommandError)
            throw new GitProviderError("conflict", `${request.branch} changed while committing; retry`, 409);
          throw err;
        }
        await this.announce(gitDir, [{ before: current ?? ZERO_COMMIT, after: commit, ref }]);
        return { commitId: commit };
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }

  /**
   * Runs the post-receive hook for ref changes made here (not by a push), as hosted providers send
   * push events for commits and tags made through their API. In the background: it never delays or
   * fails the write.
   */
  private async announce(
    gitDir: string,
    updates: { before: string; after: string; ref: string }[],
  ): Promise<void> {
    const hook = path.join(gitDir, "hooks", "post-receive");
    if (!existsSync(hook) || !existsSync(path.join(gitDir, HOOK_CONFIG_DIR))) return;
    const child = spawn(hook, [], {
      env: gitEnv(gitDir),
      cwd: gitDir,
      stdio: ["pipe", "ignore", "ignore"],
      detached: false,
    });
    child.on("error", () => {});
    child.stdin.on("error", () => {});
    child.stdin.end(updates.map((u) => `${u.before} ${u.after} ${u.ref}`).join("\n") + "\n");
    child.unref();
  }

  async createWebhook(spec: WebhookSpec): Promise<{ id: string }> {
    return this.run("install the webhook", async (_signal, gitDir) => {
      const hooksDir = path.join(gitDir, "hooks");
      await mkdir(hooksDir, { recursive: true });
      const wrapper = path.join(hooksDir, "post-receive");
      if (existsSync(wrapper)) {
        const current = await readFile(wrapper, "utf8");
        // Someone else's hook keeps running, before ours.
        if (!current.includes(HOOK_MARKER)) await rename(wrapper, path.join(hooksDir, CHAINED_HOOK_NAME));
      }
      const files = hookFiles();
      await writeFile(path.join(hooksDir, HOOK_SCRIPT_NAME), files.script, { mode: 0o755 });
      await writeFile(path.join(hooksDir, HOOK_NODE_FILE), this.opts.nodePath ?? process.execPath);
      await writeFile(wrapper, files.wrapper, { mode: 0o755 });
      await chmod(wrapper, 0o755);
      const dir = path.join(gitDir, HOOK_CONFIG_DIR);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // One hook per URL: installing again replaces it (the secret may have changed).
      const id = createHash("sha256").update(spec.url).digest("hex").slice(0, 16);
      const file = path.join(dir, `${id}.json`);
      await writeFile(
        `${file}.tmp`,
        JSON.stringify({ url: spec.url, secret: spec.secret, timeoutMs: this.opts.hookTimeoutMs }),
        { mode: 0o600 },
      );
      await rename(`${file}.tmp`, file);
      return { id };
    });
  }

  async deleteWebhook(id: string): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(id)) return;
    await this.run("remove the webhook", async (_signal, gitDir) => {
      await rm(path.join(gitDir, HOOK_CONFIG_DIR, `${id}.json`), { force: true });
    });
  }

  /** Hook ids installed on this repository (tests and diagnostics). */
  async installedWebhooks(): Promise<string[]> {
    const gitDir = await this.gitDir();
    const dir = path.join(gitDir, HOOK_CONFIG_DIR);
    if (!(await stat(dir).catch(() => null))) return [];
    return (await readdir(dir)).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
  }

  async setCommitStatus(): Promise<void> {
    throw new GitProviderError("rejected", "a LOCAL repository has no commit status API");
  }
}
