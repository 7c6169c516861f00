import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  GitEmulator,
  paginate,
  q,
  type EmulatorContext,
  type EmulatorOptions,
  type HookRequest,
  type ProviderModule,
} from "./emulator.js";
import { GitCommandError, isValidRefName, ZERO_SHA, type CommitInfo, type FileAction } from "./git.js";
import { giteeSignature } from "./hooks-signing.js";
import type { HookConfig, StoredRepo } from "./repo-store.js";
import { registerHubStatuses } from "./statuses.js";

/**
 * Gitee Open API v5 (`/api/v5`), the part the platform uses: repository, branches, tags (list and
 * create), commits (show, multi-file commit), contents, trees, hooks. The token is the
 * `access_token` parameter (query string for GET/DELETE, body for POST/PUT); pages are
 * `page`/`per_page` with `total_count`/`total_page` headers. Webhooks carry `X-Gitee-Token` (the
 * password, or a signature of the timestamp) and `X-Gitee-Timestamp` in milliseconds. A file that
 * does not exist reads as `[]`, as Gitee answers.
 */
const API = "/api/v5";

type Req = FastifyRequest<{ Params: Record<string, string> }>;

function tokenOf(request: FastifyRequest): string | undefined {
  const fromQuery = q(request.query, "access_token");
  if (fromQuery) return fromQuery;
  const body = request.body;
  if (body && typeof body === "object" && !Buffer.isBuffer(body)) {
    const t = (body as Record<string, unknown>)["access_token"];
    if (typeof t === "string" && t) return t;
  }
  const auth = request.headers.authorization;
  const m = typeof auth === "string" ? /^(?:token|Bearer)\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const b = request.body;
  return b && typeof b === "object" && !Buffer.isBuffer(b) ? (b as Record<string, unknown>) : {};
}

const bool = (v: unknown, dflt: boolean) =>
  v === undefined || v === null ? dflt : v === true || v === "true" || v === "1" || v === 1;

const giteeModule: ProviderModule = {
  kind: "gitee",
  notFoundBody: { message: "Not Found" },
  realm: "Gitee",

  register(app: FastifyInstance, ctx: EmulatorContext) {
    const repoApi = (repo: StoredRepo) => `${ctx.origin()}${API}/repos/${repo.path}`;

    async function repository(
      request: Req,
      reply: FastifyReply,
      opts: { write?: boolean } = {},
    ): Promise<{ repo: StoredRepo; user: string | null } | null> {
      const token = tokenOf(request);
      const user = ctx.tokenUser(token);
      if (token && !user) {
        await reply.status(401).send({ message: "401 Unauthorized: Access token does not exist" });
        return null;
      }
      const repo = ctx.store.get(`${request.params["owner"]}/${request.params["repo"]}`);
      if (!repo || (repo.meta.visibility === "private" && !user)) {
        await reply.status(404).send({ message: "Not Found Project" });
        return null;
      }
      if (opts.write && !user) {
        await reply.status(401).send({ message: "401 Unauthorized: Access token is required" });
        return null;
      }
      return { repo, user };
    }

    function sendPage<T>(request: FastifyRequest, reply: FastifyReply, items: T[]) {
      const { page, totalPages } = paginate(items, request.query, { perPage: 20, maxPerPage: 100 });
      void reply.header("total_count", String(items.length)).header("total_page", String(totalPages));
      return page;
    }

    function commitJson(repo: StoredRepo, c: CommitInfo) {
      return {
        url: `${repoApi(repo)}/commits/${c.id}`,
        sha: c.id,
        html_url: `${ctx.origin()}/${repo.path}/commit/${c.id}`,
        commit: {
          author: { name: c.authorName, email: c.authorEmail, date: c.authoredDate },
          committer: { name: c.committerName, email: c.committerEmail, date: c.committedDate },
          message: c.message.replace(/\n$/, ""),
          tree: { sha: c.treeId, url: `${repoApi(repo)}/git/trees/${c.treeId}` },
        },
        parents: c.parentIds.map((p) => ({ sha: p, url: `${repoApi(repo)}/commits/${p}` })),
      };
    }

    const base = `${API}/repos/:owner/:repo`;

    app.get(base, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const { repo } = r;
      return {
        id: repo.meta.id,
        full_name: repo.path,
        human_name: repo.path.replace("/", " / "),
        url: repoApi(repo),
        namespace: { id: 1, type: "group", name: repo.owner, path: repo.owner },
        path: repo.name,
        name: repo.name,
        owner: { id: 1, login: repo.owner, name: repo.owner, type: "User" },
        description: "",
        private: repo.meta.visibility === "private",
        public: repo.meta.visibility === "public",
        internal: false,
        fork: false,
        html_url: `${ctx.origin()}/${repo.path}.git`,
        ssh_url: `git@${new URL(ctx.origin()).host}:${repo.path}.git`,
        default_branch: (await repo.git.defaultBranch()) ?? (await repo.git.headBranch()),
        empty_repo: await repo.git.isEmpty(),
        created_at: repo.meta.createdAt,
        updated_at: repo.meta.createdAt,
      };
    });

    app.get(`${base}/branches`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const items = (await r.repo.git.branches())
        .map((b) => {
          const name = b.ref.replace(/^refs\/heads\//, "");
          return {
            name,
            commit: { sha: b.commitId, url: `${repoApi(r.repo)}/commits/${b.commitId}` },
            protected: false,
            protection_url: `${repoApi(r.repo)}/branches/${name}/protection`,
          };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
      return sendPage(request, reply, items);
    });

    app.get(`${base}/branches/:branch`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const name = request.params["branch"] ?? "";
      const sha = await r.repo.git.resolveCommit(`refs/heads/${name}`);
      if (!sha) return reply.status(404).send({ message: "Branch Not Found" });
      return { name, commit: commitJson(r.repo, await r.repo.git.commit(sha)), protected: false };
    });

    app.post(`${base}/branches`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const body = bodyOf(request);
      const name = body["branch_name"];
      const refs = body["refs"];
      if (typeof name !== "string" || !isValidRefName(name))
        return reply.status(400).send({ message: "branch_name is invalid" });
      if (typeof refs !== "string" || !refs) return reply.status(400).send({ message: "refs is missing" });
      const sha = await r.repo.git.resolveCommit(refs);
      if (!sha) return reply.status(404).send({ message: "Ref Not Found" });
      try {
        await r.repo.git.updateRef(`refs/heads/${name}`, sha, ZERO_SHA);
      } catch {
        return reply.status(400).send({ message: "分支名已存在" });
      }
      ctx.refsChanged(r.repo, [{ ref: `refs/heads/${name}`, before: ZERO_SHA, after: sha }], r.user ?? "");
      return reply
        .status(201)
        .send({ name, commit: commitJson(r.repo, await r.repo.git.commit(sha)), protected: false });
    });

    app.get(`${base}/tags`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const tags = await r.repo.git.tags();
      const items = await Promise.all(
        tags.map(async (t) => {
          const c = await r.repo.git.commit(t.commitId);
          return {
            name: t.ref.replace(/^refs\/tags\//, ""),
            message: "",
            commit: { sha: t.commitId, date: c.committedDate },
            tagger: null,
          };
        }),
      );
      items.sort((a, b) => b.name.localeCompare(a.name));
      return sendPage(request, reply, items);
    });

    app.post(`${base}/tags`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const body = bodyOf(request);
      const name = body["tag_name"];
      const refs = body["refs"];
      if (typeof name !== "string" || !name)
        return reply.status(400).send({ message: "tag_name is missing" });
      if (typeof refs !== "string" || !refs) return reply.status(400).send({ message: "refs is missing" });
      if (!isValidRefName(name)) return reply.status(400).send({ message: "标签名称不合法" });
      const commitId = await r.repo.git.resolveCommit(refs);
      if (!commitId) return reply.status(404).send({ message: "Ref Not Found" });
      try {
        await r.repo.git.updateRef(`refs/tags/${name}`, commitId, ZERO_SHA);
      } catch {
        return reply.status(400).send({ message: "标签名已存在" });
      }
      ctx.refsChanged(
        r.repo,
        [{ ref: `refs/tags/${name}`, before: ZERO_SHA, after: commitId }],
        r.user ?? "",
      );
      const c = await r.repo.git.commit(commitId);
      return reply.status(201).send({
        name,
        message: typeof body["tag_message"] === "string" ? body["tag_message"] : "",
        commit: { sha: commitId, date: c.committedDate },
        tagger: null,
      });
    });

    registerHubStatuses(app, base, () => `${ctx.origin()}${API}`, "gitee", repository, sendPage, bodyOf);

    app.get(`${base}/commits/:sha`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const sha = await r.repo.git.resolveCommit(request.params["sha"] ?? "");
      if (!sha) return reply.status(404).send({ message: "Not Found" });
      return commitJson(r.repo, await r.repo.git.commit(sha));
    });

    app.get(`${base}/contents/*`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const path = decodeURIComponent(request.params["*"] ?? "").replace(/^\/+|\/+$/g, "");
      const ref = q(request.query, "ref") ?? (await r.repo.git.defaultBranch()) ?? "HEAD";
      const commitId = await r.repo.git.resolveCommit(ref);
      if (!commitId) return [];
      const file = path ? await r.repo.git.readFile(commitId, path) : null;
      if (file) {
        return {
          type: "file",
          encoding: "base64",
          size: file.content.length,
          name: path.split("/").at(-1),
          path,
          content: file.content.toString("base64"),
          sha: file.blobId,
          url: `${repoApi(r.repo)}/contents/${path}`,
          html_url: `${ctx.origin()}/${r.repo.path}/blob/${ref}/${path}`,
          download_url: `${ctx.origin()}/${r.repo.path}/raw/${ref}/${path}`,
        };
      }
      try {
        const entries = await r.repo.git.tree(commitId, false, path);
        return entries.map((e) => ({
          type: e.type === "tree" ? "dir" : "file",
          size: e.size ?? 0,
          name: e.path.split("/").at(-1),
          path: e.path,
          sha: e.sha,
          url: `${repoApi(r.repo)}/contents/${e.path}`,
        }));
      } catch {
        // Gitee answers a path that does not exist with an empty list.
        return [];
      }
    });

    app.get(`${base}/git/trees/:sha`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const recursive = q(request.query, "recursive") === "1";
      let treeSha: string;
      let entries;
      try {
        treeSha = (await r.repo.git.run(["rev-parse", "--verify", `${request.params["sha"]}^{tree}`]))
          .toString("utf8")
          .trim();
        entries = await r.repo.git.tree(treeSha, recursive);
      } catch {
        return reply.status(404).send({ message: "Not Found" });
      }
      return {
        sha: treeSha,
        url: `${repoApi(r.repo)}/git/trees/${treeSha}`,
        tree: entries.map((e) => ({
          path: e.path,
          mode: e.mode,
          type: e.type,
          sha: e.sha,
          size: e.size ?? 0,
          url: `${repoApi(r.repo)}/git/${e.type === "tree" ? "trees" : "blobs"}/${e.sha}`,
        })),
        truncated: false,
      };
    });

    app.post(`${base}/commits`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const body = bodyOf(request);
      const branch = body["branch"];
      const message = body["message"];
      const actions = body["actions"];
      if (typeof branch !== "string" || !branch)
        return reply.status(400).send({ message: "branch is missing" });
      if (typeof message !== "string" || !message)
        return reply.status(400).send({ message: "message is missing" });
      if (!Array.isArray(actions) || !actions.length)
        return reply.status(400).send({ message: "actions is missing" });
      if (!isValidRefName(branch)) return reply.status(400).send({ message: "分支名称不合法" });
      const current = await r.repo.git.resolveCommit(`refs/heads/${branch}`);
      if (!current && !(await r.repo.git.isEmpty()))
        return reply.status(404).send({ message: "Branch Not Found" });
      const fileActions: FileAction[] = [];
      for (const a of actions as Record<string, unknown>[]) {
        const action = a["action"];
        const path = typeof a["path"] === "string" ? a["path"].replace(/^\/+/, "") : "";
        if (!path) return reply.status(400).send({ message: "actions[path] is missing" });
        if (action !== "create" && action !== "update" && action !== "delete")
          return reply.status(400).send({ message: "actions[action] is invalid" });
        const exists = current ? (await r.repo.git.readFile(current, path)) !== null : false;
        if (action === "create" && exists) return reply.status(400).send({ message: `文件 ${path} 已存在` });
        if (action !== "create" && !exists) return reply.status(400).send({ message: `文件 ${path} 不存在` });
        const content = typeof a["content"] === "string" ? a["content"] : "";
        fileActions.push({
          action,
          path,
          content: a["encoding"] === "base64" ? Buffer.from(content, "base64") : Buffer.from(content),
        });
      }
      let sha: string;
      try {
        sha = await r.repo.git.commitActions(
          branch,
          message,
          fileActions,
          { name: r.user ?? "emulator", email: `${r.user ?? "emulator"}@example.com` },
          null,
        );
      } catch (err) {
        if (err instanceof GitCommandError)
          return reply.status(409).send({ message: "分支已被更新，请重试" });
        throw err;
      }
      ctx.refsChanged(
        r.repo,
        [{ ref: `refs/heads/${branch}`, before: current ?? ZERO_SHA, after: sha }],
        r.user ?? "",
      );
      return reply.status(201).send(commitJson(r.repo, await r.repo.git.commit(sha)));
    });

    const hookJson = (repo: StoredRepo, h: HookConfig) => ({
      id: h.id,
      url: h.url,
      created_at: h.createdAt,
      password: h.giteeEncryptionType === 0 ? (h.secret ?? "") : "",
      project_id: repo.meta.id,
      result: "",
      result_code: null,
      push_events: h.pushEvents,
      tag_push_events: h.tagPushEvents,
      issues_events: false,
      note_events: false,
      merge_requests_events: false,
    });

    app.get(`${base}/hooks`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      return sendPage(
        request,
        reply,
        r.repo.meta.hooks.map((h) => hookJson(r.repo, h)),
      );
    });

    app.post(`${base}/hooks`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const body = bodyOf(request);
      const url = body["url"];
      if (typeof url !== "string" || !URL.canParse(url))
        return reply.status(400).send({ message: "url is invalid" });
      const hook: HookConfig = {
        id: r.repo.meta.nextHookId++,
        url,
        secret: typeof body["password"] === "string" ? body["password"] : null,
        signingToken: null,
        giteeEncryptionType: Number(body["encryption_type"] ?? 0) === 1 ? 1 : 0,
        pushEvents: bool(body["push_events"], true),
        tagPushEvents: bool(body["tag_push_events"], false),
        active: true,
        createdAt: new Date().toISOString(),
      };
      r.repo.meta.hooks.push(hook);
      await r.repo.persist();
      return reply.status(201).send(hookJson(r.repo, hook));
    });

    app.delete(`${base}/hooks/:hookId`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const id = Number(request.params["hookId"]);
      const idx = r.repo.meta.hooks.findIndex((h) => h.id === id);
      if (idx < 0) return reply.status(404).send({ message: "Not Found" });
      r.repo.meta.hooks.splice(idx, 1);
      await r.repo.persist();
      return reply.status(204).send();
    });
  },

  async hookRequest(repo, hook, change, pusher, ctx): Promise<HookRequest | null> {
    const isTag = change.ref.startsWith("refs/tags/");
    if (isTag ? !hook.tagPushEvents : !hook.pushEvents) return null;
    const web = `${ctx.origin()}/${repo.path}`;
    const deleted = change.after === ZERO_SHA;
    const commits = [];
    if (!deleted && !isTag) {
      for (const id of (await repo.git.commitsBetween(change.before, change.after)).reverse()) {
        const c = await repo.git.commit(id);
        commits.push({
          id: c.id,
          tree_id: c.treeId,
          distinct: true,
          message: c.message,
          timestamp: c.committedDate,
          url: `${web}/commit/${c.id}`,
          author: { name: c.authorName, email: c.authorEmail, time: c.authoredDate },
          committer: { name: c.committerName, email: c.committerEmail },
          added: null,
          removed: null,
          modified: null,
        });
      }
    }
    const timestamp = String(Date.now());
    const secret = hook.secret ?? "";
    const sign = hook.giteeEncryptionType === 1 ? giteeSignature(secret, timestamp) : "";
    const repository = {
      id: repo.meta.id,
      name: repo.name,
      path: repo.name,
      full_name: repo.path,
      owner: { login: repo.owner, name: repo.owner },
      private: repo.meta.visibility === "private",
      html_url: web,
      url: web,
      git_http_url: `${web}.git`,
      clone_url: `${web}.git`,
      default_branch: (await repo.git.defaultBranch()) ?? "master",
      path_with_namespace: repo.path,
    };
    const payload = {
      hook_name: isTag ? "tag_push_hooks" : "push_hooks",
      password: hook.giteeEncryptionType === 0 ? secret : "",
      hook_id: hook.id,
      hook_url: `${web}/hooks/${hook.id}/edit`,
      timestamp,
      sign,
      ref: change.ref,
      before: change.before,
      after: change.after,
      created: change.before === ZERO_SHA,
      deleted,
      compare: `${web}/compare/${change.before}...${change.after}`,
      commits,
      head_commit: commits.at(-1) ?? null,
      total_commits_count: commits.length,
      commits_more_than_ten: commits.length > 10,
      repository,
      project: repository,
      user_id: 1,
      user_name: pusher,
      user: { name: pusher, username: pusher },
      pusher: { name: pusher, username: pusher },
      sender: { login: pusher, username: pusher },
      enterprise: null,
    };
    const event = isTag ? "Tag Push Hook" : "Push Hook";
    return {
      event,
      headers: {
        "user-agent": "git-oschina-hook",
        "x-gitee-token": hook.giteeEncryptionType === 1 ? sign : secret,
        "x-gitee-timestamp": timestamp,
        "x-gitee-event": event,
        "x-gitee-ping": "false",
      },
      body: JSON.stringify(payload),
    };
  },
};

export function createGiteeEmulator(opts: EmulatorOptions): GitEmulator {
  return new GitEmulator(giteeModule, opts);
}
