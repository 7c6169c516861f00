import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { BareRepo, git, type FileAction } from "./git.js";
import type { StoredStatus } from "./statuses.js";

/** A webhook registered on a repository, as the emulated provider keeps it. */
export interface HookConfig {
  id: number;
  url: string;
  /** GitLab `token`, GitHub `config.secret`, Gitee `password`. */
  secret: string | null;
  /** GitLab's newer signing token (webhook-signature header), when set. */
  signingToken: string | null;
  /** Gitee: 0 sends the password itself, 1 a signature of it (encryption_type). */
  giteeEncryptionType: 0 | 1;
  pushEvents: boolean;
  tagPushEvents: boolean;
  active: boolean;
  createdAt: string;
}

export interface RepoMeta {
  id: number;
  /** `group/name` (GitLab may nest groups: `a/b/name`). */
  path: string;
  visibility: "public" | "private";
  nextHookId: number;
  hooks: HookConfig[];
  /** Commit statuses set through the API (statuses.ts). */
  statuses?: StoredStatus[];
  createdAt: string;
}

/** One repository of an emulated provider: its metadata and the bare repository on disk. */
export class StoredRepo {
  constructor(
    readonly meta: RepoMeta,
    readonly git: BareRepo,
    private readonly save: () => Promise<void>,
  ) {}

  get path(): string {
    return this.meta.path;
  }
  get owner(): string {
    return this.meta.path.split("/").slice(0, -1).join("/");
  }
  get name(): string {
    return this.meta.path.split("/").at(-1) ?? this.meta.path;
  }

  async persist(): Promise<void> {
    await this.save();
  }
}

export interface CreateRepoOptions {
  visibility?: "public" | "private";
  defaultBranch?: string;
  /** Files of a first commit; none leaves the repository empty. */
  files?: Record<string, string | Buffer>;
  message?: string;
}

const PATH_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;

/**
 * The repositories of one emulated provider: bare git repositories under `root`, each with an
 * `emulator.json` beside its objects (id, visibility, webhooks), so state survives a restart.
 */
export class RepoStore {
  private readonly byPath = new Map<string, StoredRepo>();
  private nextId = 1;

  constructor(readonly root: string) {}

  /** Loads the repositories already on disk. */
  async load(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const full = path.join(dir, entry.name);
        if (entry.name.endsWith(".git") && existsSync(path.join(full, "emulator.json"))) {
          const meta = JSON.parse(await readFile(path.join(full, "emulator.json"), "utf8")) as RepoMeta;
          this.register(meta, full);
          this.nextId = Math.max(this.nextId, meta.id + 1);
        } else if (!entry.name.endsWith(".git")) {
          await walk(full);
        }
      }
    };
    await walk(this.root);
  }

  private register(meta: RepoMeta, dir: string): StoredRepo {
    const repo = new StoredRepo(meta, new BareRepo(dir), () =>
      writeFile(path.join(dir, "emulator.json"), JSON.stringify(meta, null, 2)),
    );
    this.byPath.set(meta.path.toLowerCase(), repo);
    return repo;
  }

  dirOf(repoPath: string): string {
    return path.join(this.root, ...repoPath.split("/").slice(0, -1), `${repoPath.split("/").at(-1)}.git`);
  }

  async create(repoPath: string, opts: CreateRepoOptions = {}): Promise<StoredRepo> {
    if (!PATH_PATTERN.test(repoPath) || repoPath.split("/").some((s) => s === ".." || s.endsWith(".git"))) {
      throw new Error(`invalid repository path "${repoPath}" (owner/name)`);
    }
    if (this.byPath.has(repoPath.toLowerCase())) throw new Error(`repository ${repoPath} already exists`);
    const dir = this.dirOf(repoPath);
    await mkdir(path.dirname(dir), { recursive: true });
    await git(null, ["init", "--bare", "--quiet", `--initial-branch=${opts.defaultBranch ?? "main"}`, dir]);
    const meta: RepoMeta = {
      id: this.nextId++,
      path: repoPath,
      visibility: opts.visibility ?? "private",
      nextHookId: 1,
      hooks: [],
      createdAt: new Date().toISOString(),
    };
    const repo = this.register(meta, dir);
    await repo.persist();
    if (opts.files && Object.keys(opts.files).length > 0) {
      const actions: FileAction[] = Object.entries(opts.files).map(([p, c]) => ({
        action: "create",
        path: p,
        content: Buffer.isBuffer(c) ? c : Buffer.from(c),
      }));
      await repo.git.commitActions(
        opts.defaultBranch ?? "main",
        opts.message ?? "Initial commit",
        actions,
        { name: "Emulator", email: "emulator@example.com" },
        null,
      );
    }
    return repo;
  }

  get(repoPath: string): StoredRepo | null {
    return this.byPath.get(repoPath.replace(/\.git$/, "").toLowerCase()) ?? null;
  }

  byId(id: number): StoredRepo | null {
    for (const r of this.byPath.values()) if (r.meta.id === id) return r;
    return null;
  }

  list(): StoredRepo[] {
    return [...this.byPath.values()];
  }

  async exists(repoPath: string): Promise<boolean> {
    try {
      return (await stat(this.dirOf(repoPath))).isDirectory();
    } catch {
      return false;
    }
  }
}
