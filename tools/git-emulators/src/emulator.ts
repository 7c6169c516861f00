import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Readable } from "node:stream";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Faults } from "./faults.js";
import { ZERO_SHA } from "./git.js";
import { RepoStore, type CreateRepoOptions, type HookConfig, type StoredRepo } from "./repo-store.js";
import { parseGitPath, serveSmartHttp } from "./smart-http.js";
import { allStatuses, type StoredStatus } from "./statuses.js";

export type ProviderKind = "gitlab" | "github" | "gitee";

export interface EmulatorOptions {
  /** Directory for the bare repositories (created when missing; reused across restarts). */
  dataDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Valid API tokens and the user each belongs to. */
  tokens?: Record<string, string>;
}

/** One request the emulator answered (control endpoints excluded). */
export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  at: string;
}

/** One webhook the emulator sent. */
export interface DeliveryRecord {
  id: string;
  hookId: number;
  repo: string;
  url: string;
  event: string;
  headers: Record<string, string>;
  body: string;
  status: number | null;
  error: string | null;
  at: string;
}

export interface RefChange {
  ref: string;
  before: string;
  after: string;
}

/** A webhook request as a provider would send it. */
export interface HookRequest {
  event: string;
  headers: Record<string, string>;
  body: string;
}

/** What a provider module gets to register its REST API. */
export interface EmulatorContext {
  kind: ProviderKind;
  store: RepoStore;
  /** The user a token belongs to, or null. */
  tokenUser(token: string | undefined | null): string | null;
  /** `http://host:port` as callers reach it. */
  origin(): string;
  /** Ref changes made through the API or a push: sends the repository's webhooks. */
  refsChanged(repo: StoredRepo, changes: RefChange[], pusher: string): void;
  /** Sends one hook request now (used for GitHub's ping). */
  deliver(repo: StoredRepo, hook: HookConfig, request: HookRequest): void;
}

export interface ProviderModule {
  kind: ProviderKind;
  /** The body of a 404 for paths the provider does not know. */
  notFoundBody: unknown;
  /** How the provider names a missing or bad login in a 401 for git over HTTP. */
  realm: string;
  register(app: FastifyInstance, ctx: EmulatorContext): void;
  /** The webhook request for one ref change, or null when the hook does not want this event. */
  hookRequest(
    repo: StoredRepo,
    hook: HookConfig,
    change: RefChange,
    pusher: string,
    ctx: EmulatorContext,
  ): Promise<HookRequest | null>;
}

/**
 * A git hosting emulator: a real HTTP server speaking one provider's REST API (paths, query vs body,
 * headers, status codes, pagination), git's smart-HTTP protocol over real bare repositories, real
 * webhooks on every ref change, and fault injection for tests.
 */
export class GitEmulator {
  readonly store: RepoStore;
  readonly faults = new Faults();
  readonly requests: RequestRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  private readonly tokens = new Map<string, string>();
  private readonly sockets = new Set<Socket>();
  private spared: Socket | undefined;
  private server: http.Server | undefined;
  private app: FastifyInstance | undefined;
  private port: number;
  private readonly host: string;
  private readonly pendingDeliveries = new Set<Promise<void>>();

  constructor(
    private readonly provider: ProviderModule,
    opts: EmulatorOptions,
  ) {
    this.store = new RepoStore(opts.dataDir);
    this.port = opts.port ?? 0;
    this.host = opts.host ?? "127.0.0.1";
    for (const [token, user] of Object.entries(opts.tokens ?? {})) this.tokens.set(token, user);
    this.faults.onDown = () => this.cutConnections();
  }

  get kind(): ProviderKind {
    return this.provider.kind;
  }

  /** `http://127.0.0.1:<port>` (valid once started). */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** The REST API base the provider's clients use. */
  get apiUrl(): string {
    const suffix = { gitlab: "/api/v4", github: "/api/v3", gitee: "/api/v5" }[this.provider.kind];
    return `${this.url}${suffix}`;
  }

  /** The repository's web/clone URL (what a user pastes as gitRepoUrl). */
  repoUrl(repoPath: string, withGitSuffix = true): string {
    return `${this.url}/${repoPath}${withGitSuffix ? ".git" : ""}`;
  }

  /** A clone URL that carries a token (for `git clone` / `git push` in tests). */
  authedRepoUrl(repoPath: string, token: string): string {
    const u = new URL(this.repoUrl(repoPath));
    u.username = this.provider.kind === "gitlab" ? "oauth2" : "x-access-token";
    u.password = token;
    return u.toString();
  }

  addToken(token: string, user: string): void {
    this.tokens.set(token, user);
  }

  createRepo(repoPath: string, opts?: CreateRepoOptions): Promise<StoredRepo> {
    return this.store.create(repoPath, opts);
  }

  repo(repoPath: string): StoredRepo | null {
    return this.store.get(repoPath);
  }

  /** The commit statuses set on a repository (on one commit when given), oldest first. */
  statuses(repoPath: string, sha?: string): StoredStatus[] {
    const list = this.store.get(repoPath)?.meta.statuses ?? [];
    return sha ? list.filter((s) => s.sha === sha) : [...list];
  }

  /** Requests for API paths matching `pattern` (for retry-count assertions). */
  requestsTo(pattern: RegExp): RequestRecord[] {
    return this.requests.filter((r) => pattern.test(r.path));
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  private context(): EmulatorContext {
    return {
      kind: this.provider.kind,
      store: this.store,
      tokenUser: (token) => (token ? (this.tokens.get(token) ?? null) : null),
      origin: () => this.url,
      refsChanged: (repo, changes, pusher) => this.refsChanged(repo, changes, pusher),
      deliver: (repo, hook, request) => this.send(repo, hook, request),
    };
  }

  private refsChanged(repo: StoredRepo, changes: RefChange[], pusher: string): void {
    const ctx = this.context();
    for (const hook of repo.meta.hooks.filter((h) => h.active)) {
      for (const change of changes) {
        const p = this.provider
          .hookRequest(repo, hook, change, pusher, ctx)
          .then((request) => {
            if (request) this.send(repo, hook, request);
          })
          .catch(() => {});
        this.track(p);
      }
    }
  }

  private track(p: Promise<void>): void {
    this.pendingDeliveries.add(p);
    void p.finally(() => this.pendingDeliveries.delete(p));
  }

  private send(repo: StoredRepo, hook: HookConfig, request: HookRequest): void {
    const record: DeliveryRecord = {
      id: randomUUID(),
      hookId: hook.id,
      repo: repo.path,
      url: hook.url,
      event: request.event,
      headers: request.headers,
      body: request.body,
      status: null,
      error: null,
      at: new Date().toISOString(),
    };
    this.deliveries.push(record);
    const p = fetch(hook.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...request.headers },
      body: request.body,
      signal: AbortSignal.timeout(10000),
    })
      .then(async (res) => {
        record.status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      })
      .catch((err: unknown) => {
        record.error = err instanceof Error ? err.message : String(err);
      });
    this.track(p);
  }

  /** Resolves when every webhook sent so far has been answered (or failed). */
  async deliveriesSettled(): Promise<void> {
    while (this.pendingDeliveries.size) await Promise.allSettled([...this.pendingDeliveries]);
  }

  private async build(): Promise<FastifyInstance> {
    const app = Fastify({
      logger: false,
      bodyLimit: 32 * 1024 * 1024,
      serverFactory: (handler) => {
        const server = http.createServer((req, res) => this.handle(req, res, handler));
        server.on("connection", (socket) => {
          this.sockets.add(socket);
          socket.on("close", () => this.sockets.delete(socket));
        });
        this.server = server;
        return server;
      },
    });
    app.addContentTypeParser(
      ["application/x-git-upload-pack-request", "application/x-git-receive-pack-request"],
      (_req, payload, done) => done(null, payload),
    );
    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string" },
      (_req, body, done) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of new URLSearchParams(body as string)) out[k] = v;
        done(null, out);
      },
    );
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
    app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      void reply.status(status).send({ message: status === 500 ? "500 Internal Server Error" : err.message });
    });

    this.registerControl(app);
    this.provider.register(app, this.context());
    app.route({
      method: ["GET", "POST"],
      url: "/*",
      handler: (request, reply) => this.smartHttp(request, reply),
    });
    await app.ready();
    return app;
  }

  /** Fault injection happens before fastify sees the request; control endpoints are exempt. */
  private handle(
    req: IncomingMessage,
    res: ServerResponse,
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path.startsWith("/_emulator/")) return handler(req, res);
    const f = this.faults.current;
    if (f.down) {
      req.socket.destroy();
      return;
    }
    res.on("finish", () =>
      this.requests.push({
        method: req.method ?? "GET",
        path,
        status: res.statusCode,
        at: new Date().toISOString(),
      }),
    );
    const go = () => {
      const failure = this.faults.takeFailure(path);
      if (failure) {
        res.statusCode = failure.status;
        res.setHeader("content-type", "application/json");
        for (const [k, v] of Object.entries(failure.headers ?? {})) res.setHeader(k, v);
        res.end(JSON.stringify({ message: `${failure.status} injected failure` }));
        req.resume();
        return;
      }
      handler(req, res);
    };
    if (f.latencyMs > 0) setTimeout(go, f.latencyMs);
    else go();
  }

  private registerControl(app: FastifyInstance): void {
    app.post("/_emulator/faults", async (request, reply) => {
      const body = (request.body ?? {}) as {
        failNext?: { count: number; status: number; pathPattern?: string; headers?: Record<string, string> };
        latencyMs?: number;
        down?: boolean;
        downForMs?: number;
      };
      if (body.failNext) {
        const { count, status, ...rest } = body.failNext;
        this.faults.failNext(count, status, rest);
      }
      if (body.latencyMs !== undefined) this.faults.setLatency(body.latencyMs);
      if (body.down === true) {
        // Every open connection is cut except this one, which closes after the answer.
        this.spared = request.raw.socket;
        this.faults.goDown(body.downForMs);
        this.spared = undefined;
        void reply.header("connection", "close");
      }
      if (body.down === false) this.faults.comeBack();
      return this.faults.current;
    });
    app.delete("/_emulator/faults", async () => {
      this.faults.reset();
      return this.faults.current;
    });
    app.get("/_emulator/requests", async () => this.requests);
    app.delete("/_emulator/requests", async () => {
      this.clearRequests();
      return [];
    });
    app.get("/_emulator/deliveries", async () => this.deliveries);
    // Every commit status set through the API, as the provider's commit page would show them.
    app.get("/_emulator/statuses", async () => allStatuses(this.store.list()));
    app.post("/_emulator/repos", async (request, reply) => {
      const body = (request.body ?? {}) as { path?: string } & CreateRepoOptions;
      if (!body.path) return reply.status(400).send({ message: "path is required" });
      try {
        const repo = await this.createRepo(body.path, body);
        return reply.status(201).send({ id: repo.meta.id, path: repo.path, url: this.repoUrl(repo.path) });
      } catch (err) {
        return reply.status(409).send({ message: (err as Error).message });
      }
    });
    app.post("/_emulator/tokens", async (request, reply) => {
      const body = (request.body ?? {}) as { token?: string; user?: string };
      if (!body.token || !body.user)
        return reply.status(400).send({ message: "token and user are required" });
      this.addToken(body.token, body.user);
      return reply.status(201).send({ user: body.user });
    });
  }

  /** Git over HTTP: discovery, fetch and push through git http-backend. */
  private async smartHttp(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const [urlPath = "/", query = ""] = request.url.split("?");
    const parsed = parseGitPath(urlPath);
    const repo = parsed ? this.store.get(parsed.repoPath) : null;
    if (!parsed || !repo) {
      return void reply.status(404).send(this.provider.notFoundBody);
    }
    const isPush =
      parsed.rest === "/git-receive-pack" ||
      (parsed.rest === "/info/refs" && /(^|&)service=git-receive-pack(&|$)/.test(query));
    const user = this.basicAuthUser(request.headers.authorization);
    if ((repo.meta.visibility === "private" || isPush) && !user) {
      return void reply
        .status(401)
        .header("www-authenticate", `Basic realm="${this.provider.realm}"`)
        .send("HTTP Basic: Access denied\n");
    }
    const before = isPush ? await repo.git.refs() : [];
    reply.hijack();
    await serveSmartHttp({
      projectRoot: this.store.root,
      pathInfo: `/${this.store.dirOf(repo.path).slice(this.store.root.length).replace(/^\/+/, "")}${parsed.rest}`,
      query,
      method: request.method,
      headers: request.headers,
      remoteUser: user,
      body: request.method === "POST" ? (request.body as Readable) : null,
      res: reply.raw,
    });
    if (parsed.rest === "/git-receive-pack") {
      const after = await repo.git.refs();
      const changes = diffRefs(before, after);
      if (changes.length) this.refsChanged(repo, changes, user ?? "unknown");
    }
  }

  private basicAuthUser(header: string | undefined): string | null {
    const m = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
    if (!m) return null;
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const password = decoded.slice(decoded.indexOf(":") + 1);
    return this.tokens.get(password) ?? null;
  }

  private cutConnections(): void {
    for (const s of this.sockets) {
      if (s === this.spared) continue;
      s.destroy();
      this.sockets.delete(s);
    }
  }

  /** Starts listening (again, on the same port after a stop). */
  async start(): Promise<this> {
    if (!this.app) {
      await this.store.load();
      this.app = await this.build();
    }
    const server = this.server!;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and cuts every connection (clients see connection refused) until `start()`. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.cutConnections();
    await closed;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.deliveriesSettled();
    await this.app?.close();
  }
}

function diffRefs(
  before: { ref: string; sha: string }[],
  after: { ref: string; sha: string }[],
): RefChange[] {
  const old = new Map(before.map((r) => [r.ref, r.sha]));
  const now = new Map(after.map((r) => [r.ref, r.sha]));
  const changes: RefChange[] = [];
  for (const [ref, sha] of now) {
    if (old.get(ref) !== sha) changes.push({ ref, before: old.get(ref) ?? ZERO_SHA, after: sha });
  }
  for (const [ref, sha] of old) if (!now.has(ref)) changes.push({ ref, before: sha, after: ZERO_SHA });
  return changes;
}

/** Query value as a string (first of repeated values). */
export function q(query: unknown, name: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return typeof v[0] === "string" ? v[0] : undefined;
  return typeof v === "string" ? v : undefined;
}

/** Offset pagination: the page of `items` and the page numbers. */
export function paginate<T>(
  items: T[],
  query: unknown,
  defaults: { perPage: number; maxPerPage: number },
): { page: T[]; pageNo: number; perPage: number; totalPages: number } {
  const perPage = Math.min(
    defaults.maxPerPage,
    Math.max(1, Number(q(query, "per_page") ?? defaults.perPage) || defaults.perPage),
  );
  const pageNo = Math.max(1, Number(q(query, "page") ?? 1) || 1);
  const totalPages = Math.max(1, Math.ceil(items.length / perPage));
  return { page: items.slice((pageNo - 1) * perPage, pageNo * perPage), pageNo, perPage, totalPages };
}

/** An RFC 8288 Link header for offset pagination, keeping the request's other query parameters. */
export function linkHeader(
  baseUrl: string,
  query: unknown,
  pageNo: number,
  perPage: number,
  totalPages: number,
) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries((query as Record<string, unknown>) ?? {})) {
    if (k === "page" || k === "per_page" || k === "access_token" || k === "private_token") continue;
    if (typeof v === "string") params.set(k, v);
  }
  const make = (p: number) => {
    const ps = new URLSearchParams(params);
    ps.set("page", String(p));
    ps.set("per_page", String(perPage));
    return `<${baseUrl}?${ps.toString()}>`;
  };
  const links: string[] = [];
  if (pageNo > 1) links.push(`${make(pageNo - 1)}; rel="prev"`);
  if (pageNo < totalPages) links.push(`${make(pageNo + 1)}; rel="next"`);
  links.push(`${make(1)}; rel="first"`, `${make(totalPages)}; rel="last"`);
  return links.join(", ");
}
