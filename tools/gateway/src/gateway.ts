import { randomUUID } from "node:crypto";
import replyFrom from "@fastify/reply-from";
import scalarApiReference from "@scalar/fastify-api-reference";
import Fastify, { LogController, type HTTPMethods } from "fastify";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DEFAULT_BODY_LIMIT_BYTES, ErrorCodes, WebhookBodyLimitBytes } from "@procode/contracts";
import { clientErrorHandler, frameworkErrors, type Logger } from "@procode/service-kit";
import { downstreamHeaders, registerIntake, upstreamHeaders } from "./intake.js";
import { OpenApiSource, OpenApiUnavailableError } from "./openapi.js";
import { registerConsole } from "./console.js";
import { registerEventStream, type EventStreamOptions } from "./events.js";
import { gatewayOwnDocument } from "./events-doc.js";
import { ROUTES, type Upstream } from "./routes.js";

export interface GatewayOptions {
  upstreams: Record<Upstream, string>;
  log: Logger;
  /** Time an upstream has to answer before the gateway answers 503. */
  timeoutMs: number;
  /** Where callers reach the gateway (the servers entry of the API document). */
  publicBaseUrl: string;
  /** How long the merged API document is served before the services are asked again. */
  openApiTtlMs?: number;
  version?: string;
  /** The built web console served at `/` (tools/console/dist); none when absent. */
  consoleDir?: string;
  /** The body limits of the services behind it, so it refuses (413) what they would refuse. */
  bodyLimits?: { default: number; webhooks: number };
  /** How long a caller has to send a whole body before the gateway answers 408 and closes (15 s). */
  bodyTimeoutMs?: number;
  /** `GET /events` (the live event stream), served here from NATS; absent: no such route. */
  events?: Omit<EventStreamOptions, "log" | "registry">;
}

const METHODS: HTTPMethods[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const CORRELATION_HEADER = "x-correlation-id";

function gatewayMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: "gateway" });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by route, owning service and status",
      labelNames: ["method", "route", "upstream", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: "gateway_upstream_errors_total",
      help: "Requests the owning service did not answer (answered 503 by the gateway)",
      labelNames: ["upstream"],
      registers: [registry],
    }),
  };
}

/**
 * The local API gateway: every REST path of the product at one address, passed through to
 * the owning service unchanged (bodies stay raw bytes, so webhook and callback signatures over the
 * raw body still verify). Built on @fastify/reply-from. It also serves the merged API document
 * (`/openapi.json`), its reference page (`/docs`), `/readyz` (its upstreams) and `/metrics`.
 */
export async function createGateway(opts: GatewayOptions) {
  const app = Fastify({
    loggerInstance: opts.log,
    logController: new LogController({ disableRequestLogging: true }),
    // A request the router or Node cannot take is answered with the envelope too.
    frameworkErrors,
    clientErrorHandler,
  });
  const metrics = gatewayMetrics();
  const openApi = new OpenApiSource({
    upstreams: opts.upstreams,
    publicBaseUrl: opts.publicBaseUrl.replace(/\/$/, ""),
    title: "Pro-code API",
    version: opts.version ?? "0.1.0",
    description:
      "The REST API of Pro-code: agent apps bound to git repositories, iterations released by tag, and durable pipelines. Every answer is the envelope `{ code, message, data }` (code 0 is success; the other codes are listed per operation). Merged by the gateway from the services' own documents.",
    ttlMs: opts.openApiTtlMs ?? 30_000,
    ...(opts.events
      ? {
          own: {
            ...gatewayOwnDocument(),
            tags: [{ name: "events", description: "Live events of the team, as they happen (gateway)" }],
          },
        }
      : {}),
    timeoutMs: Math.min(opts.timeoutMs, 5000),
    onUnrouted: (unrouted) =>
      opts.log.error(
        { unrouted },
        "services document paths the gateway routes elsewhere; left out of /openapi.json",
      ),
  });

  // Bodies are read whole, within the owning service's limit and a deadline, and passed on as the
  // same bytes (signatures over the raw body still verify); the service parses and validates them.
  registerIntake(app, { bodyTimeoutMs: opts.bodyTimeoutMs ?? 15_000, registry: metrics.registry });
  const bodyLimits = opts.bodyLimits ?? {
    default: DEFAULT_BODY_LIMIT_BYTES,
    webhooks: WebhookBodyLimitBytes.parse(undefined),
  };

  await app.register(replyFrom, {
    undici: { connections: 64, pipelining: 1, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs },
    disableRequestLogging: true,
  });

  const envelope = (code: number, message: string, data: unknown = null) => ({ code, message, data });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "(unmatched)";
    const upstream = (request.routeOptions.config as { upstream?: string }).upstream ?? "gateway";
    metrics.httpDuration
      .labels(request.method, route, upstream, String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });
  if (opts.consoleDir) await registerConsole(app, opts.consoleDir);
  if (opts.events) registerEventStream(app, { ...opts.events, log: opts.log, registry: metrics.registry });

  for (const rule of ROUTES) {
    const base = opts.upstreams[rule.upstream].replace(/\/$/, "");
    for (const url of rule.patterns) {
      app.route({
        method: METHODS,
        url,
        config: { upstream: rule.upstream, bodyLimit: bodyLimits[rule.bodyLimit ?? "default"] },
        handler: (request, reply) => {
          const correlationId =
            typeof request.headers[CORRELATION_HEADER] === "string"
              ? request.headers[CORRELATION_HEADER]
              : randomUUID();
          const body = Buffer.isBuffer(request.body) ? request.body : undefined;
          return reply.from(`${base}${request.url}`, {
            // The bytes as received, with the caller's content type (not re-encoded).
            ...(body
              ? { body, contentType: request.headers["content-type"] ?? "application/octet-stream" }
              : {}),
            rewriteRequestHeaders: (req, headers) =>
              upstreamHeaders(headers, req.socket.remoteAddress, { [CORRELATION_HEADER]: correlationId }),
            rewriteHeaders: (headers) => downstreamHeaders(headers),
            onError: (r, { error }) => {
              metrics.upstreamErrors.labels(rule.upstream).inc();
              request.log.warn(
                { upstream: rule.upstream, err: error.message, correlationId },
                "upstream did not answer",
              );
              void r
                .status(503)
                .header(CORRELATION_HEADER, correlationId)
                .send(
                  envelope(
                    ErrorCodes.DEPENDENCY_UNAVAILABLE.code,
                    `${rule.upstream} is unavailable; retry later`,
                  ),
                );
            },
          });
        },
      });
    }
  }

  app.get("/healthz", async () => envelope(0, "success", { status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const checks = Object.fromEntries(
      await Promise.all(
        (Object.entries(opts.upstreams) as [Upstream, string][]).map(async ([name, url]) => {
          try {
            const res = await fetch(`${url.replace(/\/$/, "")}/readyz`, {
              signal: AbortSignal.timeout(2000),
            });
            return [
              name,
              res.ok ? { ok: true } : { ok: false, error: `its /readyz answered ${res.status}` },
            ] as const;
          } catch (err) {
            return [name, { ok: false, error: (err as Error).message }] as const;
          }
        }),
      ),
    );
    const down = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([n]) => n);
    if (!down.length) return envelope(0, "success", { status: "ready", checks });
    return reply.status(503).send(
      envelope(ErrorCodes.DEPENDENCY_UNAVAILABLE.code, `not ready: ${down.join(", ")} not ready`, {
        status: "not-ready",
        checks,
      }),
    );
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get("/openapi.json", async (_request, reply) => {
    try {
      return await openApi.document();
    } catch (err) {
      if (!(err instanceof OpenApiUnavailableError)) throw err;
      return reply.status(503).send(envelope(ErrorCodes.DEPENDENCY_UNAVAILABLE.code, err.message));
    }
  });

  await app.register(scalarApiReference, {
    routePrefix: "/docs",
    logLevel: "silent",
    configuration: { url: "/openapi.json", title: "Pro-code API", pageTitle: "Pro-code API" },
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        envelope(ErrorCodes.ROUTE_NOT_FOUND.code, `no route ${request.method} ${request.url.split("?")[0]}`),
      ),
  );

  // Fetch the services' documents once at start-up, so the first reader does not wait; a service not
  // up yet is asked again on the first request.
  app.addHook("onReady", async () => {
    void openApi
      .document()
      .catch((err: unknown) =>
        opts.log.info({ reason: (err as Error).message }, "API document not complete yet"),
      );
  });
  return app;
}
