import { DeliverPolicy, type ConsumerMessages } from "@nats-io/jetstream";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest, RawServerDefault } from "fastify";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  ErrorCodes,
  LIVE_EVENTS,
  liveTeamFilter,
  streamName,
  type Actor,
  type ErrorName,
  type LiveEventName,
} from "@procode/contracts";
import {
  AuthError,
  errorMessage,
  findHostileInput,
  type Logger,
  type NatsHandle,
  type TokenVerifier,
} from "@procode/service-kit";

export interface EventStreamOptions {
  nats: NatsHandle;
  verifyToken: TokenVerifier;
  log: Logger;
  registry: Registry;
  /** A comment line this often keeps proxies and the client from taking the stream for dead (15 s). */
  heartbeatMs: number;
}

/** What one client asked for: its team, filters, and where to start in the stream. */
export interface EventQuery {
  types: LiveEventName[] | null;
  appId: number | null;
  pipelineId: number | null;
  /** The id (stream sequence) of the last event the client has; it resumes after it. */
  lastEventId: number | null;
}

class QueryError extends Error {
  override name = "QueryError";
}

const NAMES = Object.keys(LIVE_EVENTS) as LiveEventName[];
/** An event's type token in its subject (`live.webhook_delivery.v1` -> `webhook_delivery`), by its name. */
const tokenOfName = (name: LiveEventName): string => LIVE_EVENTS[name].type.split(".")[1]!;
const NAME_OF_TYPE = new Map<string, LiveEventName>(NAMES.map((n) => [LIVE_EVENTS[n].type, n]));

function positiveId(field: string, raw: string | undefined, min = 1): number | null {
  if (raw === undefined || raw === "") return null;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < min) {
    throw new QueryError(`${field}: must be an integer >= ${min}`);
  }
  return Number(raw);
}

/**
 * The filters of `GET /events` from its query and the `Last-Event-ID` header (which wins over the
 * `lastEventId` query parameter: EventSource sends the header when it reconnects by itself).
 */
export function parseEventQuery(
  query: Record<string, string | string[] | undefined>,
  lastEventIdHeader: string | undefined,
): EventQuery {
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (Array.isArray(v)) throw new QueryError(`${name}: give it once`);
    // Text the services would refuse (NUL, unpaired surrogates) is refused here the same way.
    const hostile = v === undefined ? null : findHostileInput(v, name);
    if (hostile) throw new QueryError(`${hostile.field}: ${hostile.rule}`);
    return v;
  };
  const rawTypes = one("types");
  let types: LiveEventName[] | null = null;
  if (rawTypes !== undefined && rawTypes !== "") {
    const asked = rawTypes.split(",").map((t) => t.trim());
    const unknown = asked.filter((t) => !(NAMES as string[]).includes(t));
    if (unknown.length) {
      throw new QueryError(`types: unknown event type ${unknown.join(", ")} (known: ${NAMES.join(", ")})`);
    }
    types = [...new Set(asked as LiveEventName[])];
  }
  return {
    types,
    appId: positiveId("appId", one("appId")),
    pipelineId: positiveId("pipelineId", one("pipelineId")),
    lastEventId: positiveId("Last-Event-ID", lastEventIdHeader ?? one("lastEventId"), 0),
  };
}

/** Where a client starts: after its last event, or (none given, or too old) at what comes next. */
export function startOf(
  lastEventId: number | null,
  stream: { firstSeq: number; lastSeq: number },
): { startSeq: number; reset: string | null } {
  const next = stream.lastSeq + 1;
  if (lastEventId === null) return { startSeq: next, reset: null };
  if (lastEventId > stream.lastSeq) {
    return { startSeq: next, reset: "the event stream was started anew; reload" };
  }
  if (lastEventId + 1 < stream.firstSeq) {
    return { startSeq: next, reset: "events after the last one received are no longer kept; reload" };
  }
  return { startSeq: lastEventId + 1, reset: null };
}

/**
 * The event's name (`live.pipeline.v1` -> `pipeline`, `live.webhook_delivery.v1` -> `webhook`) when
 * the client's filters let it through. Events that name no pipeline never pass a pipelineId filter.
 */
export function admit(query: EventQuery, type: string, data: Record<string, unknown>): LiveEventName | null {
  const name = NAME_OF_TYPE.get(type);
  if (!name) return null;
  if (query.types && !query.types.includes(name)) return null;
  if (query.appId !== null && data["appId"] !== query.appId) return null;
  if (query.pipelineId !== null) {
    // An iteration event is about a pipeline when that is its release's pipeline.
    const about = name === "iteration" ? data["phasePipelineId"] : data["pipelineId"];
    if (about !== query.pipelineId) return null;
  }
  return name;
}

function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header === "string" && header.startsWith("Bearer ")) return header.slice(7).trim();
  // EventSource cannot send a header: on this route only, the token may come as `access_token`.
  const q = (request.query as Record<string, unknown>)["access_token"];
  return typeof q === "string" && q !== "" ? q : null;
}

/**
 * `GET /events` (docs/api.md, "Live events"): the caller's team's live events as Server-Sent Events,
 * read from the LIVE stream with an ordered consumer filtered on the team's subjects, so another
 * team's events never reach this process's client. Each event's `id` is its stream sequence.
 */
export function registerEventStream(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>,
  opts: EventStreamOptions,
): void {
  const clients = new Gauge({
    name: "gateway_event_clients",
    help: "Clients connected to GET /events",
    registers: [opts.registry],
  });
  const sent = new Counter({
    name: "gateway_events_sent_total",
    help: "Events written to GET /events clients, by event name",
    labelNames: ["event"],
    registers: [opts.registry],
  });
  const stream = streamName(opts.nats.env, "LIVE");
  // Open streams never end by themselves: closing the gateway ends them, or it would wait forever.
  const open = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const close of [...open]) close();
  });
  const refuse = (reply: FastifyReply, kind: ErrorName, message: string) => {
    const e = ErrorCodes[kind];
    return reply.status(e.httpStatus).send({ code: e.code, message, data: null });
  };

  app.get("/events", async (request, reply) => {
    const token = tokenOf(request);
    if (!token) return refuse(reply, "UNAUTHENTICATED", "missing bearer token (or access_token)");
    let actor: Actor;
    try {
      actor = await opts.verifyToken(token);
    } catch (err) {
      if (err instanceof AuthError) return refuse(reply, "UNAUTHENTICATED", err.message);
      throw err;
    }
    let query: EventQuery;
    try {
      const header = request.headers["last-event-id"];
      query = parseEventQuery(
        request.query as Record<string, string>,
        typeof header === "string" ? header : undefined,
      );
    } catch (err) {
      if (err instanceof QueryError) return refuse(reply, "INVALID_PARAMETER", err.message);
      throw err;
    }

    let messages: ConsumerMessages;
    let reset: string | null;
    try {
      const info = await opts.nats.jsm.streams.info(stream);
      const start = startOf(query.lastEventId, {
        firstSeq: info.state.first_seq,
        lastSeq: info.state.last_seq,
      });
      reset = start.reset;
      // One event name is filtered by the server; several are filtered here.
      const only = query.types?.length === 1 ? tokenOfName(query.types[0]!) : undefined;
      const consumer = await opts.nats.js.consumers.get(stream, {
        filter_subjects: liveTeamFilter(opts.nats.env, actor.team, only),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start.startSeq,
      });
      messages = await consumer.consume();
    } catch (err) {
      request.log.warn({ err: errorMessage(err) }, "event stream unavailable");
      return refuse(reply, "DEPENDENCY_UNAVAILABLE", "the event stream is unavailable; retry later");
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // nginx (and Ingresses built on it) would otherwise buffer the stream.
      "x-accel-buffering": "no",
    });
    res.write(`retry: 2000\n\n`);
    if (reset) res.write(`event: reset\ndata: ${JSON.stringify({ reason: reset })}\n\n`);
    clients.inc();
    const heartbeat = setInterval(() => res.write(`: heartbeat\n\n`), opts.heartbeatMs);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(close);
      clearInterval(heartbeat);
      clients.dec();
      void messages.close().catch(() => {});
      res.end();
    };
    open.add(close);
    request.raw.on("close", close);
    res.on("error", close);
    void (async () => {
      for await (const m of messages) {
        let event: { type?: unknown; data?: Record<string, unknown> };
        try {
          event = m.json();
        } catch {
          continue;
        }
        if (typeof event.type !== "string" || !event.data) continue;
        const name = admit(query, event.type, event.data);
        if (!name) continue;
        res.write(`id: ${m.seq}\nevent: ${name}\ndata: ${m.string()}\n\n`);
        sent.labels(name).inc();
      }
    })()
      .catch((err: unknown) => request.log.warn({ err: errorMessage(err) }, "event stream ended"))
      .finally(close);
  });
}
