import type { IncomingMessage } from "node:http";
import {
  DeployCallback,
  DeployCallbackResponse,
  Envelope,
  ok,
  OPS_CALLBACK_SECURITY,
  OPS_SIGNATURE_HEADER,
  OPS_TIMESTAMP_HEADER,
} from "@procode/contracts";
import { DomainError, invalidParameter, type HttpServer } from "@procode/service-kit";
import type { DeploymentService } from "../services/deployment.service.js";
import { checkOpsSignature } from "./callback-signature.js";
import { RefusalLimit } from "./refusal-limit.js";

/** Marks a body that was not JSON: reported as 1001, but only after the signature was checked. */
const NOT_JSON = Object.freeze({ notJson: true });

/**
 * `POST /deploy/callback`, called by the ops module. Public (no bearer token) but
 * authenticated by the HMAC signature over the raw body, which is why this scope reads the body as
 * text itself and checks the signature before anything else looks at it.
 */
export async function registerCallbackRoutes(
  app: HttpServer,
  deps: { service: DeploymentService; secret: string; rateLimit: { max: number; timeWindow: number } },
): Promise<void> {
  await app.register(async (scope: HttpServer) => {
    const rawBodies = new WeakMap<IncomingMessage, string>();
    const limit = new RefusalLimit({ max: deps.rateLimit.max, windowMs: deps.rateLimit.timeWindow });
    // Before anything else, an address refused too often is answered 429; every refusal counts.
    scope.addHook("onRequest", async (request, reply) => {
      const seconds = limit.blockedFor(request.ip);
      if (seconds === 0) return;
      reply.header("retry-after", String(seconds));
      throw new DomainError("RATE_LIMITED", `too many requests from this address; retry in ${seconds} s`);
    });
    scope.addHook("onResponse", async (request, reply) => {
      if (reply.statusCode >= 400 && reply.statusCode !== 429) limit.refused(request.ip);
    });
    scope.removeContentTypeParser("application/json");
    scope.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      const raw = typeof body === "string" ? body : body.toString("utf8");
      rawBodies.set(request.raw, raw);
      try {
        done(null, raw.length ? JSON.parse(raw) : NOT_JSON);
      } catch {
        done(null, NOT_JSON);
      }
    });

    scope.post(
      "/deploy/callback",
      {
        // Refused calls are limited per caller address (RefusalLimit), before the signature is checked.
        config: { public: true },
        schema: {
          operationId: "deployCallback",
          summary: "Deployment status from the ops module (signed)",
          description: `The ops module's callback. Authenticated by \`${OPS_SIGNATURE_HEADER}: sha256=<hex>\`, HMAC-SHA256 with the shared secret over \`<${OPS_TIMESTAMP_HEADER}>.<raw body>\`; the timestamp (unix seconds) must be within 5 minutes. A bad or missing signature answers 401 (5002), an unknown deployId 404 (4004); once signed, a body holding text the database cannot store or nested too deep is 1001 naming the field; 5006 (429) for an address whose calls were refused more than the per-address limit allows within its window (accepted calls never count).`,
          tags: ["deployments"],
          security: OPS_CALLBACK_SECURITY,
          body: DeployCallback,
          response: { 200: Envelope(DeployCallbackResponse) },
          errors: ["BAD_SIGNATURE", "DEPLOYMENT_NOT_FOUND", "RATE_LIMITED"],
        },
        preValidation: async (request) => {
          const check = checkOpsSignature({
            secret: deps.secret,
            rawBody: rawBodies.get(request.raw) ?? "",
            signature: request.headers[OPS_SIGNATURE_HEADER],
            timestamp: request.headers[OPS_TIMESTAMP_HEADER],
            nowSeconds: Math.floor(Date.now() / 1000),
          });
          if (!check.ok) throw new DomainError("BAD_SIGNATURE", `callback refused: ${check.reason}`);
          if ((request.body as unknown) === NOT_JSON) throw invalidParameter("body", "is not valid JSON");
        },
      },
      async (request) =>
        ok(await deps.service.handleCallback(request.body, { log: request.log, requestId: request.id })),
    );
  });
}
