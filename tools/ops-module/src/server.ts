import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from "fastify";
import { z } from "zod";
import {
  CreateBuildRequest,
  CreateDeployRequest,
  ErrorCodes,
  OPS_IDEMPOTENCY_HEADER,
  type ErrorName,
} from "@procode/contracts";
import { createLogger, type Logger } from "@procode/service-kit";
import {
  type Behaviour,
  BehaviourPatch,
  DEFAULT_BEHAVIOUR,
  mergeBehaviour,
  statusAt,
  zeroDelay,
  type WorkKind,
} from "./behaviour.js";
import { CallbackSender, type CallbackAttempt } from "./callbacks.js";

/**
 * The reference ops module: a stand-in for the real ops system, speaking.10
 * (`POST /deploy/create`, `GET /deploy/{id}/status`, signed callbacks) plus `POST /deploy/{id}/cancel`
 * and an image builder of the same shape (`POST /build/create`, `GET /build/{id}/status`). It
 * deploys nothing: each piece of work is a timer whose behaviour tests and demos set over
 * `/_control/*`. State lives in memory and is gone when the process stops.
 */

export interface OpsModuleOptions {
  /** Where callbacks go (ops-gateway's `POST /deploy/callback`); null: no callbacks. */
  callbackUrl?: string | null;
  /** Shared secret that signs callbacks; null: no callbacks. */
  callbackSecret?: string | null;
  /** Every duration and delay 0 (benchmarks). */
  zeroDelay?: boolean;
  defaults?: { deploy?: BehaviourPatch; build?: BehaviourPatch };
  log?: Logger;
  logLevel?: string;
}

interface StatusCall {
  at: string;
  ms: number;
  status: string;
}

/** One deployment or build, as the control API shows it. */
interface Work {
  kind: WorkKind;
  id: string;
  appId: number;
  createdAt: number;
  behaviour: Behaviour;
  request: CreateDeployRequest | CreateBuildRequest;
  idempotencyKey: string | null;
  createCalls: number;
  cancelledAt: number | null;
  cancelCalls: number;
  statusCalls: StatusCall[];
  inFlightStatusCalls: number;
  maxConcurrentStatusCalls: number;
  callbacks: CallbackAttempt[];
  timers: NodeJS.Timeout[];
}

interface Outage {
  mode: "5xx" | "unreachable";
  until: number;
  scope: "deploy" | "build" | "all";
}

const MAX_RECORDS = 50_000;
const MAX_STATUS_CALLS_KEPT = 2000;

const AppIdParam = z.object({ appId: z.coerce.number().int().positive() });
const IdParam = z.object({ id: z.string().min(1).max(200) });
const KindPatches = z
  .object({ deploy: BehaviourPatch.optional(), build: BehaviourPatch.optional() })
  .strict();
const NextBody = z
  .object({
    kind: z.enum(["deploy", "build"]).default("deploy"),
    count: z.number().int().min(1).max(10_000),
    behaviour: BehaviourPatch,
  })
  .strict();
const PatchDeployments = z
  .object({
    appId: z.number().int().positive().optional(),
    ids: z.array(z.string().min(1)).max(10_000).optional(),
    behaviour: BehaviourPatch,
  })
  .strict();
const OutageBody = z
  .object({
    mode: z.enum(["5xx", "unreachable"]),
    durationMs: z.number().int().min(1).max(3600_000),
    scope: z.enum(["deploy", "build", "all"]).default("all"),
  })
  .strict();
const CallbackBody = z
  .object({ url: z.url().nullable().optional(), secret: z.string().min(1).nullable().optional() })
  .strict();

class RequestError extends Error {
  constructor(
    readonly kind: ErrorName,
    message: string,
  ) {
    super(message);
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.length ? issue.path.join(".") : where;
  throw new RequestError("INVALID_PARAMETER", `${field}: ${issue?.message ?? "is invalid"}`);
}

const ok = (data: unknown) => ({ code: 0, message: "success", data });

function send(reply: FastifyReply, kind: ErrorName, message: string) {
  const e = ErrorCodes[kind];
  return reply.status(e.httpStatus).send({ code: e.code, message, data: null });
}

class OpsModuleState {
  readonly work = new Map<string, Work>();
  readonly byKey = new Map<string, string>();
  defaults: Record<WorkKind, Behaviour>;
  readonly perApp = new Map<number, { deploy?: BehaviourPatch; build?: BehaviourPatch }>();
  readonly next: Record<WorkKind, { remaining: number; behaviour: BehaviourPatch }[]> = {
    deploy: [],
    build: [],
  };
  outage: Outage | null = null;
  readonly totals = { creates: 0, statusCalls: 0, cancels: 0, refusedByOutage: 0 };

  constructor(
    private readonly initial: { deploy?: BehaviourPatch; build?: BehaviourPatch },
    readonly zeroDelayMode: boolean,
  ) {
    this.defaults = this.initialDefaults();
  }

  private initialDefaults(): Record<WorkKind, Behaviour> {
    return {
      deploy: mergeBehaviour(DEFAULT_BEHAVIOUR, this.initial.deploy),
      build: mergeBehaviour(DEFAULT_BEHAVIOUR, { callback: "off" }, this.initial.build),
    };
  }

  /** The behaviour of the next create of `kind` for `appId`: next-N, else per app, else defaults. */
  behaviourFor(kind: WorkKind, appId: number): Behaviour {
    const queue = this.next[kind];
    let override: BehaviourPatch | undefined;
    const head = queue[0];
    if (head) {
      override = head.behaviour;
      if (--head.remaining <= 0) queue.shift();
    }
    const b = mergeBehaviour(this.defaults[kind], this.perApp.get(appId)?.[kind], override);
    return this.zeroDelayMode ? zeroDelay(b) : b;
  }

  outageFor(kind: WorkKind): Outage | null {
    if (this.outage && this.outage.until <= Date.now()) this.outage = null;
    if (!this.outage) return null;
    return this.outage.scope === "all" || this.outage.scope === kind ? this.outage : null;
  }

  add(w: Work): void {
    if (this.work.size >= MAX_RECORDS) {
      // A stand-in keeps a bounded history: the oldest record goes first.
      const oldest = this.work.keys().next().value;
      if (oldest !== undefined) this.drop(oldest);
    }
    this.work.set(w.id, w);
    if (w.idempotencyKey) this.byKey.set(`${w.kind}:${w.idempotencyKey}`, w.id);
  }

  private drop(id: string): void {
    const w = this.work.get(id);
    if (!w) return;
    for (const t of w.timers) clearTimeout(t);
    if (w.idempotencyKey) this.byKey.delete(`${w.kind}:${w.idempotencyKey}`);
    this.work.delete(id);
  }

  reset(): void {
    for (const id of [...this.work.keys()]) this.drop(id);
    this.defaults = this.initialDefaults();
    this.perApp.clear();
    this.next.deploy = [];
    this.next.build = [];
    this.outage = null;
    Object.assign(this.totals, { creates: 0, statusCalls: 0, cancels: 0, refusedByOutage: 0 });
  }

  clearTimers(): void {
    for (const w of this.work.values()) for (const t of w.timers) clearTimeout(t);
  }
}

function view(w: Work, now = Date.now()) {
  const { status } = statusAt(w.behaviour, w.createdAt, now, w.cancelledAt);
  return {
    kind: w.kind,
    id: w.id,
    appId: w.appId,
    status,
    createdAt: new Date(w.createdAt).toISOString(),
    finishesAt: new Date(w.createdAt + w.behaviour.durationMs).toISOString(),
    behaviour: w.behaviour,
    request: w.request,
    idempotencyKey: w.idempotencyKey,
    createCalls: w.createCalls,
    cancelled: w.cancelledAt !== null,
    cancelCalls: w.cancelCalls,
    statusCallCount: w.statusCalls.length,
    statusCalls: w.statusCalls,
    maxConcurrentStatusCalls: w.maxConcurrentStatusCalls,
    callbacks: w.callbacks,
  };
}

function finalMessage(w: Work, status: string): string {
  if (w.behaviour.message && (status === "SUCCESS" || status === "FAILED")) return w.behaviour.message;
  switch (status) {
    case "PENDING":
      return w.kind === "deploy" ? "waiting for a node" : "waiting for a builder";
    case "SUCCESS":
      return w.kind === "deploy" ? "deployment succeeded" : "image built and pushed";
    case "FAILED":
      return w.kind === "deploy"
        ? "container exited with code 1 (readiness probe failed)"
        : "docker build failed: a RUN step exited with code 1";
    case "CANCELLED":
      return w.kind === "deploy" ? "deployment cancelled" : "build cancelled";
    default:
      return w.kind === "deploy" ? "starting containers" : "building layers";
  }
}

function digestOf(req: CreateBuildRequest): string {
  const h = createHash("sha256");
  h.update(`${req.appId}\n${req.commitId}\n${req.dockerfile}\n${req.image}`);
  return `sha256:${h.digest("hex")}`;
}

export interface OpsModule {
  app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;
  state: OpsModuleState;
  /** Where callbacks go and how they are signed (settable at run time). */
  callback: { url: string | null; secret: string | null };
  log: Logger;
  /** Listens (port 0: any free port) and returns the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

export async function createOpsModule(opts: OpsModuleOptions = {}): Promise<OpsModule> {
  const log = opts.log ?? createLogger({ name: "ops-module", level: opts.logLevel ?? "info" });
  const state = new OpsModuleState(opts.defaults ?? {}, opts.zeroDelay ?? false);
  const callbacks = new CallbackSender(
    { url: opts.callbackUrl ?? null, secret: opts.callbackSecret ?? null },
    log,
    () => state.outageFor("deploy")?.until ?? null,
  );
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (err instanceof RequestError) return send(reply, err.kind, err.message);
    const status = err.statusCode ?? 500;
    if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
      return send(reply, "INVALID_PARAMETER", "body: is not valid JSON");
    }
    if (status === 415) return send(reply, "UNSUPPORTED_MEDIA_TYPE", "unsupported content type; send JSON");
    if (status >= 400 && status < 500) return send(reply, "INVALID_PARAMETER", `request: ${err.message}`);
    log.error({ err }, "unhandled error");
    return send(reply, "INTERNAL", "internal error");
  });
  app.setNotFoundHandler((request, reply) =>
    send(reply, "ROUTE_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
  );

  // Simulated outages cover the ops API only; /_control stays reachable so tests can watch.
  app.addHook("onRequest", async (request, reply) => {
    const path = request.url;
    const kind: WorkKind | null = path.startsWith("/deploy/")
      ? "deploy"
      : path.startsWith("/build/")
        ? "build"
        : null;
    if (!kind) return;
    const outage = state.outageFor(kind);
    if (!outage) return;
    state.totals.refusedByOutage++;
    if (outage.mode === "unreachable") {
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    return send(reply, "OPS_UNAVAILABLE", "ops module unavailable (simulated outage); retry later");
  });

  const extra = (w: Work) =>
    w.behaviour.extraFields
      ? { region: "local-1", replicas: { desired: 2, ready: 1 }, observedAt: new Date().toISOString() }
      : {};

  /** (Re)schedules a deployment's callbacks from its behaviour, relative to its creation. */
  function scheduleCallbacks(w: Work): void {
    for (const t of w.timers) clearTimeout(t);
    w.timers = [];
    const b = w.behaviour;
    const fire = (status: string) =>
      callbacks.send(
        { deployId: w.id, status, message: finalMessage(w, status), timestamp: new Date().toISOString() },
        (a) => w.callbacks.push(a),
      );
    const after = (ms: number) => Math.max(0, w.createdAt + ms - Date.now());
    if (b.progressCallback && after(b.durationMs / 5) > 0) {
      w.timers.push(
        setTimeout(() => w.cancelledAt === null && fire(b.runningStatus), after(b.durationMs / 5)),
      );
    }
    if (b.callback === "off") return;
    const at = b.durationMs + (b.callback === "late" ? b.callbackDelayMs : 0);
    w.timers.push(
      setTimeout(() => {
        if (w.cancelledAt !== null) return;
        fire(b.outcome);
        if (b.callback === "twice") fire(b.outcome);
      }, after(at)),
    );
  }

  function create(kind: WorkKind, request: CreateDeployRequest | CreateBuildRequest, key: string | null) {
    state.totals.creates++;
    if (key) {
      const existing = state.work.get(state.byKey.get(`${kind}:${key}`) ?? "");
      if (existing) {
        existing.createCalls++;
        return existing;
      }
    }
    const behaviour = state.behaviourFor(kind, request.appId);
    if (behaviour.rejectCreate) throw new RequestError("INVALID_PARAMETER", behaviour.rejectCreate);
    const w: Work = {
      kind,
      id: `${kind}-${randomBytes(8).toString("hex")}`,
      appId: request.appId,
      createdAt: Date.now(),
      behaviour,
      request,
      idempotencyKey: key,
      createCalls: 1,
      cancelledAt: null,
      cancelCalls: 0,
      statusCalls: [],
      inFlightStatusCalls: 0,
      maxConcurrentStatusCalls: 0,
      callbacks: [],
      timers: [],
    };
    state.add(w);
    if (kind === "deploy") scheduleCallbacks(w);
    log.info({ id: w.id, appId: w.appId, behaviour }, `${kind} created`);
    return w;
  }

  function find(kind: WorkKind, id: string): Work {
    const w = state.work.get(id);
    if (!w || w.kind !== kind) {
      throw new RequestError(
        "DEPLOYMENT_NOT_FOUND",
        `${kind === "deploy" ? "deployment" : "build"} ${id} not found`,
      );
    }
    return w;
  }

  async function status(w: Work) {
    state.totals.statusCalls++;
    const started = Date.now();
    w.inFlightStatusCalls++;
    w.maxConcurrentStatusCalls = Math.max(w.maxConcurrentStatusCalls, w.inFlightStatusCalls);
    try {
      if (w.behaviour.statusDelayMs > 0) await new Promise((r) => setTimeout(r, w.behaviour.statusDelayMs));
    } finally {
      w.inFlightStatusCalls--;
    }
    const { status } = statusAt(w.behaviour, w.createdAt, Date.now(), w.cancelledAt);
    if (w.statusCalls.length < MAX_STATUS_CALLS_KEPT) {
      w.statusCalls.push({ at: new Date(started).toISOString(), ms: Date.now() - started, status });
    }
    return status;
  }

  const keyOf = (headers: Record<string, unknown>) => {
    const k = headers[OPS_IDEMPOTENCY_HEADER];
    return typeof k === "string" && k.length > 0 && k.length <= 200 ? k : null;
  };

  // ---.10 ----------------------------------------------------------------------------------

  app.post("/deploy/create", async (request) => {
    const body = parse(CreateDeployRequest, request.body, "body");
    const w = create("deploy", body, keyOf(request.headers));
    return ok({ deployId: w.id, status: "PENDING", ...extra(w) });
  });

  app.get("/deploy/:id/status", async (request) => {
    const { id } = parse(IdParam, request.params, "id");
    const w = find("deploy", id);
    const s = await status(w);
    return {
      ...ok({
        deployId: w.id,
        status: s,
        ...(w.behaviour.omitMessage ? {} : { message: finalMessage(w, s) }),
        ...extra(w),
      }),
      ...(w.behaviour.extraFields ? { requestId: randomBytes(6).toString("hex") } : {}),
    };
  });

  app.post("/deploy/:id/cancel", async (request, reply) => {
    const { id } = parse(IdParam, request.params, "id");
    const w = find("deploy", id);
    w.cancelCalls++;
    state.totals.cancels++;
    if (!w.behaviour.cancelSupported) {
      // As a server without this route would: the caller just stops following the deployment.
      return reply
        .status(405)
        .send({ code: ErrorCodes.ROUTE_NOT_FOUND.code, message: "cancel is not supported here", data: null });
    }
    const { terminal, status: s } = statusAt(w.behaviour, w.createdAt, Date.now(), w.cancelledAt);
    if (!terminal) {
      w.cancelledAt = Date.now();
      for (const t of w.timers) clearTimeout(t);
      log.info({ id }, "deployment cancelled");
      return ok({ deployId: w.id, status: "CANCELLED" });
    }
    return ok({ deployId: w.id, status: s });
  });

  // --- image builder (same shape) -------------------------------------------------------------------

  app.post("/build/create", async (request) => {
    const body = parse(CreateBuildRequest, request.body, "body");
    const w = create("build", body, keyOf(request.headers));
    return ok({ buildId: w.id, status: "PENDING" });
  });

  app.get("/build/:id/status", async (request) => {
    const { id } = parse(IdParam, request.params, "id");
    const w = find("build", id);
    const s = await status(w);
    const req = w.request as CreateBuildRequest;
    return ok({
      buildId: w.id,
      status: s,
      ...(w.behaviour.omitMessage ? {} : { message: finalMessage(w, s) }),
      ...(s === "SUCCESS" ? { image: req.image, digest: digestOf(req) } : {}),
      ...extra(w),
    });
  });

  app.get("/healthz", async () => ok({ status: "ok", standIn: true }));

  // --- control API (tests and demos) ----------------------------------------------------------------

  app.get("/_control/defaults", async () => ok(state.defaults));
  app.put("/_control/defaults", async (request) => {
    const body = parse(KindPatches, request.body, "body");
    state.defaults = {
      deploy: mergeBehaviour(state.defaults.deploy, body.deploy),
      build: mergeBehaviour(state.defaults.build, body.build),
    };
    return ok(state.defaults);
  });

  app.put("/_control/apps/:appId", async (request) => {
    const { appId } = parse(AppIdParam, request.params, "appId");
    const body = parse(KindPatches, request.body, "body");
    state.perApp.set(appId, body);
    return ok({ appId, ...body });
  });
  app.delete("/_control/apps/:appId", async (request) => {
    const { appId } = parse(AppIdParam, request.params, "appId");
    state.perApp.delete(appId);
    return ok({ appId });
  });

  app.post("/_control/next", async (request) => {
    const body = parse(NextBody, request.body, "body");
    state.next[body.kind].push({ remaining: body.count, behaviour: body.behaviour });
    return ok({ kind: body.kind, queued: state.next[body.kind].reduce((n, e) => n + e.remaining, 0) });
  });

  app.post("/_control/outage", async (request) => {
    const body = parse(OutageBody, request.body, "body");
    state.outage = { mode: body.mode, until: Date.now() + body.durationMs, scope: body.scope };
    log.info({ outage: body }, "simulated outage started");
    return ok({ ...body, until: new Date(state.outage.until).toISOString() });
  });
  app.delete("/_control/outage", async () => {
    state.outage = null;
    log.info("simulated outage ended");
    return ok({ outage: null });
  });

  app.get("/_control/callback", async () =>
    ok({ url: callbacks.target.url, hasSecret: callbacks.target.secret !== null }),
  );
  app.put("/_control/callback", async (request) => {
    const body = parse(CallbackBody, request.body, "body");
    if (body.url !== undefined) callbacks.target.url = body.url;
    if (body.secret !== undefined) callbacks.target.secret = body.secret;
    return ok({ url: callbacks.target.url, hasSecret: callbacks.target.secret !== null });
  });

  const list = (kind: WorkKind, query: unknown) => {
    const q = parse(z.object({ appId: z.coerce.number().int().positive().optional() }), query, "query");
    const items = [...state.work.values()]
      .filter((w) => w.kind === kind && (q.appId === undefined || w.appId === q.appId))
      .map((w) => view(w));
    return ok({ items, total: items.length });
  };
  app.get("/_control/deployments", async (request) => list("deploy", request.query));
  // Every build, with its idempotency key (benches check one build per PACKAGE attempt).
  app.get("/_control/builds", async (request) => list("build", request.query));
  // Changes the behaviour of deployments already running (e.g. `{durationMs: 0}`: finish now).
  app.patch("/_control/deployments", async (request) => {
    const body = parse(PatchDeployments, request.body, "body");
    const now = Date.now();
    let changed = 0;
    for (const w of state.work.values()) {
      if (w.kind !== "deploy") continue;
      if (body.appId !== undefined && w.appId !== body.appId) continue;
      if (body.ids && !body.ids.includes(w.id)) continue;
      if (statusAt(w.behaviour, w.createdAt, now, w.cancelledAt).terminal) continue;
      const b = mergeBehaviour(w.behaviour, body.behaviour);
      w.behaviour = state.zeroDelayMode ? zeroDelay(b) : b;
      scheduleCallbacks(w);
      changed++;
    }
    log.info({ changed, behaviour: body.behaviour }, "running deployments changed");
    return ok({ changed });
  });
  app.get("/_control/deployments/:id", async (request) => {
    const { id } = parse(IdParam, request.params, "id");
    return ok(view(find("deploy", id)));
  });
  app.get("/_control/builds/:id", async (request) => {
    const { id } = parse(IdParam, request.params, "id");
    return ok(view(find("build", id)));
  });

  app.get("/_control/stats", async () =>
    ok({
      ...state.totals,
      deployments: [...state.work.values()].filter((w) => w.kind === "deploy").length,
      builds: [...state.work.values()].filter((w) => w.kind === "build").length,
      outage: state.outage,
      zeroDelay: state.zeroDelayMode,
    }),
  );
  app.post("/_control/reset", async () => {
    state.reset();
    return ok({ reset: true });
  });

  await app.ready();

  return {
    app,
    state,
    callback: callbacks.target,
    log,
    async listen(port = 0, host = "127.0.0.1") {
      const url = await app.listen({ port, host });
      return url.replace("[::1]", "127.0.0.1");
    },
    async close() {
      state.clearTimers();
      await callbacks.close();
      await app.close();
    },
  };
}
