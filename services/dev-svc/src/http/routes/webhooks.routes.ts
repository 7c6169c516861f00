import type { z } from "zod";
import { Envelope, ok, WEBHOOK_SECURITY, WebhookAck, WebhookParams } from "@procode/contracts";
import type { HttpServer } from "@procode/service-kit";
import type { WebhookReceiver } from "../../git/webhook-receiver.service.js";

/**
 * `POST /webhooks/{gitType}/{appId}`: public (no bearer token), authenticated by the provider's
 * signature over the raw body, so the body is kept as bytes (never re-serialised) in this scope.
 * Rate-limited per caller address before anything is read from the database.
 */
export async function registerWebhookRoutes(
  app: HttpServer,
  receiver: WebhookReceiver,
  opts: { bodyLimit: number; rateLimit: { max: number; timeWindow: number } },
): Promise<void> {
  const { bodyLimit } = opts;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => done(null, body));
    scope.post(
      "/webhooks/:gitType/:appId",
      {
        bodyLimit,
        config: { public: true, rateLimit: opts.rateLimit },
        schema: {
          operationId: "receiveWebhook",
          tags: ["webhooks"],
          summary: "Receive a push from GitLab, GitHub, Gitee or a LOCAL post-receive hook",
          description:
            "Public: no bearer token, but signed by the provider as its security scheme says (the app's webhook secret over the raw body, checked in constant time). Every refusal before the signature holds (an unknown or unbound app, another provider, a forged, unsigned or stale delivery) is the same 5002 (401) answer; the app's team reads the reason in its delivery log. A signed body that is not JSON, holds text the database cannot store or is nested too deep is 1001 naming the field. Stored, deduplicated by delivery id, answered at once, processed in the background; 5006 (429) past the per-address rate limit.",
          security: WEBHOOK_SECURITY,
          params: WebhookParams,
          response: { 200: Envelope(WebhookAck) },
          errors: ["BAD_SIGNATURE", "PAYLOAD_TOO_LARGE", "RATE_LIMITED"],
        },
      },
      async (request) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        // Validated and coerced by the route's schema.
        const params = request.params as z.infer<typeof WebhookParams>;
        return ok(await receiver.receive(params, body, request.headers, request.ip ?? null));
      },
    );
  });
}
