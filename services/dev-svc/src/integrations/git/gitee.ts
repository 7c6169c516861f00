import { isSafeRepoPath, isValidRefName } from "../../domain/git-refs.js";
import type { RemoteLocation } from "@procode/contracts";
import { callWithPolicy, type CallObserver, type CallPolicy } from "./call-policy.js";
import {
  failureForStatus,
  GitProviderError,
  isTransientStatus,
  scrub,
  deleteTolerantly,
  tagExistsElsewhere,
} from "./errors.js";
import { networkFailure, type FetchLike } from "./http.js";
import { providerState } from "../../domain/commit-status.js";
import type {
  CommitRequest,
  CommitStatusSpec,
  CreatedTag,
  GitProvider,
  RefInfo,
  RepoInfo,
  TreeEntry,
  WebhookSpec,
} from "./provider.js";

type What = "repo" | "ref" | "file" | "other";

interface Answer<T> {
  data: T;
  headers: Headers;
}

/**
 * Gitee through its Open API v5 over HTTP. The token travels as the `access_token` parameter (query
 * string for GET/DELETE, JSON body otherwise), as Gitee expects; it is never part of a message.
 */
export class GiteeProvider implements GitProvider {
  readonly gitType = "GITEE" as const;
  readonly describe: string;
  private readonly repoPath: string;

  constructor(
    private readonly location: RemoteLocation,
    private readonly token: string | null,
    private readonly fetchFn: FetchLike,
    private readonly policy: CallPolicy,
    private readonly observe?: CallObserver,
  ) {
    this.describe = `Gitee ${location.projectPath}`;
    this.repoPath = `/repos/${encodeURIComponent(location.owner)}/${encodeURIComponent(location.name)}`;
  }

  private run<T>(op: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return callWithPolicy(this.policy, this.describe, op, ({ signal }) => fn(signal), this.observe);
  }

  /** One HTTP request to the API; errors mapped to GitProviderError. */
  private async request<T>(
    signal: AbortSignal,
    op: string,
    what: What,
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    params: Record<string, string | number | boolean | undefined> = {},
    body?: Record<string, unknown>,
  ): Promise<Answer<T>> {
    const url = new URL(`${this.location.apiBase}${path}`);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    const withToken = method === "GET" || method === "DELETE";
    if (withToken && this.token) url.searchParams.set("access_token", this.token);
    let res;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: {
          "user-agent": "procode-dev-svc",
          accept: "application/json",
          ...(withToken ? {} : { "content-type": "application/json" }),
        },
        ...(withToken
          ? {}
          : { body: JSON.stringify({ ...body, ...(this.token ? { access_token: this.token } : {}) }) }),
        signal,
      });
    } catch (err) {
      throw networkFailure(this.describe, op, err);
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) {
      let detail = text;
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === "string") detail = parsed.message;
      } catch {
        // keep the raw text
      }
      const failure = failureForStatus(res.status, what);
      detail = scrub(detail, this.token ? [this.token] : []);
      const hint =
        failure === "unauthorized"
          ? "; check the credential's token and its rights on the repository"
          : failure === "repo_not_found"
            ? "; the repository does not exist or the credential cannot see it"
            : "";
      throw new GitProviderError(
        failure,
        `Gitee answered ${res.status} to ${op} on ${this.location.projectPath}${detail ? `: ${detail}` : ""}${hint}`,
        res.status,
        isTransientStatus(res.status),
      );
    }
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        throw new GitProviderError(
          "unavailable",
          `Gitee answered ${op} with something that is not JSON`,
          res.status,
          true,
        );
      }
    }
    return { data: data as T, headers: res.headers };
  }

  /** Every page of a list (`page`/`per_page`, `total_page` header). */
  private async all<T>(signal: AbortSignal, op: string, path: string): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; page <= 1000; page++) {
      const res = await this.request<T[]>(signal, op, "repo", "GET", path, { page, per_page: 100 });
      const items = Array.isArray(res.data) ? res.data : [];
      out.push(...items);
      const totalPages = Number(res.headers.get("total_page") ?? NaN);
      if (Number.isFinite(totalPages) ? page >= totalPages : items.length < 100) break;
    }
    return out;
  }

  async probe(): Promise<RepoInfo> {
    return this.run("read the repository", async (signal) => {
      const repo = await this.request<{ default_branch?: string; html_url?: string }>(
        signal,
        "read the repository",
        "repo",
        "GET",
        this.repoPath,
      );
      const branches = await this.request<unknown[]>(
        signal,
        "list branches",
        "repo",
        "GET",
        `${this.repoPath}/branches`,
        {
          page: 1,
          per_page: 1,
        },
      );
      const isEmpty = !Array.isArray(branches.data) || branches.data.length === 0;
      return {
        defaultBranch: isEmpty ? null : (repo.data.default_branch ?? null),
        isEmpty,
        cloneUrl: this.location.cloneUrl,
      };
    });
  }

  async isEmpty(): Promise<boolean> {
    return (await this.probe()).isEmpty;
  }

  async createWebhook(spec: WebhookSpec): Promise<{ id: string }> {
    const hooks = await this.run("list webhooks", (signal) =>
      this.all<{ id: number; url: string }>(signal, "list webhooks", `${this.repoPath}/hooks`),
    );
    for (const h of hooks.filter((x) => x.url === spec.url)) await this.deleteWebhook(String(h.id));
    const created = await this.run("create the webhook", (signal) =>
      this.request<{ id: number }>(
        signal,
        "create the webhook",
        "repo",
        "POST",
        `${this.repoPath}/hooks`,
        {},
        {
          url: spec.url,
          // 1: Gitee signs each delivery with the secret (X-Gitee-Token) instead of sending it.
          encryption_type: 1,
          password: spec.secret,
          push_events: true,
          tag_push_events: true,
        },
      ),
    );
    return { id: String(created.data.id) };
  }

  async deleteWebhook(id: string): Promise<void> {
    await deleteTolerantly(() =>
      this.run("delete the webhook", (signal) =>
        this.request(
          signal,
          "delete the webhook",
          "other",
          "DELETE",
          `${this.repoPath}/hooks/${encodeURIComponent(id)}`,
        ),
      ),
    );
  }

  async createTag(name: string, commitId: string): Promise<CreatedTag> {
    if (!isValidRefName(name)) throw new GitProviderError("rejected", `"${name}" is not a valid tag name`);
    try {
      await this.run(`create tag ${name}`, (signal) =>
        this.request(
          signal,
          `create tag ${name}`,
          "ref",
          "POST",
          `${this.repoPath}/tags`,
          {},
          {
            refs: commitId,
            tag_name: name,
          },
        ),
      );
      return { name, commitId, created: true };
    } catch (err) {
      if (
        !(err instanceof GitProviderError) ||
        err.status === null ||
        err.status === 401 ||
        err.status === 403
      )
        throw err;
      const existing = (await this.listTags()).find((t) => t.name === name);
      if (!existing) throw err;
      if (existing.commitId === commitId) return { name, commitId, created: false };
      throw tagExistsElsewhere(name, existing.commitId, commitId, err.status);
    }
  }

  async resolveRef(ref: string): Promise<string> {
    if (!ref || ref.startsWith("-")) throw new GitProviderError("ref_not_found", `"${ref}" is not a ref`);
    const res = await this.run(`resolve ${ref}`, (signal) =>
      this.request<{ sha: string }>(
        signal,
        `resolve ${ref}`,
        "ref",
        "GET",
        `${this.repoPath}/commits/${encodeURIComponent(ref)}`,
      ),
    );
    return res.data.sha;
  }

  async readFile(path: string, commitId: string): Promise<Buffer> {
    if (!isSafeRepoPath(path)) throw new GitProviderError("file_not_found", `"${path}" is not a file path`);
    const res = await this.run(`read ${path}`, (signal) =>
      this.request<{ type?: string; encoding?: string; content?: string } | unknown[]>(
        signal,
        `read ${path}`,
        "file",
        "GET",
        `${this.repoPath}/contents/${path.split("/").map(encodeURIComponent).join("/")}`,
        { ref: commitId },
      ),
    );
    const data = res.data;
    // Gitee answers a path that does not exist with an empty list.
    if (Array.isArray(data) || !data || data.type !== "file" || typeof data.content !== "string") {
      throw new GitProviderError("file_not_found", `${path} does not exist at ${commitId.slice(0, 12)}`, 404);
    }
    return Buffer.from(data.content.replace(/\n/g, ""), "base64");
  }

  async readTree(commitId: string): Promise<TreeEntry[]> {
    const res = await this.run(`read the tree at ${commitId.slice(0, 12)}`, (signal) =>
      this.request<{
        tree: { path: string; type: string; mode: string; sha: string }[];
        truncated?: boolean;
      }>(
        signal,
        "read the tree",
        "ref",
        "GET",
        `${this.repoPath}/git/trees/${encodeURIComponent(commitId)}`,
        { recursive: 1 },
      ),
    );
    if (res.data.truncated)
      throw new GitProviderError("rejected", `the tree at ${commitId.slice(0, 12)} is too large`);
    return res.data.tree.map((e) => ({
      path: e.path,
      type: e.type === "tree" ? "tree" : e.type === "commit" ? "commit" : "blob",
      mode: e.mode,
      sha: e.sha,
    }));
  }

  async listBranches(): Promise<RefInfo[]> {
    const list = await this.run("list branches", (signal) =>
      this.all<{ name: string; commit: { sha: string } }>(
        signal,
        "list branches",
        `${this.repoPath}/branches`,
      ),
    );
    return list.map((b) => ({ name: b.name, commitId: b.commit.sha }));
  }

  async listTags(): Promise<RefInfo[]> {
    const list = await this.run("list tags", (signal) =>
      this.all<{ name: string; commit: { sha: string } }>(signal, "list tags", `${this.repoPath}/tags`),
    );
    return list.map((t) => ({ name: t.name, commitId: t.commit.sha }));
  }

  async commitFiles(request: CommitRequest): Promise<{ commitId: string }> {
    if (!isValidRefName(request.branch))
      throw new GitProviderError("rejected", `"${request.branch}" is not a valid branch name`);
    for (const f of request.files) {
      if (!isSafeRepoPath(f.path)) throw new GitProviderError("rejected", `"${f.path}" is not a file path`);
    }
    const branches = await this.listBranches();
    const head = branches.find((b) => b.name === request.branch)?.commitId ?? null;
    if (!head && branches.length > 0) {
      const info = await this.probe();
      const from = info.defaultBranch ?? branches[0]!.name;
      await this.run(`create ${request.branch}`, (signal) =>
        this.request(
          signal,
          `create ${request.branch}`,
          "other",
          "POST",
          `${this.repoPath}/branches`,
          {},
          {
            refs: from,
            branch_name: request.branch,
          },
        ),
      );
    }
    const base = head ?? (branches.length > 0 ? await this.resolveRef(request.branch) : null);
    const existing = new Set(base ? (await this.readTree(base)).map((e) => e.path) : []);
    const actions = request.files.map((f) => ({
      action: existing.has(f.path) ? "update" : "create",
      path: f.path,
      content: (Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content)).toString("base64"),
      encoding: "base64",
    }));
    try {
      const res = await this.run(`commit to ${request.branch}`, (signal) =>
        this.request<{ sha: string }>(
          signal,
          `commit to ${request.branch}`,
          "other",
          "POST",
          `${this.repoPath}/commits`,
          {},
          {
            branch: request.branch,
            message: request.message,
            actions,
            ...(request.author ? { author: request.author } : {}),
          },
        ),
      );
      return { commitId: res.data.sha };
    } catch (err) {
      if (err instanceof GitProviderError && (err.status === 400 || err.status === 409)) {
        throw new GitProviderError(
          "conflict",
          `${err.message} (the branch changed while committing)`,
          err.status,
        );
      }
      throw err;
    }
  }

  async setCommitStatus(commitId: string, status: CommitStatusSpec): Promise<void> {
    const op = `set ${status.context} on ${commitId.slice(0, 12)}`;
    await this.run(op, (signal) =>
      this.request(
        signal,
        op,
        "ref",
        "POST",
        `${this.repoPath}/statuses/${encodeURIComponent(commitId)}`,
        {},
        {
          state: providerState("GITEE", status.state),
          context: status.context,
          description: status.description,
          ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
        },
      ),
    );
  }
}
