import { randomUUID } from "node:crypto";
import replyFrom from "@fastify/reply-from";
import Fastify, { LogController, type HTTPMethods } from "fastify";
import { ErrorCodes } from "@procode/contracts";
import type { Logger } from "@procode/service-kit";
import { ROUTES, type Upstream } from "./routes.js";

export interface GatewayOptions {
  upstreams: Record<Upstream, string>;
  log: Logger;
  /** Time an upstream has to answer before the gateway answers 503. */
  timeoutMs: number;
}

const METHODS: HTTPMethods[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const CORRELATION_HEADER = "x-correlation-id";

/**
 * The local API gateway (SPEC 8): every REST path of the product at one address, passed through to
 * the owning service unchanged (bodies stay raw bytes, so webhook and callback signatures over the
 * raw body still verify). Built on @fastify/reply-from.
 */
export async function createGateway(opts: GatewayOptions) {
  const app = Fastify({
    loggerInstance: opts.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 5 * 1024 * 1024,
  });

  // Bodies are streamed through untouched (reply-from would re-encode a parsed JSON body); the owning
  // service parses, limits and validates them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));

  await app.register(replyFrom, {
    undici: { connections: 64, pipelining: 1, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs },
    disableRequestLogging: true,
  });

  const envelope = (code: number, message: string) => ({ code, message, data: null });

  for (const rule of ROUTES) {
    const base = opts.upstreams[rule.upstream].replace(/\/$/, "");
    for (const url of rule.patterns) {
      app.route({
        method: METHODS,
        url,
        handler: (request, reply) => {
          const correlationId =
            typeof request.headers[CORRELATION_HEADER] === "string"
              ? request.headers[CORRELATION_HEADER]
              : randomUUID();
          return reply.from(`${base}${request.url}`, {
            rewriteRequestHeaders: (_req, headers) => ({ ...headers, [CORRELATION_HEADER]: correlationId }),
            onError: (r, { error }) => {
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

  app.get("/healthz", async () => ({ code: 0, message: "success", data: { status: "ok" } }));
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        envelope(ErrorCodes.ROUTE_NOT_FOUND.code, `no route ${request.method} ${request.url.split("?")[0]}`),
      ),
  );
  return app;
}
