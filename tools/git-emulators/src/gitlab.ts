import { createHash, randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  GitEmulator,
  linkHeader,
  paginate,
  q,
  type EmulatorContext,
  type EmulatorOptions,
  type HookRequest,
  type ProviderModule,
} from "./emulator.js";
import { GitCommandError, isValidRefName, ZERO_SHA, type CommitInfo, type FileAction } from "./git.js";
import { gitlabWebhookSignature } from "./hooks-signing.js";
import { registerGitLabStatuses } from "./statuses.js";
import type { HookConfig, StoredRepo } from "./repo-store.js";

/**
 * GitLab REST API v4, the part the platform uses: projects, branches, tags (create with its
 * parameters in the query string, as @gitbeaker/rest sends them), commits (show, multi-file create),
 * files, trees, project hooks; offset pagination with Link and X-Total/X-Page headers; PRIVATE-TOKEN
 * or Bearer auth; webhooks with X-Gitlab-Token and the newer signing token.
 */
const API = "/api/v4";

type Req = FastifyRequest<{ Params: Record<string, string> }>;

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers["private-token"];
  if (typeof header === "string" && header) return header;
  const auth = request.headers.authorization;
  const m = typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  if (m) return m[1];
  return q(request.query, "private_token") ?? q(request.query, "access_token");
}

/** Parameters GitLab takes from the query string or the body (Grape merges both). */
function param(request: FastifyRequest, name: string): unknown {
  const fromQuery = (request.query as Record<string, unknown> | undefined)?.[name];
  if (fromQuery !== undefined) return fromQuery;
  const body = request.body;
  if (body && typeof body === "object" && !Buffer.isBuffer(body))
    return (body as Record<string, unknown>)[name];
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

function bool(v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  return v === true || v === "true" || v === "1" || v === 1;
}

function commitJson(c: CommitInfo, webBase: string) {
  const title = c.message.split("\n")[0] ?? "";
  return {
    id: c.id,
    short_id: c.id.slice(0, 8),
    created_at: c.committedDate,
    parent_ids: c.parentIds,
    title,
    message: c.message,
    author_name: c.authorName,
    author_email: c.authorEmail,
    authored_date: c.authoredDate,
    committer_name: c.committerName,
    committer_email: c.committerEmail,
    committed_date: c.committedDate,
    trailers: {},
    extended_trailers: {},
    web_url: `${webBase}/-/commit/${c.id}`,
  };
}

const gitlabModule: ProviderModule = {
  kind: "gitlab",
  notFoundBody: { message: "404 Not Found" },
  realm: "GitLab",

  register(app: FastifyInstance, ctx: EmulatorContext) {
    const webBase = (repo: StoredRepo) => `${ctx.origin()}/${repo.path}`;

    /** Auth and project lookup; answers the error itself and returns null when there is one. */
    async function project(
      request: Req,
      reply: FastifyReply,
      opts: { write?: boolean } = {},
    ): Promise<{ repo: StoredRepo; user: string | null } | null> {
      const token = tokenOf(request);
      const user = ctx.tokenUser(token);
      if (token && !user) {
        await reply.status(401).send({ message: "401 Unauthorized" });
        return null;
      }
      const id = request.params["id"] ?? "";
      const repo = /^\d+$/.test(id) ? ctx.store.byId(Number(id)) : ctx.store.get(id);
      if (!repo || (repo.meta.visibility === "private" && !user)) {
        await reply.status(404).send({ message: "404 Project Not Found" });
        return null;
      }
      if (opts.write && !user) {
        await reply.status(401).send({ message: "401 Unauthorized" });
        return null;
      }
      return { repo, user };
    }

    async function projectJson(repo: StoredRepo) {
      const defaultBranch = await repo.git.defaultBranch();
      const ns = repo.owner;
      return {
        id: repo.meta.id,
        description: null,
        name: repo.name,
        name_with_namespace: `${ns.replace(/\//g, " / ")} / ${repo.name}`,
        path: repo.name,
        path_with_namespace: repo.path,
        created_at: repo.meta.createdAt,
        default_branch: defaultBranch,
        tag_list: [],
        topics: [],
        ssh_url_to_repo: `git@${new URL(ctx.origin()).host}:${repo.path}.git`,
        http_url_to_repo: `${ctx.origin()}/${repo.path}.git`,
        web_url: `${ctx.origin()}/${repo.path}`,
        readme_url: null,
        empty_repo: await repo.git.isEmpty(),
        archived: false,
        visibility: repo.meta.visibility,
        namespace: { id: 1, name: ns, path: ns, kind: "group", full_path: ns },
      };
    }

    function sendPage<T>(request: FastifyRequest, reply: FastifyReply, items: T[], path: string) {
      const { page, pageNo, perPage, totalPages } = paginate(items, request.query, {
        perPage: 20,
        maxPerPage: 100,
      });
      const base = `${ctx.origin()}${path}`;
      void reply
        .header("x-total", String(items.length))
        .header("x-total-pages", String(totalPages))
        .header("x-per-page", String(perPage))
        .header("x-page", String(pageNo))
        .header("x-next-page", pageNo < totalPages ? String(pageNo + 1) : "")
        .header("x-prev-page", pageNo > 1 ? String(pageNo - 1) : "")
        .header("link", linkHeader(base, request.query, pageNo, perPage, totalPages));
      return page;
    }

    const pathOf = (request: FastifyRequest) => request.url.split("?")[0] ?? "";

    app.get(`${API}/projects/:id`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      return projectJson(p.repo);
    });

    app.get(`${API}/projects/:id/repository/branches`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      const def = await p.repo.git.defaultBranch();
      const search = q(request.query, "search");
      const branches = (await p.repo.git.branches())
        .map((b) => ({ ...b, name: b.ref.replace(/^refs\/heads\//, "") }))
        .filter((b) => !search || b.name.includes(search))
        .sort((a, b) => a.name.localeCompare(b.name));
      const page = sendPage(request, reply, branches, pathOf(request));
      const commits = new Map<string, Promise<CommitInfo>>();
      const commitOf = (sha: string) => {
        if (!commits.has(sha)) commits.set(sha, p.repo.git.commit(sha));
        return commits.get(sha)!;
      };
      return Promise.all(
        page.map(async (b) => ({
          name: b.name,
          merged: false,
          protected: b.name === def,
          default: b.name === def,
          developers_can_push: false,
          developers_can_merge: false,
          can_push: true,
          web_url: `${webBase(p.repo)}/-/tree/${b.name}`,
          commit: commitJson(await commitOf(b.commitId), webBase(p.repo)),
        })),
      );
    });

    app.get(`${API}/projects/:id/repository/branches/:branch`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      const name = request.params["branch"] ?? "";
      const sha = await p.repo.git.resolveCommit(`refs/heads/${name}`);
      if (!sha) return reply.status(404).send({ message: "404 Branch Not Found" });
      const def = await p.repo.git.defaultBranch();
      return {
        name,
        merged: false,
        protected: name === def,
        default: name === def,
        can_push: true,
        web_url: `${webBase(p.repo)}/-/tree/${name}`,
        commit: commitJson(await p.repo.git.commit(sha), webBase(p.repo)),
      };
    });

    async function tagJson(
      repo: StoredRepo,
      name: string,
      target: string,
      commitId: string,
      objectType: string,
    ) {
      let message = "";
      if (objectType === "tag") {
        const raw = (await repo.git.run(["cat-file", "tag", target])).toString("utf8");
        message = raw.slice(raw.indexOf("\n\n") + 2).replace(/\n$/, "");
      }
      return {
        name,
        message,
        target,
        commit: commitJson(await repo.git.commit(commitId), webBase(repo)),
        release: null,
        protected: false,
        created_at: null,
      };
    }

    app.get(`${API}/projects/:id/repository/tags`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      const tags = (await p.repo.git.tags()).map((t) => ({ ...t, name: t.ref.replace(/^refs\/tags\//, "") }));
      tags.sort((a, b) => b.name.localeCompare(a.name));
      const page = sendPage(request, reply, tags, pathOf(request));
      return Promise.all(page.map((t) => tagJson(p.repo, t.name, t.sha, t.commitId, t.objectType)));
    });

    app.get(`${API}/projects/:id/repository/tags/:tag`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      const name = request.params["tag"] ?? "";
      const t = (await p.repo.git.tags()).find((x) => x.ref === `refs/tags/${name}`);
      if (!t) return reply.status(404).send({ message: "404 Tag Not Found" });
      return tagJson(p.repo, name, t.sha, t.commitId, t.objectType);
    });

    app.post(`${API}/projects/:id/repository/tags`, async (request: Req, reply) => {
      const p = await project(request, reply, { write: true });
      if (!p) return reply;
      const name = str(param(request, "tag_name"));
      const ref = str(param(request, "ref"));
      const message = str(param(request, "message"));
      if (!name) return reply.status(400).send({ error: "tag_name is missing" });
      if (!ref) return reply.status(400).send({ error: "ref is missing" });
      if (!isValidRefName(name)) return reply.status(400).send({ message: "Tag name invalid" });
      if ((await p.repo.git.tags()).some((t) => t.ref === `refs/tags/${name}`)) {
        return reply.status(400).send({ message: `Tag ${name} already exists` });
      }
      const commitId = await p.repo.git.resolveCommit(ref);
      if (!commitId) return reply.status(400).send({ message: "Target " + ref + " is invalid" });
      let target = commitId;
      if (message) {
        await p.repo.git.run(["tag", "-a", name, commitId, "-m", message], {
          env: {
            GIT_COMMITTER_NAME: p.user ?? "emulator",
            GIT_COMMITTER_EMAIL: `${p.user ?? "emulator"}@example.com`,
          },
        });
        target = (await p.repo.git.run(["rev-parse", `refs/tags/${name}`])).toString("utf8").trim();
      } else {
        try {
          await p.repo.git.updateRef(`refs/tags/${name}`, commitId, ZERO_SHA);
        } catch {
          return reply.status(400).send({ message: `Tag ${name} already exists` });
        }
      }
      ctx.refsChanged(p.repo, [{ ref: `refs/tags/${name}`, before: ZERO_SHA, after: target }], p.user ?? "");
      return reply
        .status(201)
        .send(await tagJson(p.repo, name, target, commitId, message ? "tag" : "commit"));
    });

    registerGitLabStatuses(app, API, ctx, project, sendPage, param);

    app.get(`${API}/projects/:id/repository/commits/:sha`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      const sha = await p.repo.git.resolveCommit(request.params["sha"] ?? "");
      if (!sha) return reply.status(404).send({ message: "404 Commit Not Found" });
      return {
        ...commitJson(await p.repo.git.commit(sha), webBase(p.repo)),
        status: null,
        last_pipeline: null,
      };
    });

    async function fileAt(request: Req, reply: FastifyReply) {
      const p = await project(request, reply);
      if (!p) return null;
      const ref = q(request.query, "ref");
      if (!ref) {
        await reply.status(400).send({ error: "ref is missing" });
        return null;
      }
      const filePath = request.params["file_path"] ?? "";
      const commitId = await p.repo.git.resolveCommit(ref);
      const file = commitId ? await p.repo.git.readFile(commitId, filePath) : null;
      if (!commitId || !file) {
        await reply.status(404).send({ message: "404 File Not Found" });
        return null;
      }
      return { ...p, ref, filePath, commitId, file };
    }

    app.get(`${API}/projects/:id/repository/files/:file_path`, async (request: Req, reply) => {
      const f = await fileAt(request, reply);
      if (!f) return reply;
      return {
        file_name: f.filePath.split("/").at(-1),
        file_path: f.filePath,
        size: f.file.content.length,
        encoding: "base64",
        content: f.file.content.toString("base64"),
        content_sha256: createHash("sha256").update(f.file.content).digest("hex"),
        ref: f.ref,
        blob_id: f.file.blobId,
        commit_id: f.commitId,
        last_commit_id: f.commitId,
        execute_filemode: false,
      };
    });

    app.get(`${API}/projects/:id/repository/files/:file_path/raw`, async (request: Req, reply) => {
      const f = await fileAt(request, reply);
      if (!f) return reply;
      return reply.header("content-type", "text/plain; charset=utf-8").send(f.file.content);
    });

    app.get(`${API}/projects/:id/repository/tree`, async (request: Req, reply) => {
      const p = await project(request, reply);
      if (!p) return reply;
      const ref = q(request.query, "ref") ?? (await p.repo.git.defaultBranch());
      const commitId = ref ? await p.repo.git.resolveCommit(ref) : null;
      if (!commitId) return reply.status(404).send({ message: "404 Tree Not Found" });
      const recursive = bool(q(request.query, "recursive"), false);
      const sub = (q(request.query, "path") ?? "").replace(/^\/+|\/+$/g, "");
      let entries;
      try {
        entries = await p.repo.git.tree(commitId, recursive, sub);
      } catch (err) {
        if (err instanceof GitCommandError) return reply.status(404).send({ message: "404 Tree Not Found" });
        throw err;
      }
      const items = entries.map((e) => ({
        id: e.sha,
        name: e.path.split("/").at(-1),
        type: e.type,
        path: e.path,
        mode: e.mode,
      }));
      return sendPage(request, reply, items, pathOf(request));
    });

    app.post(`${API}/projects/:id/repository/commits`, async (request: Req, reply) => {
      const p = await project(request, reply, { write: true });
      if (!p) return reply;
      const body = (request.body ?? {}) as Record<string, unknown>;
      const branch = str(body["branch"]);
      const message = str(body["commit_message"]);
      const actions = body["actions"];
      if (!branch) return reply.status(400).send({ error: "branch is missing" });
      if (!message) return reply.status(400).send({ error: "commit_message is missing" });
      if (!Array.isArray(actions) || actions.length === 0)
        return reply.status(400).send({ error: "actions is missing" });
      if (!isValidRefName(branch)) return reply.status(400).send({ message: "Branch name is invalid" });
      const repo = p.repo;
      const current = await repo.git.resolveCommit(`refs/heads/${branch}`);
      let start: string | null = null;
      if (!current) {
        const startBranch = str(body["start_branch"]);
        const startSha = str(body["start_sha"]);
        if (startBranch || startSha) {
          start = await repo.git.resolveCommit(startSha ?? `refs/heads/${startBranch}`);
          if (!start) return reply.status(400).send({ message: "Invalid start branch" });
        } else if (!(await repo.git.isEmpty())) {
          return reply
            .status(400)
            .send({ message: "You can only create or edit files when you are on a branch" });
        }
      }
      const base = current ?? start;
      const fileActions: FileAction[] = [];
      for (const raw of actions as Record<string, unknown>[]) {
        const action = str(raw["action"]);
        const filePath = str(raw["file_path"])?.replace(/^\/+/, "");
        if (!filePath) return reply.status(400).send({ error: "actions[file_path] is missing" });
        if (action !== "create" && action !== "update" && action !== "delete")
          return reply.status(400).send({ error: "actions[action] does not have a valid value" });
        const exists = base ? (await repo.git.readFile(base, filePath)) !== null : false;
        if (action === "create" && exists)
          return reply.status(400).send({ message: "A file with this name already exists" });
        if ((action === "update" || action === "delete") && !exists)
          return reply.status(400).send({ message: "A file with this name doesn't exist" });
        const content = str(raw["content"]) ?? "";
        fileActions.push({
          action,
          path: filePath,
          content:
            raw["encoding"] === "base64" ? Buffer.from(content, "base64") : Buffer.from(content, "utf8"),
        });
      }
      let sha: string;
      try {
        sha = await repo.git.commitActions(
          branch,
          message,
          fileActions,
          {
            name: str(body["author_name"]) ?? p.user ?? "emulator",
            email: str(body["author_email"]) ?? `${p.user ?? "emulator"}@example.com`,
          },
          start,
        );
      } catch (err) {
        if (err instanceof GitCommandError)
          return reply.status(400).send({ message: "Could not update branch: it changed meanwhile" });
        throw err;
      }
      ctx.refsChanged(
        repo,
        [{ ref: `refs/heads/${branch}`, before: current ?? ZERO_SHA, after: sha }],
        p.user ?? "",
      );
      const info = await repo.git.commit(sha);
      return reply.status(201).send({
        ...commitJson(info, webBase(repo)),
        stats: { additions: 0, deletions: 0, total: 0 },
        status: null,
        project_id: repo.meta.id,
        last_pipeline: null,
      });
    });

    const hookJson = (repo: StoredRepo, h: HookConfig) => ({
      id: h.id,
      url: h.url,
      name: null,
      description: null,
      project_id: repo.meta.id,
      push_events: h.pushEvents,
      push_events_branch_filter: null,
      issues_events: false,
      confidential_issues_events: false,
      merge_requests_events: false,
      tag_push_events: h.tagPushEvents,
      note_events: false,
      confidential_note_events: false,
      job_events: false,
      pipeline_events: false,
      wiki_page_events: false,
      deployment_events: false,
      releases_events: false,
      enable_ssl_verification: true,
      repository_update_events: false,
      alert_status: "executable",
      disabled_until: null,
      url_variables: [],
      created_at: h.createdAt,
    });

    app.get(`${API}/projects/:id/hooks`, async (request: Req, reply) => {
      const p = await project(request, reply, { write: true });
      if (!p) return reply;
      return sendPage(
        request,
        reply,
        p.repo.meta.hooks.map((h) => hookJson(p.repo, h)),
        pathOf(request),
      );
    });

    app.post(`${API}/projects/:id/hooks`, async (request: Req, reply) => {
      const p = await project(request, reply, { write: true });
      if (!p) return reply;
      const url = str(param(request, "url"));
      if (!url) return reply.status(400).send({ error: "url is missing" });
      if (!URL.canParse(url))
        return reply
          .status(422)
          .send({ message: { url: ["is blocked: Only allowed schemes are http, https"] } });
      const hook: HookConfig = {
        id: p.repo.meta.nextHookId++,
        url,
        secret: str(param(request, "token")) ?? null,
        signingToken: str(param(request, "signing_token")) ?? null,
        giteeEncryptionType: 0,
        pushEvents: bool(param(request, "push_events"), true),
        tagPushEvents: bool(param(request, "tag_push_events"), false),
        active: true,
        createdAt: new Date().toISOString(),
      };
      p.repo.meta.hooks.push(hook);
      await p.repo.persist();
      return reply.status(201).send(hookJson(p.repo, hook));
    });

    app.delete(`${API}/projects/:id/hooks/:hookId`, async (request: Req, reply) => {
      const p = await project(request, reply, { write: true });
      if (!p) return reply;
      const id = Number(request.params["hookId"]);
      const idx = p.repo.meta.hooks.findIndex((h) => h.id === id);
      if (idx < 0) return reply.status(404).send({ message: "404 Not found" });
      p.repo.meta.hooks.splice(idx, 1);
      await p.repo.persist();
      return reply.status(204).send();
    });
  },

  async hookRequest(repo, hook, change, pusher, ctx): Promise<HookRequest | null> {
    const isTag = change.ref.startsWith("refs/tags/");
    if (isTag ? !hook.tagPushEvents : !hook.pushEvents) return null;
    const web = `${ctx.origin()}/${repo.path}`;
    const deleted = change.after === ZERO_SHA;
    let checkoutSha: string | null = null;
    const commits = [];
    if (!deleted) {
      checkoutSha = await repo.git.resolveCommit(change.after);
      if (!isTag) {
        for (const id of await repo.git.commitsBetween(change.before, change.after)) {
          const c = await repo.git.commit(id);
          commits.push({
            id: c.id,
            message: c.message,
            title: c.message.split("\n")[0] ?? "",
            timestamp: c.committedDate,
            url: `${web}/-/commit/${c.id}`,
            author: { name: c.authorName, email: c.authorEmail },
            added: [],
            modified: [],
            removed: [],
          });
        }
      }
    }
    const defaultBranch = await repo.git.defaultBranch();
    const repository = {
      name: repo.name,
      url: `${ctx.origin()}/${repo.path}.git`,
      description: null,
      homepage: web,
      git_http_url: `${ctx.origin()}/${repo.path}.git`,
      git_ssh_url: `git@${new URL(ctx.origin()).host}:${repo.path}.git`,
      visibility_level: repo.meta.visibility === "public" ? 20 : 0,
    };
    const payload = {
      object_kind: isTag ? "tag_push" : "push",
      event_name: isTag ? "tag_push" : "push",
      before: change.before,
      after: change.after,
      ref: change.ref,
      ref_protected: false,
      checkout_sha: checkoutSha,
      message: null,
      user_id: 1,
      user_name: pusher,
      user_username: pusher,
      user_email: "",
      user_avatar: null,
      project_id: repo.meta.id,
      project: {
        id: repo.meta.id,
        name: repo.name,
        description: null,
        web_url: web,
        avatar_url: null,
        git_ssh_url: repository.git_ssh_url,
        git_http_url: repository.git_http_url,
        namespace: repo.owner,
        visibility_level: repository.visibility_level,
        path_with_namespace: repo.path,
        default_branch: defaultBranch,
        homepage: web,
        url: repository.git_http_url,
        ssh_url: repository.git_ssh_url,
        http_url: repository.git_http_url,
      },
      commits,
      total_commits_count: commits.length,
      push_options: {},
      repository,
    };
    const body = JSON.stringify(payload);
    const uuid = randomUUID();
    const headers: Record<string, string> = {
      "user-agent": "GitLab/17.9.0",
      "x-gitlab-event": isTag ? "Tag Push Hook" : "Push Hook",
      "x-gitlab-webhook-uuid": randomUUID(),
      "x-gitlab-event-uuid": uuid,
      "x-gitlab-instance": ctx.origin(),
      "idempotency-key": uuid,
    };
    if (hook.secret) headers["x-gitlab-token"] = hook.secret;
    if (hook.signingToken) {
      const ts = String(Math.floor(Date.now() / 1000));
      headers["webhook-id"] = uuid;
      headers["webhook-timestamp"] = ts;
      headers["webhook-signature"] = gitlabWebhookSignature(hook.signingToken, uuid, ts, body);
    }
    return { event: isTag ? "Tag Push Hook" : "Push Hook", headers, body };
  },
};

export function createGitLabEmulator(opts: EmulatorOptions): GitEmulator {
  return new GitEmulator(gitlabModule, opts);
}
