import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import rateLimit from "@fastify/rate-limit";
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { ZodType } from "zod";
import { DEFAULT_BODY_LIMIT_BYTES, ErrorCodes, type Actor, type ErrorName } from "@procode/contracts";
import { AuthError, type TokenVerifier } from "./auth.js";
import { isDatabaseUnavailable } from "./db-errors.js";
import { DomainError, isDomainError } from "./errors.js";
import { clientErrorHandler, frameworkErrors, refuseBadTarget } from "./http-protocol.js";
import { guardInputOf } from "./input-guard.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { registerOpenApi } from "./openapi.js";
import { errorMessage, withTimeout } from "./util.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The caller, from the bearer token; absent only on public routes. */
    actor?: Actor;
  }
  interface FastifyContextConfig {
    /** Reachable without a bearer token (health, metrics, signed webhooks and callbacks). */
    public?: boolean;
  }
}

export type HttpServer = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

/** A readiness check: resolves when the dependency is usable, rejects (or times out) when not. */
type ReadinessCheck = () => Promise<void>;

export interface HttpServerOptions {
  service: string;
  version?: string;
  description?: string;
  log: Logger;
  verifyToken: TokenVerifier;
  metrics: Metrics;
  readiness: Record<string, ReadinessCheck>;
  bodyLimit?: number;
  /**
   * Which peers may say who the caller is in X-Forwarded-For (the gateway, an Ingress): fastify's
   * trustProxy (proxy-addr forms: `loopback`, addresses, CIDRs; false trusts none). The address it
   * yields is what public routes are rate-limited by.
   */
  trustProxy?: string | boolean;
}

const CORRELATION_HEADER = "x-correlation-id";
const CORRELATION_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

/** The caller of a non-public route (the auth hook guarantees it is there). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new DomainError("UNAUTHENTICATED", "missing bearer token");
  return request.actor;
}

function sendError(reply: FastifyReply, kind: ErrorName, message: string, data: unknown = null) {
  const e = ErrorCodes[kind];
  return reply.status(e.httpStatus).send({ code: e.code, message, data });
}

/** Turns zod issues into "field: rule" messages; the field is the path in the body/query/params. */
function describeValidation(
  err: FastifyError & { validation: { instancePath: string; message?: string }[] },
) {
  const where = err.validationContext ?? "body";
  const fields = err.validation.map((v) => {
    const path = v.instancePath.replace(/^\//, "").replace(/\//g, ".");
    return { field: path || where, message: v.message ?? "is invalid" };
  });
  return { message: fields.map((f) => `${f.field}: ${f.message}`).join("; "), fields };
}

/**
 * The fastify app every service starts from: zod type provider, the `{code, message, data}`
 * envelope, one error handler, bearer auth with explicitly public routes, health, readiness,
 * Prometheus metrics and OpenAPI generated from the contract schemas.
 */
export async function createHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    loggerInstance: opts.log,
    // Request logging is done in onResponse (one line per request, with the correlationId).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "correlationId" }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES,
    trustProxy: opts.trustProxy ?? false,
    // A request the router or Node cannot take is still answered with the envelope.
    frameworkErrors,
    clientErrorHandler,
    genReqId: (req) => {
      const given = req.headers[CORRELATION_HEADER];
      return typeof given === "string" && CORRELATION_PATTERN.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler<ZodType>((route) => {
    const validate = validatorCompiler(route);
    // Fastify hands a request without a body to the body schema as null: for a body that may be left
    // out (the pipeline actions), no body is what the schema's "absent" means.
    const optionalBody = route.httpPart === "body" && route.schema.safeParse(undefined).success;
    return optionalBody ? (data) => validate(data === null ? undefined : data) : validate;
  });
  app.setSerializerCompiler(serializerCompiler);
  // Every route's input is checked for what the database cannot store before its schema sees it.
  app.addHook("onRoute", guardInputOf);

  await registerOpenApi(app, {
    service: opts.service,
    ...(opts.version ? { version: opts.version } : {}),
    ...(opts.description ? { description: opts.description } : {}),
  });

  // Public routes opt in with `config.rateLimit` (publicRouteRateLimit); nothing else is limited here.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new DomainError(
        "RATE_LIMITED",
        `too many requests from this address; retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`,
      ),
  });

  app.addHook("onRequest", refuseBadTarget);
  app.addHook("onRequest", async (request, reply) => {
    reply.header(CORRELATION_HEADER, request.id);
    if (request.is404 || request.routeOptions.config.public) return;
    const header = request.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match)
      return sendError(reply, "UNAUTHENTICATED", "missing bearer token (Authorization: Bearer <jwt>)");
    try {
      request.actor = await opts.verifyToken(match[1]!);
    } catch (err) {
      const message = err instanceof AuthError ? err.message : "invalid token";
      return sendError(reply, "UNAUTHENTICATED", message);
    }
  });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "(unmatched)";
    opts.metrics.httpDuration
      .labels(request.method, route, String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
    const quiet = route === "/healthz" || route === "/readyz" || route === "/metrics";
    const level = quiet
      ? reply.statusCode >= 400
        ? "warn"
        : "trace"
      : reply.statusCode >= 500
        ? "error"
        : reply.statusCode >= 400
          ? "info"
          : "debug";
    request.log[level](
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request completed",
    );
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, "ROUTE_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const { message, fields } = describeValidation(err);
      request.log.info({ fields }, "invalid request");
      return sendError(reply, "INVALID_PARAMETER", message, { fields });
    }
    if (isDomainError(err)) {
      request.log.warn({ code: err.code, message: err.message }, "request refused");
      return reply
        .status(err.httpStatus)
        .send({ code: err.code, message: err.message, data: err.data ?? null });
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err, issues: err.cause.issues }, "response does not match its schema");
      return sendError(reply, "INTERNAL", "internal error");
    }
    const status = err.statusCode ?? 500;
    if (status === 413) return sendError(reply, "PAYLOAD_TOO_LARGE", `request body larger than the limit`);
    if (status === 415)
      return sendError(reply, "UNSUPPORTED_MEDIA_TYPE", `unsupported content type; send JSON`);
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx: malformed JSON, empty body with a JSON content type, and the like.
      const message =
        err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err instanceof SyntaxError
          ? "body: is not valid JSON"
          : err.code === "FST_ERR_CTP_EMPTY_JSON_BODY"
            ? "body: is empty but the content type is JSON"
            : `request: ${err.message}`;
      return sendError(reply, "INVALID_PARAMETER", message);
    }
    if (isDatabaseUnavailable(err)) {
      request.log.error({ err }, "database unavailable");
      return sendError(reply, "DEPENDENCY_UNAVAILABLE", "the database is unavailable; retry later");
    }
    request.log.error({ err }, "unhandled error");
    return sendError(reply, "INTERNAL", "internal error");
  });

  const ok = (data: unknown) => ({ code: 0, message: "success", data });

  app.get("/healthz", { config: { public: true }, schema: { hide: true } }, async () => ok({ status: "ok" }));

  app.get("/readyz", { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    const results = await Promise.all(
      Object.entries(opts.readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000, name);
          return [name, { ok: true }] as const;
        } catch (err) {
          return [name, { ok: false, error: errorMessage(err) }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, r]) => r.ok);
    if (ready) return ok({ status: "ready", checks });
    const down = results.filter(([, r]) => !r.ok).map(([n]) => n);
    return reply.status(503).send({
      code: ErrorCodes.DEPENDENCY_UNAVAILABLE.code,
      message: `not ready: ${down.join(", ")} unavailable`,
      data: { status: "not-ready", checks },
    });
  });

  app.get("/metrics", { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    reply.header("content-type", opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });

  app.get("/openapi.json", { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  return app;
}
