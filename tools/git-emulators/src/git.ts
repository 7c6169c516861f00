import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** Thrown when a git command fails; `stderr` says why. */
export class GitCommandError extends Error {
  override name = "GitCommandError";
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/** Environment that keeps git away from the user's and the system's configuration. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
    LC_ALL: "C",
    ...extra,
  };
}

/** Runs git with `args` on a repository (`gitDir`), feeding `input` to stdin; resolves with stdout. */
export function git(
  gitDir: string | null,
  args: string[],
  opts: { input?: Buffer | string; env?: Record<string, string>; cwd?: string } = {},
): Promise<Buffer> {
  const env = cleanEnv({ ...(gitDir ? { GIT_DIR: gitDir } : {}), ...opts.env });
  return new Promise((resolve, reject) => {
    if (opts.input === undefined) {
      execFile(
        "git",
        args,
        { env, cwd: opts.cwd, encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) {
            const text = stderr.toString("utf8").trim();
            reject(
              new GitCommandError(
                `git ${args[0]} failed: ${text || err.message}`,
                text,
                typeof err.code === "number" ? err.code : null,
              ),
            );
          } else resolve(stdout);
        },
      );
      return;
    }
    const child = spawn("git", args, { env, cwd: opts.cwd });
    const out: Buffer[] = [];
    const errs: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => errs.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const text = Buffer.concat(errs).toString("utf8").trim();
      reject(new GitCommandError(`git ${args[0]} failed: ${text}`, text, code));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input);
  });
}

export const ZERO_SHA = "0000000000000000000000000000000000000000";

export interface RefEntry {
  /** Full ref name, e.g. refs/heads/main. */
  ref: string;
  /** The object the ref points to (a commit, or an annotated tag object). */
  sha: string;
  objectType: string;
  /** The commit behind it (peeled). */
  commitId: string;
}

export interface TreeEntry {
  mode: string;
  type: "blob" | "tree" | "commit";
  sha: string;
  size: number | null;
  path: string;
}

export interface CommitInfo {
  id: string;
  treeId: string;
  parentIds: string[];
  authorName: string;
  authorEmail: string;
  authoredDate: string;
  committerName: string;
  committerEmail: string;
  committedDate: string;
  message: string;
}

export interface FileAction {
  action: "create" | "update" | "delete";
  path: string;
  content?: Buffer;
}

/** Git operations on one bare repository, with real objects, trees and commits. */
export class BareRepo {
  constructor(readonly gitDir: string) {}

  run(args: string[], opts: { input?: Buffer | string; env?: Record<string, string> } = {}) {
    return git(this.gitDir, args, opts);
  }

  async refs(prefix = "refs/"): Promise<RefEntry[]> {
    const out = (
      await this.run([
        "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)",
        prefix,
      ])
    ).toString("utf8");
    return out
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [ref = "", sha = "", objectType = "", peeled = ""] = line.split("\0");
        return { ref, sha, objectType, commitId: peeled || sha };
      });
  }

  async branches(): Promise<RefEntry[]> {
    return this.refs("refs/heads/");
  }

  async tags(): Promise<RefEntry[]> {
    return this.refs("refs/tags/");
  }

  async isEmpty(): Promise<boolean> {
    return (await this.refs()).length === 0;
  }

  /** The branch HEAD names (e.g. "main"), whether or not it exists yet. */
  async headBranch(): Promise<string> {
    const out = (await this.run(["symbolic-ref", "--short", "HEAD"])).toString("utf8").trim();
    return out || "main";
  }

  /** The default branch when it exists, else the first branch, else null. */
  async defaultBranch(): Promise<string | null> {
    const head = await this.headBranch();
    const branches = await this.branches();
    if (branches.some((b) => b.ref === `refs/heads/${head}`)) return head;
    return branches[0]?.ref.replace(/^refs\/heads\//, "") ?? null;
  }

  /** The commit a ref (branch, tag, sha) names, or null. */
  async resolveCommit(ref: string): Promise<string | null> {
    if (!ref || ref.startsWith("-")) return null;
    try {
      const out = await this.run(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`]);
      return out.toString("utf8").trim() || null;
    } catch {
      return null;
    }
  }

  async objectType(sha: string): Promise<string | null> {
    try {
      return (await this.run(["cat-file", "-t", sha])).toString("utf8").trim();
    } catch {
      return null;
    }
  }

  async commit(sha: string): Promise<CommitInfo> {
    const out = (
      await this.run([
        "show",
        "-s",
        "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
        sha,
      ])
    ).toString("utf8");
    const [
      id = "",
      treeId = "",
      parents = "",
      an = "",
      ae = "",
      ad = "",
      cn = "",
      ce = "",
      cd = "",
      ...rest
    ] = out.split("\0");
    return {
      id,
      treeId,
      parentIds: parents.split(" ").filter(Boolean),
      authorName: an,
      authorEmail: ae,
      authoredDate: ad,
      committerName: cn,
      committerEmail: ce,
      committedDate: cd,
      message: rest.join("\0").replace(/\n+$/, "\n"),
    };
  }

  /** Commits reachable from `to` but not from `from` (newest first), at most `limit`. */
  async commitsBetween(from: string | null, to: string, limit = 20): Promise<string[]> {
    const range = from && from !== ZERO_SHA ? [`${from}..${to}`] : [to];
    const out = (await this.run(["rev-list", `--max-count=${limit}`, ...range])).toString("utf8");
    return out.split("\n").filter(Boolean);
  }

  /** The tree of a commit or tree-ish, recursive with directories, or only the top level. */
  async tree(treeish: string, recursive: boolean, subPath = ""): Promise<TreeEntry[]> {
    const spec = subPath ? `${treeish}:${subPath}` : treeish;
    const args = ["ls-tree", "-l", "-z", ...(recursive ? ["-r", "-t"] : []), spec];
    const out = (await this.run(args)).toString("utf8");
    return out
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf("\t");
        const [mode = "", type = "", sha = "", size = "-"] = line.slice(0, tab).split(/\s+/);
        const rel = line.slice(tab + 1);
        return {
          mode,
          type: type as TreeEntry["type"],
          sha,
          size: size === "-" ? null : Number(size),
          path: subPath ? `${subPath}/${rel}` : rel,
        };
      });
  }

  /** A file's bytes at a commit, or null when there is no such file. */
  async readFile(commit: string, filePath: string): Promise<{ content: Buffer; blobId: string } | null> {
    const clean = filePath.replace(/^\/+/, "");
    try {
      const blobId = (await this.run(["rev-parse", "--verify", "--quiet", `${commit}:${clean}`]))
        .toString("utf8")
        .trim();
      if ((await this.objectType(blobId)) !== "blob") return null;
      return { content: await this.run(["cat-file", "blob", blobId]), blobId };
    } catch {
      return null;
    }
  }

  async writeBlob(content: Buffer): Promise<string> {
    return (await this.run(["hash-object", "-w", "--stdin"], { input: content })).toString("utf8").trim();
  }

  async readBlob(sha: string): Promise<Buffer | null> {
    if ((await this.objectType(sha)) !== "blob") return null;
    return this.run(["cat-file", "blob", sha]);
  }

  /**
   * Builds a tree from `base` (a tree-ish, or null for an empty tree) with `actions` applied, using a
   * private index file so concurrent writers never share one.
   */
  async buildTree(
    base: string | null,
    entries: { path: string; sha: string | null; mode?: string }[],
  ): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "emu-index-"));
    const env = { GIT_INDEX_FILE: path.join(dir, "index") };
    try {
      if (base) await this.run(["read-tree", base], { env });
      else await this.run(["read-tree", "--empty"], { env });
      for (const e of entries) {
        if (e.sha === null) await this.run(["update-index", "--force-remove", "--", e.path], { env });
        else
          await this.run(
            ["update-index", "--add", "--cacheinfo", `${e.mode ?? "100644"},${e.sha},${e.path}`],
            {
              env,
            },
          );
      }
      return (await this.run(["write-tree"], { env })).toString("utf8").trim();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async commitTree(
    tree: string,
    parents: string[],
    message: string,
    author: { name: string; email: string; date?: string },
  ): Promise<string> {
    const env: Record<string, string> = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
      ...(author.date ? { GIT_AUTHOR_DATE: author.date, GIT_COMMITTER_DATE: author.date } : {}),
    };
    const args = ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p])];
    return (await this.run(args, { input: message, env })).toString("utf8").trim();
  }

  /** Moves a ref from `expectedOld` (ZERO_SHA: must not exist) to `next`; fails when it moved meanwhile. */
  async updateRef(ref: string, next: string, expectedOld: string | null): Promise<void> {
    const args = ["update-ref", ref, next];
    if (expectedOld !== null) args.push(expectedOld === ZERO_SHA ? "" : expectedOld);
    await this.run(args);
  }

  async deleteRef(ref: string): Promise<void> {
    await this.run(["update-ref", "-d", ref]);
  }

  /** One commit on `branch` with the actions applied; creates the branch from `startSha` or from nothing. */
  async commitActions(
    branch: string,
    message: string,
    actions: FileAction[],
    author: { name: string; email: string },
    startSha: string | null,
  ): Promise<string> {
    const current = await this.resolveCommit(`refs/heads/${branch}`);
    const parent = current ?? startSha;
    const entries: { path: string; sha: string | null }[] = [];
    for (const a of actions) {
      if (a.action === "delete") entries.push({ path: a.path, sha: null });
      else entries.push({ path: a.path, sha: await this.writeBlob(a.content ?? Buffer.alloc(0)) });
    }
    const tree = await this.buildTree(parent, entries);
    const commit = await this.commitTree(tree, parent ? [parent] : [], message, author);
    await this.updateRef(`refs/heads/${branch}`, commit, current ?? ZERO_SHA);
    return commit;
  }
}

/** A ref-name check close to `git check-ref-format` (no "..", no control chars, no leading "-"). */
export function isValidRefName(name: string): boolean {
  if (!name || name.length > 255) return false;
  if (name.startsWith("-") || name.startsWith("/") || name.endsWith("/") || name.endsWith(".")) return false;
  if (name.endsWith(".lock") || name.includes("..") || name.includes("//") || name.includes("@{"))
    return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return !name.split("/").some((part) => part.startsWith("."));
}
