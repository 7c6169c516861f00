import { Octokit } from "@octokit/rest";
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

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** An error from octokit: RequestError carries `status` and, for HTTP answers, `response`. */
interface OctokitError {
  status?: number;
  message?: string;
  response?: { status: number; data?: unknown };
}

/** GitHub (and GitHub Enterprise) through @octokit/rest. */
export class GitHubProvider implements GitProvider {
  readonly gitType = "GITHUB" as const;
  readonly describe: string;
  private readonly octokit: Octokit;
  private readonly owner: string;
  private readonly repo: string;

  constructor(
    private readonly location: RemoteLocation,
    private readonly token: string | null,
    fetchFn: FetchLike,
    private readonly policy: CallPolicy,
    private readonly observe?: CallObserver,
  ) {
    this.describe = `GitHub ${location.projectPath}`;
    this.owner = location.owner;
    this.repo = location.name;
    this.octokit = new Octokit({
      ...(token ? { auth: token } : {}),
      baseUrl: location.apiBase,
      userAgent: "procode-dev-svc",
      log: quiet,
      request: { fetch: fetchFn },
    });
  }

  private get ids() {
    return { owner: this.owner, repo: this.repo };
  }

  private run<T>(op: string, what: What, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return callWithPolicy(
      this.policy,
      this.describe,
      op,
      async ({ signal }) => {
        try {
          return await fn(signal);
        } catch (err) {
          throw this.mapError(op, what, err);
        }
      },
      this.observe,
    );
  }

  private mapError(op: string, what: What, err: unknown): GitProviderError {
    if (err instanceof GitProviderError) return err;
    const e = err as OctokitError;
    if (e?.response && typeof e.status === "number") {
      const status = e.status;
      // GitHub answers an unknown commit with 422 and an empty repository with 409.
      const failure =
        what === "ref" && (status === 422 || status === 409)
          ? "ref_not_found"
          : what === "file" && status === 409
            ? "file_not_found"
            : failureForStatus(status, what);
      const data = e.response.data as { message?: unknown } | undefined;
      const detail = scrub(
        typeof data?.message === "string" ? data.message : "",
        this.token ? [this.token] : [],
      );
      const hint =
        failure === "unauthorized"
          ? "; check the credential's token and its rights on the repository"
          : failure === "repo_not_found"
            ? "; the repository does not exist or the credential cannot see it"
            : "";
      return new GitProviderError(
        failure,
        `GitHub answered ${status} to ${op} on ${this.location.projectPath}${detail ? `: ${detail}` : ""}${hint}`,
        status,
        isTransientStatus(status),
      );
    }
    return networkFailure(this.describe, op, (err as { cause?: unknown })?.cause ?? err);
  }

  async probe(): Promise<RepoInfo> {
    const repo = await this.run("read the repository", "repo", (signal) =>
      this.octokit.rest.repos.get({ ...this.ids, request: { signal } }),
    );
    const branches = await this.run("list branches", "repo", (signal) =>
      this.octokit.rest.repos.listBranches({ ...this.ids, per_page: 1, request: { signal } }),
    );
    const isEmpty = branches.data.length === 0;
    return {
      defaultBranch: isEmpty ? null : repo.data.default_branch,
      isEmpty,
      cloneUrl: repo.data.clone_url ?? this.location.cloneUrl,
    };
  }

  async isEmpty(): Promise<boolean> {
    return (await this.probe()).isEmpty;
  }

  async createWebhook(spec: WebhookSpec): Promise<{ id: string }> {
    const hooks = await this.run("list webhooks", "repo", (signal) =>
      this.octokit.paginate(this.octokit.rest.repos.listWebhooks, {
        ...this.ids,
        per_page: 100,
        request: { signal },
      }),
    );
    for (const h of hooks.filter((x) => x.config.url === spec.url)) await this.deleteWebhook(String(h.id));
    const created = await this.run("create the webhook", "repo", (signal) =>
      this.octokit.rest.repos.createWebhook({
        ...this.ids,
        name: "web",
        active: true,
        events: ["push"],
        config: { url: spec.url, content_type: "json", secret: spec.secret, insecure_ssl: "0" },
        request: { signal },
      }),
    );
    return { id: String(created.data.id) };
  }

  async deleteWebhook(id: string): Promise<void> {
    await deleteTolerantly(() =>
      this.run("delete the webhook", "other", (signal) =>
        this.octokit.rest.repos.deleteWebhook({ ...this.ids, hook_id: Number(id), request: { signal } }),
      ),
    );
  }

  async createTag(name: string, commitId: string): Promise<CreatedTag> {
    if (!isValidRefName(name)) throw new GitProviderError("rejected", `"${name}" is not a valid tag name`);
    try {
      await this.run(`create tag ${name}`, "ref", (signal) =>
        this.octokit.rest.git.createRef({
          ...this.ids,
          ref: `refs/tags/${name}`,
          sha: commitId,
          request: { signal },
        }),
      );
      return { name, commitId, created: true };
    } catch (err) {
      // 422 "Reference already exists" (or "Object does not exist"): look at what the tag is.
      if (!(err instanceof GitProviderError) || err.status !== 422) throw err;
      const existing = await this.tagCommit(name);
      if (existing === null) {
        throw new GitProviderError(
          "ref_not_found",
          `commit ${commitId.slice(0, 12)} does not exist in ${this.location.projectPath}`,
          422,
        );
      }
      if (existing === commitId) return { name, commitId, created: false };
      throw tagExistsElsewhere(name, existing, commitId, 422);
    }
  }

  /** The commit a tag points at (annotated tags peeled), or null when there is no such tag. */
  private async tagCommit(name: string): Promise<string | null> {
    let ref;
    try {
      ref = await this.run(`read tag ${name}`, "ref", (signal) =>
        this.octokit.rest.git.getRef({ ...this.ids, ref: `tags/${name}`, request: { signal } }),
      );
    } catch (err) {
      if (err instanceof GitProviderError && err.failure === "ref_not_found") return null;
      throw err;
    }
    if (ref.data.object.type !== "tag") return ref.data.object.sha;
    const tag = await this.run(`read tag object ${name}`, "ref", (signal) =>
      this.octokit.rest.git.getTag({ ...this.ids, tag_sha: ref.data.object.sha, request: { signal } }),
    );
    return tag.data.object.sha;
  }

  async resolveRef(ref: string): Promise<string> {
    if (!ref || ref.startsWith("-")) throw new GitProviderError("ref_not_found", `"${ref}" is not a ref`);
    const c = await this.run(`resolve ${ref}`, "ref", (signal) =>
      this.octokit.rest.repos.getCommit({ ...this.ids, ref, request: { signal } }),
    );
    return c.data.sha;
  }

  async readFile(path: string, commitId: string): Promise<Buffer> {
    if (!isSafeRepoPath(path)) throw new GitProviderError("file_not_found", `"${path}" is not a file path`);
    const res = await this.run(`read ${path}`, "file", (signal) =>
      this.octokit.rest.repos.getContent({ ...this.ids, path, ref: commitId, request: { signal } }),
    );
    const data = res.data as { type?: string; encoding?: string; content?: string; sha?: string };
    if (Array.isArray(res.data) || data.type !== "file") {
      throw new GitProviderError("file_not_found", `${path} is not a file at ${commitId.slice(0, 12)}`, 404);
    }
    if (data.encoding === "base64" && typeof data.content === "string") {
      return Buffer.from(data.content.replace(/\n/g, ""), "base64");
    }
    // Files over 1 MB come without content: read the blob.
    const blob = await this.run(`read blob of ${path}`, "file", (signal) =>
      this.octokit.rest.git.getBlob({ ...this.ids, file_sha: data.sha ?? "", request: { signal } }),
    );
    return Buffer.from(blob.data.content.replace(/\n/g, ""), "base64");
  }

  async readTree(commitId: string): Promise<TreeEntry[]> {
    const res = await this.run(`read the tree at ${commitId.slice(0, 12)}`, "ref", (signal) =>
      this.octokit.rest.git.getTree({ ...this.ids, tree_sha: commitId, recursive: "1", request: { signal } }),
    );
    if (res.data.truncated) {
      throw new GitProviderError(
        "rejected",
        `the tree at ${commitId.slice(0, 12)} is too large for GitHub to list`,
      );
    }
    return res.data.tree.map((e) => ({
      path: e.path ?? "",
      type: e.type === "tree" ? "tree" : e.type === "commit" ? "commit" : "blob",
      mode: e.mode ?? "100644",
      sha: e.sha ?? "",
    }));
  }

  async listBranches(): Promise<RefInfo[]> {
    const list = await this.run("list branches", "repo", (signal) =>
      this.octokit.paginate(this.octokit.rest.repos.listBranches, {
        ...this.ids,
        per_page: 100,
        request: { signal },
      }),
    );
    return list.map((b) => ({ name: b.name, commitId: b.commit.sha }));
  }

  async listTags(): Promise<RefInfo[]> {
    const list = await this.run("list tags", "repo", (signal) =>
      this.octokit.paginate(this.octokit.rest.repos.listTags, {
        ...this.ids,
        per_page: 100,
        request: { signal },
      }),
    );
    return list.map((t) => ({ name: t.name, commitId: t.commit.sha }));
  }

  async commitFiles(request: CommitRequest): Promise<{ commitId: string }> {
    if (!isValidRefName(request.branch))
      throw new GitProviderError("rejected", `"${request.branch}" is not a valid branch name`);
    if (request.files.length === 0)
      throw new GitProviderError("rejected", "a commit needs at least one file");
    for (const f of request.files) {
      if (!isSafeRepoPath(f.path)) throw new GitProviderError("rejected", `"${f.path}" is not a file path`);
    }
    const b64 = (c: Buffer | string) => (Buffer.isBuffer(c) ? c : Buffer.from(c)).toString("base64");
    const info = await this.probe();
    let parent: string | null = null;
    let branchExists = false;
    if (info.isEmpty) {
      // The Git Data API refuses an empty repository (409): the contents API makes the first commit,
      // which the real commit (all files, no parent) then replaces.
      const first = request.files[0]!;
      await this.run(`create ${first.path}`, "other", (signal) =>
        this.octokit.rest.repos.createOrUpdateFileContents({
          ...this.ids,
          path: first.path,
          message: request.message,
          content: b64(first.content),
          branch: request.branch,
          request: { signal },
        }),
      );
      branchExists = true;
    } else {
      try {
        parent = await this.branchHead(request.branch);
        branchExists = true;
      } catch (err) {
        if (!(err instanceof GitProviderError && err.failure === "ref_not_found")) throw err;
        parent = info.defaultBranch ? await this.branchHead(info.defaultBranch) : null;
      }
    }
    const baseTree = parent
      ? (
          await this.run("read the parent commit", "ref", (signal) =>
            this.octokit.rest.git.getCommit({ ...this.ids, commit_sha: parent, request: { signal } }),
          )
        ).data.tree.sha
      : undefined;
    const entries: { path: string; mode: "100644"; type: "blob"; sha: string }[] = [];
    for (const f of request.files) {
      const blob = await this.run(`upload ${f.path}`, "other", (signal) =>
        this.octokit.rest.git.createBlob({
          ...this.ids,
          content: b64(f.content),
          encoding: "base64",
          request: { signal },
        }),
      );
      entries.push({ path: f.path, mode: "100644" as const, type: "blob" as const, sha: blob.data.sha });
    }
    const tree = await this.run("create the tree", "other", (signal) =>
      this.octokit.rest.git.createTree({
        ...this.ids,
        tree: entries,
        ...(baseTree ? { base_tree: baseTree } : {}),
        request: { signal },
      }),
    );
    const commit = await this.run("create the commit", "other", (signal) =>
      this.octokit.rest.git.createCommit({
        ...this.ids,
        message: request.message,
        tree: tree.data.sha,
        parents: parent ? [parent] : [],
        ...(request.author ? { author: request.author } : {}),
        request: { signal },
      }),
    );
    try {
      if (branchExists) {
        await this.run(`move ${request.branch}`, "other", (signal) =>
          this.octokit.rest.git.updateRef({
            ...this.ids,
            ref: `heads/${request.branch}`,
            sha: commit.data.sha,
            // Only the placeholder commit of an empty repository is replaced; otherwise fast-forward only.
            force: info.isEmpty,
            request: { signal },
          }),
        );
      } else {
        await this.run(`create ${request.branch}`, "other", (signal) =>
          this.octokit.rest.git.createRef({
            ...this.ids,
            ref: `refs/heads/${request.branch}`,
            sha: commit.data.sha,
            request: { signal },
          }),
        );
      }
    } catch (err) {
      if (err instanceof GitProviderError && err.status === 422) {
        throw new GitProviderError("conflict", `${request.branch} changed while committing; retry`, 422);
      }
      throw err;
    }
    return { commitId: commit.data.sha };
  }

  async setCommitStatus(commitId: string, status: CommitStatusSpec): Promise<void> {
    await this.run(`set ${status.context} on ${commitId.slice(0, 12)}`, "ref", (signal) =>
      this.octokit.rest.repos.createCommitStatus({
        ...this.ids,
        sha: commitId,
        state: providerState("GITHUB", status.state) as "pending" | "success" | "failure" | "error",
        context: status.context,
        description: status.description,
        ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
        request: { signal },
      }),
    );
  }

  private async branchHead(branch: string): Promise<string> {
    const ref = await this.run(`read ${branch}`, "ref", (signal) =>
      this.octokit.rest.git.getRef({ ...this.ids, ref: `heads/${branch}`, request: { signal } }),
    );
    return ref.data.object.sha;
  }
}
