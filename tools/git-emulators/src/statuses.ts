import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { EmulatorContext } from "./emulator.js";
import type { StoredRepo } from "./repo-store.js";

/**
 * Commit statuses as the three providers keep them: every status ever set on a commit, newest last,
 * persisted with the repository. GitLab updates a pending or running status of the same name in
 * place (and refuses to set the state it already has); GitHub and Gitee add a status each time and
 * show the newest per context.
 */
export interface StoredStatus {
  id: number;
  sha: string;
  /** GitLab `name`, GitHub and Gitee `context`. */
  context: string;
  state: string;
  description: string | null;
  targetUrl: string | null;
  ref: string | null;
  creator: string;
  /** Every state this status had, oldest first (GitLab moves a status in place; the others add one each time). */
  states: string[];
  createdAt: string;
  updatedAt: string;
}

type Req = FastifyRequest<{ Params: Record<string, string> }>;
type Lookup = (
  request: Req,
  reply: FastifyReply,
  opts?: { write?: boolean },
) => Promise<{ repo: StoredRepo; user: string | null } | null>;
type Page = <T>(request: FastifyRequest, reply: FastifyReply, items: T[], path: string) => T[];

const text = (v: unknown): string | null =>
  typeof v === "string" ? v : typeof v === "number" ? String(v) : null;

function statusesOf(repo: StoredRepo): StoredStatus[] {
  repo.meta.statuses ??= [];
  return repo.meta.statuses;
}

async function add(repo: StoredRepo, s: Omit<StoredStatus, "id" | "states" | "createdAt" | "updatedAt">) {
  const list = statusesOf(repo);
  const now = new Date().toISOString();
  const status = { ...s, id: (list.at(-1)?.id ?? 0) + 1, states: [s.state], createdAt: now, updatedAt: now };
  list.push(status);
  await repo.persist();
  return status;
}

/** The newest status of each context on a commit, in the order the contexts first appeared. */
function latestPerContext(list: StoredStatus[]): StoredStatus[] {
  const latest = new Map<string, StoredStatus>();
  for (const s of list) latest.set(s.context, s);
  return [...latest.values()];
}

/** Every status of every repository, newest last (the emulators' `/_emulator/statuses` listing). */
export function allStatuses(repos: StoredRepo[]): (StoredStatus & { repo: string })[] {
  return repos
    .flatMap((r) => statusesOf(r).map((s) => ({ repo: r.path, ...s })))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

// GitLab ------------------------------------------------------------------------------------------

const GITLAB_STATES = ["pending", "running", "success", "failed", "canceled"];
/** GitLab's state machine events, named in its error messages. */
const GITLAB_EVENT: Record<string, string> = {
  pending: "enqueue",
  running: "run",
  success: "success",
  failed: "drop",
  canceled: "cancel",
};
const GITLAB_FROM: Record<string, string[]> = {
  pending: ["running", "success", "failed", "canceled"],
  running: ["success", "failed", "canceled"],
};

/** `POST /projects/:id/statuses/:sha` and `GET /projects/:id/repository/commits/:sha/statuses`. */
export function registerGitLabStatuses(
  app: FastifyInstance,
  api: string,
  ctx: EmulatorContext,
  project: Lookup,
  sendPage: Page,
  param: (request: FastifyRequest, name: string) => unknown,
): void {
  const json = (repo: StoredRepo, s: StoredStatus) => ({
    id: s.id,
    sha: s.sha,
    ref: s.ref,
    status: s.state,
    name: s.context,
    target_url: s.targetUrl,
    description: s.description,
    created_at: s.createdAt,
    started_at: s.state === "pending" ? null : s.updatedAt,
    finished_at: ["success", "failed", "canceled"].includes(s.state) ? s.updatedAt : null,
    allow_failure: false,
    coverage: null,
    pipeline_id: null,
    author: {
      id: 1,
      username: s.creator,
      name: s.creator,
      state: "active",
      avatar_url: null,
      web_url: `${ctx.origin()}/${s.creator}`,
    },
    project_id: repo.meta.id,
  });

  app.post(`${api}/projects/:id/statuses/:sha`, async (request: Req, reply) => {
    const p = await project(request, reply, { write: true });
    if (!p) return reply;
    const state = text(param(request, "state"));
    if (!state) return reply.status(400).send({ error: "state is missing" });
    if (!GITLAB_STATES.includes(state))
      return reply.status(400).send({ error: "state does not have a valid value" });
    const sha = request.params["sha"] ?? "";
    const commit = /^[0-9a-f]{7,64}$/.test(sha) ? await p.repo.git.resolveCommit(sha) : null;
    if (!commit) return reply.status(404).send({ message: "404 Commit Not Found" });
    const context = text(param(request, "name")) ?? text(param(request, "context")) ?? "default";
    const ref = text(param(request, "ref"));
    const current = statusesOf(p.repo)
      .filter((s) => s.sha === commit && s.context === context && (ref === null || s.ref === ref))
      .at(-1);
    const description = text(param(request, "description"));
    const targetUrl = text(param(request, "target_url"));
    if (current && (current.state === "pending" || current.state === "running")) {
      if (!GITLAB_FROM[current.state]!.includes(state)) {
        const event = GITLAB_EVENT[state]!;
        return reply.status(400).send({
          message: `Cannot transition status via :${event} from :${current.state} (Reason(s): Status cannot transition via "${event}")`,
        });
      }
      // A status still pending or running is the one that moves.
      current.state = state;
      current.states.push(state);
      current.updatedAt = new Date().toISOString();
      if (description !== null) current.description = description;
      if (targetUrl !== null) current.targetUrl = targetUrl;
      await p.repo.persist();
      return reply.status(201).send(json(p.repo, current));
    }
    const created = await add(p.repo, {
      sha: commit,
      context,
      state,
      description,
      targetUrl,
      ref: ref ?? (await p.repo.git.defaultBranch()),
      creator: p.user ?? "anonymous",
    });
    return reply.status(201).send(json(p.repo, created));
  });

  app.get(`${api}/projects/:id/repository/commits/:sha/statuses`, async (request: Req, reply) => {
    const p = await project(request, reply);
    if (!p) return reply;
    const commit = await p.repo.git.resolveCommit(request.params["sha"] ?? "");
    if (!commit) return reply.status(404).send({ message: "404 Commit Not Found" });
    const name = text(param(request, "name"));
    const ref = text(param(request, "ref"));
    const all = ["true", "1"].includes(String(param(request, "all")));
    let list = statusesOf(p.repo).filter(
      (s) => s.sha === commit && (name === null || s.context === name) && (ref === null || s.ref === ref),
    );
    if (!all) list = latestPerContext(list);
    return sendPage(
      request,
      reply,
      list.map((s) => json(p.repo, s)),
      request.url.split("?")[0]!,
    );
  });
}

// GitHub and Gitee --------------------------------------------------------------------------------

const HUB_STATES = ["pending", "success", "failure", "error"];

/** Combined state: failure when any context failed or erred, pending while any is pending or none is set. */
function combinedState(latest: StoredStatus[]): string {
  if (latest.some((s) => s.state === "failure" || s.state === "error")) return "failure";
  if (latest.length === 0 || latest.some((s) => s.state === "pending")) return "pending";
  return "success";
}

/**
 * GitHub's statuses API (Gitee follows it under `/api/v5`): `POST /repos/{o}/{r}/statuses/{sha}`,
 * `GET /repos/{o}/{r}/commits/{ref}/statuses` (every status, newest first) and
 * `GET /repos/{o}/{r}/commits/{ref}/status` (the combined state and the newest per context).
 */
export function registerHubStatuses(
  app: FastifyInstance,
  base: string,
  apiUrl: () => string,
  kind: "github" | "gitee",
  repository: Lookup,
  sendPage: Page,
  body: (request: FastifyRequest) => Record<string, unknown>,
): void {
  const docs = "https://docs.github.com/rest/commits/statuses";
  const fail = (reply: FastifyReply, status: number, message: string, extra: Record<string, unknown> = {}) =>
    reply
      .status(status)
      .send(
        kind === "github"
          ? { message, ...extra, documentation_url: docs, status: String(status) }
          : { message },
      );
  const json = (repo: StoredRepo, s: StoredStatus) => ({
    url: `${apiUrl()}/repos/${repo.path}/statuses/${s.sha}`,
    avatar_url: null,
    id: s.id,
    node_id: `SC_${s.id}`,
    state: s.state,
    description: s.description,
    target_url: s.targetUrl,
    context: s.context,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    creator: { login: s.creator, id: 1, type: "User" },
  });

  app.post(`${base}/statuses/:sha`, async (request: Req, reply) => {
    const r = await repository(request, reply, { write: true });
    if (!r) return reply;
    const b = body(request);
    const state = text(b["state"]);
    if (!state || !HUB_STATES.includes(state)) {
      return fail(
        reply,
        kind === "github" ? 422 : 400,
        kind === "github" ? "Validation Failed" : "state is invalid",
        {
          errors: [
            {
              resource: "Status",
              code: "custom",
              field: "state",
              message: "state is not included in the list",
            },
          ],
        },
      );
    }
    const sha = request.params["sha"] ?? "";
    const commit = /^[0-9a-f]{7,64}$/.test(sha) ? await r.repo.git.resolveCommit(sha) : null;
    if (!commit)
      return kind === "github"
        ? fail(reply, 422, `No commit found for SHA: ${sha}`)
        : fail(reply, 404, "Commit Not Found");
    const created = await add(r.repo, {
      sha: commit,
      context: text(b["context"]) ?? "default",
      state,
      description: text(b["description"]),
      targetUrl: text(b["target_url"]),
      ref: null,
      creator: r.user ?? "anonymous",
    });
    return reply.status(201).send(json(r.repo, created));
  });

  async function commitOf(request: Req, reply: FastifyReply) {
    const r = await repository(request, reply);
    if (!r) return null;
    const ref = request.params["ref"] ?? "";
    const commit = await r.repo.git.resolveCommit(ref);
    if (!commit) {
      await (kind === "github"
        ? fail(reply, 422, `No commit found for SHA: ${ref}`)
        : fail(reply, 404, "Commit Not Found"));
      return null;
    }
    return { repo: r.repo, commit, list: statusesOf(r.repo).filter((s) => s.sha === commit) };
  }

  app.get(`${base}/commits/:ref/statuses`, async (request: Req, reply) => {
    const c = await commitOf(request, reply);
    if (!c) return reply;
    const newestFirst = [...c.list].reverse().map((s) => json(c.repo, s));
    return sendPage(request, reply, newestFirst, request.url.split("?")[0]!);
  });

  app.get(`${base}/commits/:ref/status`, async (request: Req, reply) => {
    const c = await commitOf(request, reply);
    if (!c) return reply;
    const latest = latestPerContext(c.list);
    return {
      state: combinedState(latest),
      statuses: latest.map((s) => json(c.repo, s)),
      sha: c.commit,
      total_count: latest.length,
      repository: { id: c.repo.meta.id, name: c.repo.name, full_name: c.repo.path },
      commit_url: `${apiUrl()}/repos/${c.repo.path}/commits/${c.commit}`,
      url: `${apiUrl()}/repos/${c.repo.path}/commits/${c.commit}/status`,
    };
  });
}
