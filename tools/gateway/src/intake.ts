import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, type Registry } from "prom-client";
import { ErrorCodes, type ErrorName } from "@procode/contracts";
import { errorEnvelope, refuseBadTarget, type Logger } from "@procode/service-kit";

/**
 * What the gateway takes from a caller before anything reaches a service (docs/services/gateway.md,
 * "Under abuse"): the request target must be origin-form; a body is read whole, within its route's
 * limit (the owning service's) and a deadline, before one byte goes upstream, so a slow or stalled
 * upload holds nothing but its own socket. A body past the limit is still read to its end (and
 * dropped) before the 413, up to DRAIN_LIMIT_BYTES more: the connection then stays usable, and a
 * caller still sending never has its answer cut off by a reset. A request answered before its body
 * was read to the end (a body that did not arrive by the deadline, one far past the limit, any
 * answer to a request whose body nobody read) has its connection closed after the answer, since what
 * follows on it cannot be trusted to start a request. Every refusal is the envelope.
 */

/** How far past its limit a body is read (and dropped) to keep its connection usable. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

declare module "fastify" {
  interface FastifyContextConfig {
    /** The owning service (routes.ts), for metrics. */
    upstream?: string;
    /** The largest body the owning service accepts on this route. */
    bodyLimit?: number;
  }
}

export interface IntakeOptions {
  /** How long a caller has to send a whole body once its head has arrived. */
  bodyTimeoutMs: number;
  registry: Registry;
}

/** A refusal raised while reading a body; answered by the gateway's error handler. */
class IntakeError extends Error {
  constructor(
    readonly kind: ErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** Hop-by-hop headers: about one connection, never passed on (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/** Request headers the gateway does not pass on as the caller sent them. */
const NOT_PASSED_UP = new Set([...HOP_BY_HOP, "x-forwarded-for"]);

/** Answer headers about the gateway's own connection to the caller, never passed on. */
const OWN_CONNECTION = new Set(["connection", "keep-alive", "proxy-connection"]);

/**
 * `headers` without the names in `drop`, as a new object. Built by copying what stays rather than
 * deleting from a copy: an object that had properties deleted goes to V8's slow dictionary mode, and
 * this runs twice for every proxied request.
 */
function without(headers: IncomingHttpHeaders, drop: ReadonlySet<string>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in headers) if (!drop.has(name)) out[name] = headers[name];
  return out;
}

/** The headers sent upstream: the caller's, minus hop-by-hop ones, naming the caller's address. */
export function upstreamHeaders(
  headers: IncomingHttpHeaders,
  callerAddress: string | undefined,
  extra: Record<string, string>,
): IncomingHttpHeaders {
  // The gateway is where callers arrive: what a caller wrote in x-forwarded-for is not to be trusted,
  // so the services (which trust the gateway, TRUST_PROXY) see only the address the gateway saw.
  const out = without(headers, NOT_PASSED_UP);
  if (callerAddress) out["x-forwarded-for"] = callerAddress;
  return Object.assign(out, extra);
}

/** The headers of an upstream answer passed to the caller: the connection is the gateway's own. */
export function downstreamHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return without(headers, OWN_CONNECTION);
}

export function registerIntake(
  app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>,
  opts: IntakeOptions,
): void {
  const refused = new Counter({
    name: "gateway_refused_total",
    help: "Requests the gateway answered itself without passing them on, by reason",
    labelNames: ["reason"],
    registers: [opts.registry],
  });

  // The time by which a request's body must have arrived, counted from its head.
  const deadlines = new WeakMap<IncomingMessage, number>();
  app.addHook("onRequest", async (request) => {
    deadlines.set(request.raw, Date.now() + opts.bodyTimeoutMs);
  });
  app.addHook("onRequest", refuseBadTarget);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (request: FastifyRequest, payload: Readable, done) => {
    const limit = request.routeOptions.config.bodyLimit ?? 0;
    const deadline = deadlines.get(request.raw) ?? Date.now() + opts.bodyTimeoutMs;
    readBody(payload, request.headers, limit, deadline).then(
      (body) => done(null, body),
      (err: Error) => done(err as FastifyError),
    );
  });

  // Answered before the body was read to its end: the rest is still on the wire, so the connection
  // must not carry another request; Node closes it after this answer. A request read to its end
  // keeps its connection as the caller asked, also after a refused body (fastify would close it).
  app.addHook("onSend", async (request, reply) => {
    if (!request.raw.complete) void reply.header("connection", "close");
    else if (reply.getHeader("connection") === "close" && !/close/i.test(request.headers.connection ?? "")) {
      void reply.header("connection", "keep-alive");
    }
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // The caller went away before the service's answer could be passed on (its body stream is
    // then destroyed unread): nobody reads this answer, and it is neither the gateway's fault nor
    // the service's.
    if (request.raw.socket.destroyed) {
      request.log.debug({ err: err.message }, "the caller went away before the answer");
      return reply.status(499).send();
    }
    const { kind, message } = describe(err);
    refused.labels(kind).inc();
    if (ErrorCodes[kind].httpStatus >= 500) request.log.error({ err }, "gateway error");
    const { status, body } = errorEnvelope(kind, message);
    return reply.status(status).header("content-type", "application/json; charset=utf-8").send(body);
  });
}

/** What a failure while taking the request is, in the product's codes. */
function describe(err: FastifyError): { kind: ErrorName; message: string } {
  if (err instanceof IntakeError) return { kind: err.kind, message: err.message };
  const status = err.statusCode ?? 500;
  if (status === 413) return { kind: "PAYLOAD_TOO_LARGE", message: "request body larger than the limit" };
  if (status === 415) {
    return {
      kind: "UNSUPPORTED_MEDIA_TYPE",
      message: "a request with a body needs a Content-Type; send JSON",
    };
  }
  if (status >= 400 && status < 500) return { kind: "MALFORMED_REQUEST", message: `request: ${err.message}` };
  return { kind: "INTERNAL", message: "internal error" };
}

/**
 * Reads a body whole. Past `limit` it is refused (413) once read to its end, its bytes dropped; at
 * once when it is, or is declared, more than DRAIN_LIMIT_BYTES past it. One that has not all arrived
 * by `deadline` is refused (408).
 */
function readBody(
  payload: Readable,
  headers: IncomingHttpHeaders,
  limit: number,
  deadline: number,
): Promise<Buffer> {
  const timeoutMs = Math.max(0, deadline - Date.now());
  const declared = Number(headers["content-length"] ?? NaN);
  const tooLarge = () =>
    new IntakeError("PAYLOAD_TOO_LARGE", `request body larger than this route's limit of ${limit} bytes`);
  if (declared > limit + DRAIN_LIMIT_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      payload.off("data", onData);
      payload.off("end", onEnd);
      payload.off("error", onError);
      // Refused before its end: nothing more is read, and the connection closes after the answer.
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit + DRAIN_LIMIT_BYTES) return finish(tooLarge());
      // Past the limit the bytes are read on (to keep the connection) but not kept.
      if (size <= limit) chunks.push(chunk);
    };
    const onEnd = () => finish(size > limit ? tooLarge() : null);
    // The caller went away mid-body: nobody reads this answer, but it is not the gateway's fault.
    const onError = () =>
      finish(new IntakeError("MALFORMED_REQUEST", "request: the connection closed before the body arrived"));
    const timer = setTimeout(
      () =>
        finish(
          new IntakeError(
            "REQUEST_TIMEOUT",
            `request body not received in time (${size} of ${Number.isNaN(declared) ? "?" : declared} bytes)`,
          ),
        ),
      timeoutMs,
    );
    payload.on("data", onData);
    payload.on("end", onEnd);
    payload.on("error", onError);
  });
}
