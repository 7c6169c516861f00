import { AsyncLocalStorage } from "node:async_hooks";
import { createRequesterFn, type RequestHandlerFn } from "@gitbeaker/requester-utils";
import {
  Branches,
  Commits,
  type CommitablePipelineStatus,
  ProjectHooks,
  Projects,
  Repositories,
  RepositoryFiles,
  Tags,
} from "@gitbeaker/rest";
import { isValidRefName, isSafeRepoPath } from "../../domain/git-refs.js";
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

/** An HTTP error answer from GitLab, before it is mapped to a GitProviderError. */
class GitLabHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The abort signal of the provider call in progress (gitbeaker's own timeout is not used). */
const callSignal = new AsyncLocalStorage<AbortSignal>();

/**
 * gitbeaker's transport replaced by one request per call through the SSRF-guarded fetch: gitbeaker's
 * own handler retries 429/502 up to ten times, which would blow the call budget; here the call
 * policy decides about retries.
 */
function requesterFor(fetchFn: FetchLike) {
  const handler: RequestHandlerFn = async (endpoint, options = {}) => {
    const { prefixUrl, searchParams, method, headers, body } = options as {
      prefixUrl: string;
      searchParams?: string;
      method: string;
      headers?: Record<string, string>;
      body?: string;
    };
    const url = new URL(endpoint, prefixUrl.endsWith("/") ? prefixUrl : `${prefixUrl}/`);
    if (searchParams) url.search = searchParams;
    let res;
    try {
      res = await fetchFn(url, {
        method,
        headers: { "user-agent": "procode-dev-svc", ...headers },
        ...(body !== undefined ? { body } : {}),
        signal: callSignal.getStore() ?? null,
      });
    } catch (err) {
      throw networkFailure("GitLab", method, err);
    }
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      let description = text;
      if (type === "application/json") {
        try {
          const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
          const m = parsed.message ?? parsed.error ?? "";
          description = typeof m === "string" ? m : JSON.stringify(m);
        } catch {
          // keep the raw text
        }
      }
      throw new GitLabHttpError(res.status, description);
    }
    const responseBody =
      res.status === 204
        ? null
        : type === "application/json"
          ? await res.json()
          : type.startsWith("text/")
            ? await res.text()
            : Buffer.from(await res.arrayBuffer()).toString("utf8");
    return {
      body: responseBody as never,
      headers: Object.fromEntries(res.headers.entries()),
      status: res.status,
    };
  };
  return createRequesterFn(async (_service, reqo) => reqo, handler);
}

type What = "repo" | "ref" | "file" | "other";

/** GitLab through @gitbeaker/rest (REST API v4). */
export class GitLabProvider implements GitProvider {
  readonly gitType = "GITLAB" as const;
  readonly describe: string;
  private readonly projects: InstanceType<typeof Projects<false>>;
  private readonly branches: InstanceType<typeof Branches<false>>;
  private readonly tags: InstanceType<typeof Tags<false>>;
  private readonly commits: InstanceType<typeof Commits<false>>;
  private readonly files: InstanceType<typeof RepositoryFiles<false>>;
  private readonly repositories: InstanceType<typeof Repositories<false>>;
  private readonly hooks: InstanceType<typeof ProjectHooks<false>>;
  private readonly project: string;

  constructor(
    private readonly location: RemoteLocation,
    private readonly token: string | null,
    fetchFn: FetchLike,
    private readonly policy: CallPolicy,
    private readonly observe?: CallObserver,
  ) {
    this.describe = `GitLab ${location.projectPath}`;
    this.project = location.projectPath;
    const options = {
      host: location.origin,
      requesterFn: requesterFor(fetchFn),
      queryTimeout: null,
      rateLimits: {},
      ...(token ? { token } : {}),
    } as ConstructorParameters<typeof Projects<false>>[0];
    this.projects = new Projects(options);
    this.branches = new Branches(options);
    this.tags = new Tags(options);
    this.commits = new Commits(options);
    this.files = new RepositoryFiles(options);
    this.repositories = new Repositories(options);
    this.hooks = new ProjectHooks(options);
  }

  /** One provider call under the policy, with GitLab's errors mapped. */
  private run<T>(op: string, what: What, fn: () => Promise<T>): Promise<T> {
    return callWithPolicy(
      this.policy,
      this.describe,
      op,
      async ({ signal }) => {
        try {
          return await callSignal.run(signal, fn);
        } catch (err) {
          throw this.mapError(op, what, err);
        }
      },
      this.observe,
    );
  }

  private mapError(op: string, what: What, err: unknown): GitProviderError {
    if (err instanceof GitProviderError) return err;
    if (err instanceof GitLabHttpError) {
      const failure = failureForStatus(err.status, what);
      const detail = scrub(err.message, this.token ? [this.token] : []);
      const hint =
        failure === "unauthorized"
          ? "; check the credential's token and its rights on the project"
          : failure === "repo_not_found"
            ? "; the project does not exist or the credential cannot see it"
            : "";
      return new GitProviderError(
        failure,
        `GitLab answered ${err.status} to ${op} on ${this.project}${detail ? `: ${detail}` : ""}${hint}`,
        err.status,
        isTransientStatus(err.status),
      );
    }
    return networkFailure(this.describe, op, err);
  }

  async probe(): Promise<RepoInfo> {
    const p = (await this.run("read the project", "repo", () =>
      this.projects.show(this.project),
    )) as unknown as {
      default_branch?: string | null;
      empty_repo?: boolean;
      http_url_to_repo?: string;
    };
    return {
      defaultBranch: p.default_branch ?? null,
      isEmpty: p.empty_repo === true,
      cloneUrl: p.http_url_to_repo ?? this.location.cloneUrl,
    };
  }

  async isEmpty(): Promise<boolean> {
    return (await this.probe()).isEmpty;
  }

  async createWebhook(spec: WebhookSpec): Promise<{ id: string }> {
    const existing = (await this.run("list webhooks", "repo", () =>
      this.hooks.all(this.project, { perPage: 100 }),
    )) as unknown as { id: number; url: string }[];
    for (const h of existing.filter((x) => x.url === spec.url)) await this.deleteWebhook(String(h.id));
    const created = (await this.run("create the webhook", "repo", () =>
      this.hooks.add(this.project, spec.url, {
        token: spec.secret,
        pushEvents: true,
        tagPushEvents: true,
        enableSslVerification: true,
      }),
    )) as unknown as { id: number };
    return { id: String(created.id) };
  }

  async deleteWebhook(id: string): Promise<void> {
    await deleteTolerantly(() =>
      this.run("delete the webhook", "other", () => this.hooks.remove(this.project, Number(id))),
    );
  }

  async createTag(name: string, commitId: string): Promise<CreatedTag> {
    if (!isValidRefName(name)) throw new GitProviderError("rejected", `"${name}" is not a valid tag name`);
    try {
      const t = (await this.run(`create tag ${name}`, "ref", () =>
        this.tags.create(this.project, name, commitId),
      )) as unknown as { commit: { id: string } };
      return { name, commitId: t.commit.id, created: true };
    } catch (err) {
      if (
        !(err instanceof GitProviderError) ||
        err.status === null ||
        err.status === 401 ||
        err.status === 403
      )
        throw err;
      const existing = await this.tagCommit(name);
      if (existing === null) throw err;
      if (existing === commitId) return { name, commitId, created: false };
      throw tagExistsElsewhere(name, existing, commitId, err.status);
    }
  }

  private async tagCommit(name: string): Promise<string | null> {
    try {
      const t = (await this.run(`read tag ${name}`, "ref", () =>
        this.tags.show(this.project, name),
      )) as unknown as {
        commit: { id: string };
      };
      return t.commit.id;
    } catch (err) {
      if (err instanceof GitProviderError && err.failure === "ref_not_found") return null;
      throw err;
    }
  }

  async resolveRef(ref: string): Promise<string> {
    if (!ref || ref.startsWith("-")) throw new GitProviderError("ref_not_found", `"${ref}" is not a ref`);
    const c = (await this.run(`resolve ${ref}`, "ref", () =>
      this.commits.show(this.project, ref),
    )) as unknown as {
      id: string;
    };
    return c.id;
  }

  async readFile(path: string, commitId: string): Promise<Buffer> {
    if (!isSafeRepoPath(path)) throw new GitProviderError("file_not_found", `"${path}" is not a file path`);
    const f = (await this.run(`read ${path}`, "file", () =>
      this.files.show(this.project, path, commitId),
    )) as unknown as { content: string; encoding: string };
    return f.encoding === "base64" ? Buffer.from(f.content, "base64") : Buffer.from(f.content, "utf8");
  }

  async readTree(commitId: string): Promise<TreeEntry[]> {
    const items = (await this.run(`read the tree at ${commitId.slice(0, 12)}`, "ref", () =>
      this.repositories.allRepositoryTrees(this.project, { ref: commitId, recursive: true, perPage: 100 }),
    )) as unknown as { id: string; path: string; type: string; mode: string }[];
    return items.map((i) => ({
      path: i.path,
      type: i.type === "tree" ? "tree" : i.type === "commit" ? "commit" : "blob",
      mode: i.mode,
      sha: i.id,
    }));
  }

  async listBranches(): Promise<RefInfo[]> {
    const list = (await this.run("list branches", "repo", () =>
      this.branches.all(this.project, { perPage: 100 }),
    )) as unknown as { name: string; commit: { id: string } }[];
    return list.map((b) => ({ name: b.name, commitId: b.commit.id }));
  }

  async listTags(): Promise<RefInfo[]> {
    const list = (await this.run("list tags", "repo", () =>
      this.tags.all(this.project, { perPage: 100 }),
    )) as unknown as { name: string; commit: { id: string } }[];
    return list.map((t) => ({ name: t.name, commitId: t.commit.id }));
  }

  async commitFiles(request: CommitRequest): Promise<{ commitId: string }> {
    if (!isValidRefName(request.branch))
      throw new GitProviderError("rejected", `"${request.branch}" is not a valid branch name`);
    for (const f of request.files) {
      if (!isSafeRepoPath(f.path)) throw new GitProviderError("rejected", `"${f.path}" is not a file path`);
    }
    let head: string | null = null;
    try {
      head = await this.resolveRef(`refs/heads/${request.branch}`);
    } catch (err) {
      if (!(err instanceof GitProviderError && err.failure === "ref_not_found")) throw err;
    }
    const existing = new Set(head ? (await this.readTree(head)).map((e) => e.path) : []);
    let startBranch: string | undefined;
    if (!head) {
      const info = await this.probe();
      if (!info.isEmpty && info.defaultBranch) startBranch = info.defaultBranch;
    }
    const actions = request.files.map((f) => ({
      action: existing.has(f.path) ? ("update" as const) : ("create" as const),
      filePath: f.path,
      content: Buffer.isBuffer(f.content)
        ? f.content.toString("base64")
        : Buffer.from(f.content).toString("base64"),
      encoding: "base64" as const,
    }));
    try {
      const c = (await this.run(`commit to ${request.branch}`, "other", () =>
        this.commits.create(this.project, request.branch, request.message, actions, {
          ...(startBranch ? { startBranch } : {}),
          ...(request.author ? { authorName: request.author.name, authorEmail: request.author.email } : {}),
        }),
      )) as unknown as { id: string };
      return { commitId: c.id };
    } catch (err) {
      if (err instanceof GitProviderError && err.status === 400) {
        throw new GitProviderError("conflict", `${err.message} (the branch changed while committing)`, 400);
      }
      throw err;
    }
  }

  async setCommitStatus(commitId: string, status: CommitStatusSpec): Promise<void> {
    try {
      await this.run(`set ${status.context} on ${commitId.slice(0, 12)}`, "ref", () =>
        this.commits.editStatus(
          this.project,
          commitId,
          providerState("GITLAB", status.state) as CommitablePipelineStatus,
          {
            name: status.context,
            description: status.description,
            ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
          },
        ),
      );
    } catch (err) {
      // GitLab refuses to move a running or pending status to the state it already has.
      if (
        err instanceof GitProviderError &&
        err.status === 400 &&
        /cannot transition status/i.test(err.message)
      )
        return;
      throw err;
    }
  }
}
