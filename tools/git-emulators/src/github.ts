import { randomUUID } from "node:crypto";
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
import { GitCommandError, isValidRefName, ZERO_SHA, type CommitInfo } from "./git.js";
import { githubSignature1, githubSignature256 } from "./hooks-signing.js";
import type { HookConfig, StoredRepo } from "./repo-store.js";
import { registerHubStatuses } from "./statuses.js";

/**
 * GitHub REST API (GitHub Enterprise layout: `/api/v3`), the part the platform uses: repository,
 * branches, tags, commits, refs (create, update, read), annotated tags, contents (read, create),
 * trees, blobs, commits of the Git Data API, hooks (with their ping); Link pagination;
 * `Authorization: token|Bearer`; webhooks signed with X-Hub-Signature-256. An empty repository
 * refuses the Git Data API with 409 "Git Repository is empty." as GitHub does.
 */
const API = "/api/v3";
const DOCS = "https://docs.github.com/rest";

type Req = FastifyRequest<{ Params: Record<string, string> }>;

function tokenOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  const m = typeof auth === "string" ? /^(?:token|Bearer)\s+(\S+)$/i.exec(auth) : null;
  return m?.[1];
}

const notFound = { message: "Not Found", documentation_url: DOCS, status: "404" };

const githubModule: ProviderModule = {
  kind: "github",
  notFoundBody: notFound,
  realm: "GitHub",

  register(app: FastifyInstance, ctx: EmulatorContext) {
    const api = () => `${ctx.origin()}${API}`;
    const repoApi = (repo: StoredRepo) => `${api()}/repos/${repo.path}`;

    async function repository(
      request: Req,
      reply: FastifyReply,
      opts: { write?: boolean; nonEmpty?: boolean } = {},
    ): Promise<{ repo: StoredRepo; user: string | null } | null> {
      const token = tokenOf(request);
      const user = ctx.tokenUser(token);
      if (token && !user) {
        await reply.status(401).send({ message: "Bad credentials", documentation_url: DOCS, status: "401" });
        return null;
      }
      const repo = ctx.store.get(`${request.params["owner"]}/${request.params["repo"]}`);
      if (!repo || (repo.meta.visibility === "private" && !user)) {
        await reply.status(404).send(notFound);
        return null;
      }
      if (opts.write && !user) {
        await reply
          .status(401)
          .send({ message: "Requires authentication", documentation_url: DOCS, status: "401" });
        return null;
      }
      if (opts.nonEmpty && (await repo.git.isEmpty())) {
        await reply
          .status(409)
          .send({ message: "Git Repository is empty.", documentation_url: DOCS, status: "409" });
        return null;
      }
      return { repo, user };
    }

    function sendPage<T>(request: FastifyRequest, reply: FastifyReply, items: T[]) {
      const { page, pageNo, perPage, totalPages } = paginate(items, request.query, {
        perPage: 30,
        maxPerPage: 100,
      });
      if (totalPages > 1) {
        void reply.header(
          "link",
          linkHeader(
            `${ctx.origin()}${request.url.split("?")[0]}`,
            request.query,
            pageNo,
            perPage,
            totalPages,
          )
            .split(", ")
            .filter((l) => !(pageNo === 1 && l.endsWith('rel="first"')))
            .join(", "),
        );
      }
      return page;
    }

    function commitJson(repo: StoredRepo, c: CommitInfo) {
      return {
        sha: c.id,
        node_id: `C_${c.id.slice(0, 12)}`,
        url: `${repoApi(repo)}/commits/${c.id}`,
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

    function gitCommitJson(repo: StoredRepo, c: CommitInfo) {
      return {
        sha: c.id,
        node_id: `C_${c.id.slice(0, 12)}`,
        url: `${repoApi(repo)}/git/commits/${c.id}`,
        html_url: `${ctx.origin()}/${repo.path}/commit/${c.id}`,
        author: { name: c.authorName, email: c.authorEmail, date: c.authoredDate },
        committer: { name: c.committerName, email: c.committerEmail, date: c.committedDate },
        tree: { sha: c.treeId, url: `${repoApi(repo)}/git/trees/${c.treeId}` },
        message: c.message.replace(/\n$/, ""),
        parents: c.parentIds.map((p) => ({ sha: p, url: `${repoApi(repo)}/git/commits/${p}` })),
        verification: { verified: false, reason: "unsigned", signature: null, payload: null },
      };
    }

    async function repoJson(repo: StoredRepo) {
      const empty = await repo.git.isEmpty();
      return {
        id: repo.meta.id,
        node_id: `R_${repo.meta.id}`,
        name: repo.name,
        full_name: repo.path,
        private: repo.meta.visibility === "private",
        owner: { login: repo.owner, id: 1, type: "Organization" },
        html_url: `${ctx.origin()}/${repo.path}`,
        description: null,
        fork: false,
        url: repoApi(repo),
        git_url: `git://${new URL(ctx.origin()).host}/${repo.path}.git`,
        ssh_url: `git@${new URL(ctx.origin()).host}:${repo.path}.git`,
        clone_url: `${ctx.origin()}/${repo.path}.git`,
        size: empty ? 0 : 1,
        default_branch: (await repo.git.defaultBranch()) ?? (await repo.git.headBranch()),
        visibility: repo.meta.visibility,
        created_at: repo.meta.createdAt,
        updated_at: repo.meta.createdAt,
        pushed_at: repo.meta.createdAt,
        permissions: { admin: true, maintain: true, push: true, triage: true, pull: true },
      };
    }

    const base = `${API}/repos/:owner/:repo`;

    app.get(base, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      return repoJson(r.repo);
    });

    app.get(`${base}/branches`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const items = (await r.repo.git.branches())
        .map((b) => ({
          name: b.ref.replace(/^refs\/heads\//, ""),
          commit: { sha: b.commitId, url: `${repoApi(r.repo)}/commits/${b.commitId}` },
          protected: false,
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
      return sendPage(request, reply, items);
    });

    app.get(`${base}/branches/:branch`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const name = request.params["branch"] ?? "";
      const sha = await r.repo.git.resolveCommit(`refs/heads/${name}`);
      if (!sha)
        return reply
          .status(404)
          .send({ message: "Branch not found", documentation_url: DOCS, status: "404" });
      return { name, commit: commitJson(r.repo, await r.repo.git.commit(sha)), protected: false };
    });

    app.get(`${base}/tags`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      const items = (await r.repo.git.tags())
        .map((t) => {
          const name = t.ref.replace(/^refs\/tags\//, "");
          return {
            name,
            zipball_url: `${repoApi(r.repo)}/zipball/refs/tags/${name}`,
            tarball_url: `${repoApi(r.repo)}/tarball/refs/tags/${name}`,
            commit: { sha: t.commitId, url: `${repoApi(r.repo)}/commits/${t.commitId}` },
            node_id: `REF_${name}`,
          };
        })
        .sort((a, b) => b.name.localeCompare(a.name));
      return sendPage(request, reply, items);
    });

    registerHubStatuses(app, base, api, "github", repository, sendPage, (request) =>
      request.body && typeof request.body === "object" ? (request.body as Record<string, unknown>) : {},
    );

    app.get(`${base}/commits/:ref`, async (request: Req, reply) => {
      const r = await repository(request, reply, { nonEmpty: true });
      if (!r) return reply;
      const ref = request.params["ref"] ?? "";
      const sha = await r.repo.git.resolveCommit(ref);
      if (!sha)
        return reply
          .status(422)
          .send({ message: `No commit found for SHA: ${ref}`, documentation_url: DOCS, status: "422" });
      return {
        ...commitJson(r.repo, await r.repo.git.commit(sha)),
        files: [],
        stats: { total: 0, additions: 0, deletions: 0 },
      };
    });

    async function refJson(repo: StoredRepo, ref: string) {
      const entry = (await repo.git.refs(ref)).find((e) => e.ref === ref);
      if (!entry) return null;
      return {
        ref,
        node_id: `REF_${ref}`,
        url: `${repoApi(repo)}/git/${ref}`,
        object: {
          sha: entry.sha,
          type: entry.objectType,
          url: `${repoApi(repo)}/git/${entry.objectType === "tag" ? "tags" : "commits"}/${entry.sha}`,
        },
      };
    }

    const wildcard = (request: Req) => decodeURIComponent(request.params["*"] ?? "");

    app.get(`${base}/git/ref/*`, async (request: Req, reply) => {
      const r = await repository(request, reply, { nonEmpty: true });
      if (!r) return reply;
      const json = await refJson(r.repo, `refs/${wildcard(request)}`);
      if (!json) return reply.status(404).send(notFound);
      return json;
    });

    app.post(`${base}/git/refs`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true, nonEmpty: true });
      if (!r) return reply;
      const body = (request.body ?? {}) as { ref?: unknown; sha?: unknown };
      if (typeof body.ref !== "string" || typeof body.sha !== "string")
        return reply
          .status(422)
          .send({ message: "Invalid request.", documentation_url: DOCS, status: "422" });
      if (!/^refs\/.+\/.+/.test(body.ref) || !isValidRefName(body.ref.slice(5)))
        return reply
          .status(422)
          .send({ message: "Reference name invalid", documentation_url: DOCS, status: "422" });
      const type = await r.repo.git.objectType(body.sha);
      if (!type)
        return reply
          .status(422)
          .send({ message: "Object does not exist", documentation_url: DOCS, status: "422" });
      try {
        await r.repo.git.updateRef(body.ref, body.sha, ZERO_SHA);
      } catch {
        return reply
          .status(422)
          .send({ message: "Reference already exists", documentation_url: DOCS, status: "422" });
      }
      ctx.refsChanged(r.repo, [{ ref: body.ref, before: ZERO_SHA, after: body.sha }], r.user ?? "");
      return reply.status(201).send(await refJson(r.repo, body.ref));
    });

    app.patch(`${base}/git/refs/*`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true, nonEmpty: true });
      if (!r) return reply;
      const ref = `refs/${wildcard(request)}`;
      const body = (request.body ?? {}) as { sha?: unknown; force?: unknown };
      if (typeof body.sha !== "string")
        return reply
          .status(422)
          .send({ message: "Invalid request.", documentation_url: DOCS, status: "422" });
      const current = await r.repo.git.resolveCommit(ref);
      if (!current)
        return reply
          .status(422)
          .send({ message: "Reference does not exist", documentation_url: DOCS, status: "422" });
      if ((await r.repo.git.objectType(body.sha)) !== "commit")
        return reply
          .status(422)
          .send({ message: "Object does not exist", documentation_url: DOCS, status: "422" });
      if (body.force !== true) {
        try {
          await r.repo.git.run(["merge-base", "--is-ancestor", current, body.sha]);
        } catch {
          return reply
            .status(422)
            .send({ message: "Update is not a fast forward", documentation_url: DOCS, status: "422" });
        }
      }
      await r.repo.git.updateRef(ref, body.sha, current);
      ctx.refsChanged(r.repo, [{ ref, before: current, after: body.sha }], r.user ?? "");
      return refJson(r.repo, ref);
    });

    app.get(`${base}/git/tags/:sha`, async (request: Req, reply) => {
      const r = await repository(request, reply, { nonEmpty: true });
      if (!r) return reply;
      const sha = request.params["sha"] ?? "";
      if ((await r.repo.git.objectType(sha)) !== "tag") return reply.status(404).send(notFound);
      const raw = (await r.repo.git.run(["cat-file", "tag", sha])).toString("utf8");
      const head = raw.slice(0, raw.indexOf("\n\n"));
      const field = (k: string) => new RegExp(`^${k} (.*)$`, "m").exec(head)?.[1] ?? "";
      return {
        node_id: `TAG_${sha.slice(0, 12)}`,
        sha,
        url: `${repoApi(r.repo)}/git/tags/${sha}`,
        tag: field("tag"),
        message: raw.slice(raw.indexOf("\n\n") + 2),
        tagger: { name: field("tagger").replace(/ <.*$/, ""), email: "", date: "" },
        object: {
          sha: field("object"),
          type: field("type"),
          url: `${repoApi(r.repo)}/git/commits/${field("object")}`,
        },
      };
    });

    function contentItem(repo: StoredRepo, path: string, sha: string, type: string, size: number | null) {
      return {
        type,
        size: size ?? 0,
        name: path.split("/").at(-1),
        path,
        sha,
        url: `${repoApi(repo)}/contents/${path}`,
        git_url: `${repoApi(repo)}/git/${type === "dir" ? "trees" : "blobs"}/${sha}`,
        html_url: `${ctx.origin()}/${repo.path}/blob/HEAD/${path}`,
        download_url: type === "file" ? `${ctx.origin()}/${repo.path}/raw/HEAD/${path}` : null,
      };
    }

    app.get(`${base}/contents/*`, async (request: Req, reply) => {
      const r = await repository(request, reply);
      if (!r) return reply;
      if (await r.repo.git.isEmpty())
        return reply
          .status(404)
          .send({ message: "This repository is empty.", documentation_url: DOCS, status: "404" });
      const path = wildcard(request).replace(/^\/+|\/+$/g, "");
      const ref = q(request.query, "ref") ?? (await r.repo.git.defaultBranch()) ?? "HEAD";
      const commitId = await r.repo.git.resolveCommit(ref);
      if (!commitId)
        return reply
          .status(404)
          .send({ message: `No commit found for the ref ${ref}`, documentation_url: DOCS, status: "404" });
      const file = path ? await r.repo.git.readFile(commitId, path) : null;
      if (file) {
        const b64 = file.content.toString("base64").replace(/(.{60})/g, "$1\n");
        return {
          ...contentItem(r.repo, path, file.blobId, "file", file.content.length),
          content: b64.endsWith("\n") ? b64 : `${b64}\n`,
          encoding: "base64",
        };
      }
      try {
        const entries = await r.repo.git.tree(commitId, false, path);
        return entries.map((e) =>
          contentItem(
            r.repo,
            e.path,
            e.sha,
            e.type === "tree" ? "dir" : e.type === "commit" ? "submodule" : "file",
            e.size,
          ),
        );
      } catch {
        return reply.status(404).send(notFound);
      }
    });

    app.put(`${base}/contents/*`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const path = wildcard(request).replace(/^\/+|\/+$/g, "");
      const body = (request.body ?? {}) as {
        message?: unknown;
        content?: unknown;
        branch?: unknown;
        sha?: unknown;
      };
      if (typeof body.message !== "string" || typeof body.content !== "string")
        return reply
          .status(422)
          .send({ message: "Invalid request.", documentation_url: DOCS, status: "422" });
      const branch =
        typeof body.branch === "string"
          ? body.branch
          : ((await r.repo.git.defaultBranch()) ?? (await r.repo.git.headBranch()));
      const current = await r.repo.git.resolveCommit(`refs/heads/${branch}`);
      if (!current && !(await r.repo.git.isEmpty()))
        return reply
          .status(404)
          .send({ message: `Branch ${branch} not found`, documentation_url: DOCS, status: "404" });
      const existing = current ? await r.repo.git.readFile(current, path) : null;
      if (existing && body.sha !== existing.blobId)
        return reply.status(422).send({
          message: 'Invalid request.\n\n"sha" wasn\'t supplied.',
          documentation_url: DOCS,
          status: "422",
        });
      const sha = await r.repo.git.commitActions(
        branch,
        body.message,
        [{ action: existing ? "update" : "create", path, content: Buffer.from(body.content, "base64") }],
        { name: r.user ?? "emulator", email: `${r.user ?? "emulator"}@users.noreply.example.com` },
        null,
      );
      ctx.refsChanged(
        r.repo,
        [{ ref: `refs/heads/${branch}`, before: current ?? ZERO_SHA, after: sha }],
        r.user ?? "",
      );
      const file = (await r.repo.git.readFile(sha, path))!;
      return reply.status(existing ? 200 : 201).send({
        content: contentItem(r.repo, path, file.blobId, "file", file.content.length),
        commit: gitCommitJson(r.repo, await r.repo.git.commit(sha)),
      });
    });

    app.get(`${base}/git/trees/:sha`, async (request: Req, reply) => {
      const r = await repository(request, reply, { nonEmpty: true });
      if (!r) return reply;
      const treeish = request.params["sha"] ?? "";
      const recursive = !!q(request.query, "recursive");
      let treeSha: string;
      let entries;
      try {
        treeSha = (await r.repo.git.run(["rev-parse", "--verify", `${treeish}^{tree}`]))
          .toString("utf8")
          .trim();
        entries = await r.repo.git.tree(treeSha, recursive);
      } catch {
        return reply.status(404).send(notFound);
      }
      return {
        sha: treeSha,
        url: `${repoApi(r.repo)}/git/trees/${treeSha}`,
        tree: entries.map((e) => ({
          path: e.path,
          mode: e.mode,
          type: e.type,
          sha: e.sha,
          ...(e.type === "blob" ? { size: e.size ?? 0 } : {}),
          url: `${repoApi(r.repo)}/git/${e.type === "tree" ? "trees" : "blobs"}/${e.sha}`,
        })),
        truncated: false,
      };
    });

    app.post(`${base}/git/blobs`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true, nonEmpty: true });
      if (!r) return reply;
      const body = (request.body ?? {}) as { content?: unknown; encoding?: unknown };
      if (typeof body.content !== "string")
        return reply
          .status(422)
          .send({ message: "Invalid request.", documentation_url: DOCS, status: "422" });
      const content =
        body.encoding === "base64" ? Buffer.from(body.content, "base64") : Buffer.from(body.content);
      const sha = await r.repo.git.writeBlob(content);
      return reply.status(201).send({ sha, url: `${repoApi(r.repo)}/git/blobs/${sha}` });
    });

    app.post(`${base}/git/trees`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true, nonEmpty: true });
      if (!r) return reply;
      const body = (request.body ?? {}) as {
        base_tree?: unknown;
        tree?: { path?: unknown; mode?: unknown; type?: unknown; sha?: unknown; content?: unknown }[];
      };
      if (!Array.isArray(body.tree))
        return reply
          .status(422)
          .send({ message: "Invalid tree info", documentation_url: DOCS, status: "422" });
      const entries: { path: string; sha: string | null; mode?: string }[] = [];
      for (const e of body.tree) {
        if (typeof e.path !== "string")
          return reply
            .status(422)
            .send({ message: "Invalid tree info", documentation_url: DOCS, status: "422" });
        let sha: string | null;
        if (typeof e.content === "string") sha = await r.repo.git.writeBlob(Buffer.from(e.content));
        else if (e.sha === null) sha = null;
        else if (typeof e.sha === "string") sha = e.sha;
        else
          return reply
            .status(422)
            .send({ message: "Invalid tree info", documentation_url: DOCS, status: "422" });
        entries.push({ path: e.path, sha, mode: typeof e.mode === "string" ? e.mode : "100644" });
      }
      let sha: string;
      try {
        sha = await r.repo.git.buildTree(typeof body.base_tree === "string" ? body.base_tree : null, entries);
      } catch (err) {
        if (err instanceof GitCommandError)
          return reply
            .status(422)
            .send({ message: "Invalid tree info", documentation_url: DOCS, status: "422" });
        throw err;
      }
      const tree = await r.repo.git.tree(sha, false);
      return reply.status(201).send({
        sha,
        url: `${repoApi(r.repo)}/git/trees/${sha}`,
        tree: tree.map((e) => ({ path: e.path, mode: e.mode, type: e.type, sha: e.sha })),
        truncated: false,
      });
    });

    app.get(`${base}/git/commits/:sha`, async (request: Req, reply) => {
      const r = await repository(request, reply, { nonEmpty: true });
      if (!r) return reply;
      const sha = request.params["sha"] ?? "";
      if ((await r.repo.git.objectType(sha)) !== "commit") return reply.status(404).send(notFound);
      return gitCommitJson(r.repo, await r.repo.git.commit(sha));
    });

    app.post(`${base}/git/commits`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true, nonEmpty: true });
      if (!r) return reply;
      const body = (request.body ?? {}) as {
        message?: unknown;
        tree?: unknown;
        parents?: unknown;
        author?: { name?: string; email?: string; date?: string };
      };
      if (typeof body.message !== "string" || typeof body.tree !== "string")
        return reply
          .status(422)
          .send({ message: "Invalid request.", documentation_url: DOCS, status: "422" });
      if ((await r.repo.git.objectType(body.tree)) !== "tree")
        return reply
          .status(422)
          .send({ message: "Tree SHA does not exist", documentation_url: DOCS, status: "422" });
      const parents = Array.isArray(body.parents)
        ? body.parents.filter((p): p is string => typeof p === "string")
        : [];
      for (const p of parents) {
        if ((await r.repo.git.objectType(p)) !== "commit")
          return reply.status(422).send({
            message: "Parent SHA does not exist or is not a commit object",
            documentation_url: DOCS,
            status: "422",
          });
      }
      const sha = await r.repo.git.commitTree(body.tree, parents, body.message, {
        name: body.author?.name ?? r.user ?? "emulator",
        email: body.author?.email ?? `${r.user ?? "emulator"}@users.noreply.example.com`,
        ...(body.author?.date ? { date: body.author.date } : {}),
      });
      return reply.status(201).send(gitCommitJson(r.repo, await r.repo.git.commit(sha)));
    });

    const hookJson = (repo: StoredRepo, h: HookConfig) => ({
      type: "Repository",
      id: h.id,
      name: "web",
      active: h.active,
      events: [...(h.pushEvents ? ["push"] : [])],
      config: {
        content_type: "json",
        insecure_ssl: "0",
        url: h.url,
        ...(h.secret ? { secret: "********" } : {}),
      },
      updated_at: h.createdAt,
      created_at: h.createdAt,
      url: `${repoApi(repo)}/hooks/${h.id}`,
      test_url: `${repoApi(repo)}/hooks/${h.id}/test`,
      ping_url: `${repoApi(repo)}/hooks/${h.id}/pings`,
      deliveries_url: `${repoApi(repo)}/hooks/${h.id}/deliveries`,
      last_response: { code: null, status: "unused", message: null },
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
      const body = (request.body ?? {}) as {
        name?: unknown;
        active?: unknown;
        events?: unknown;
        config?: { url?: unknown; secret?: unknown; content_type?: unknown };
      };
      const url = body.config?.url;
      if (typeof url !== "string" || !URL.canParse(url))
        return reply.status(422).send({
          message: "Validation Failed",
          errors: [{ resource: "Hook", code: "custom", message: "Config must have a valid URL" }],
          documentation_url: DOCS,
          status: "422",
        });
      const events = Array.isArray(body.events) ? (body.events as string[]) : ["push"];
      const hook: HookConfig = {
        id: r.repo.meta.nextHookId++,
        url,
        secret: typeof body.config?.secret === "string" ? body.config.secret : null,
        signingToken: null,
        giteeEncryptionType: 0,
        pushEvents: events.includes("push") || events.includes("*"),
        tagPushEvents: events.includes("push") || events.includes("*"),
        active: body.active !== false,
        createdAt: new Date().toISOString(),
      };
      r.repo.meta.hooks.push(hook);
      await r.repo.persist();
      // GitHub pings a new hook at once.
      const ping = JSON.stringify({
        zen: "Keep it logically awesome.",
        hook_id: hook.id,
        hook: hookJson(r.repo, hook),
        repository: await repoJson(r.repo),
        sender: { login: r.user, id: 1, type: "User" },
      });
      ctx.deliver(r.repo, hook, {
        event: "ping",
        headers: hookHeaders(hook, r.repo, "ping", ping),
        body: ping,
      });
      return reply.status(201).send(hookJson(r.repo, hook));
    });

    app.delete(`${base}/hooks/:hookId`, async (request: Req, reply) => {
      const r = await repository(request, reply, { write: true });
      if (!r) return reply;
      const id = Number(request.params["hookId"]);
      const idx = r.repo.meta.hooks.findIndex((h) => h.id === id);
      if (idx < 0) return reply.status(404).send(notFound);
      r.repo.meta.hooks.splice(idx, 1);
      await r.repo.persist();
      return reply.status(204).send();
    });
  },

  async hookRequest(repo, hook, change, pusher, ctx): Promise<HookRequest | null> {
    if (!hook.pushEvents) return null;
    const web = `${ctx.origin()}/${repo.path}`;
    const deleted = change.after === ZERO_SHA;
    const commits = [];
    if (!deleted && !change.ref.startsWith("refs/tags/")) {
      for (const id of (await repo.git.commitsBetween(change.before, change.after)).reverse()) {
        const c = await repo.git.commit(id);
        commits.push({
          id: c.id,
          tree_id: c.treeId,
          distinct: true,
          message: c.message.replace(/\n$/, ""),
          timestamp: c.committedDate,
          url: `${web}/commit/${c.id}`,
          author: { name: c.authorName, email: c.authorEmail },
          committer: { name: c.committerName, email: c.committerEmail },
          added: [],
          removed: [],
          modified: [],
        });
      }
    }
    const headCommitId = deleted ? null : await repo.git.resolveCommit(change.after);
    const payload = {
      ref: change.ref,
      before: change.before,
      after: change.after,
      repository: {
        id: repo.meta.id,
        name: repo.name,
        full_name: repo.path,
        private: repo.meta.visibility === "private",
        owner: { name: repo.owner, login: repo.owner },
        html_url: web,
        clone_url: `${web}.git`,
        default_branch: (await repo.git.defaultBranch()) ?? "main",
      },
      pusher: { name: pusher, email: `${pusher}@users.noreply.example.com` },
      sender: { login: pusher, id: 1, type: "User" },
      created: change.before === ZERO_SHA,
      deleted,
      forced: false,
      base_ref: null,
      compare: `${web}/compare/${change.before.slice(0, 12)}...${change.after.slice(0, 12)}`,
      commits,
      head_commit: commits.at(-1) ?? (headCommitId ? { id: headCommitId } : null),
    };
    const body = JSON.stringify(payload);
    return { event: "push", headers: hookHeaders(hook, repo, "push", body), body };
  },
};

function hookHeaders(
  hook: HookConfig,
  repo: StoredRepo,
  event: string,
  body: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    "user-agent": "GitHub-Hookshot/emulator",
    "x-github-event": event,
    "x-github-delivery": randomUUID(),
    "x-github-hook-id": String(hook.id),
    "x-github-hook-installation-target-id": String(repo.meta.id),
    "x-github-hook-installation-target-type": "repository",
  };
  if (hook.secret) {
    headers["x-hub-signature"] = githubSignature1(hook.secret, body);
    headers["x-hub-signature-256"] = githubSignature256(hook.secret, body);
  }
  return headers;
}

export function createGitHubEmulator(opts: EmulatorOptions): GitEmulator {
  return new GitEmulator(githubModule, opts);
}
