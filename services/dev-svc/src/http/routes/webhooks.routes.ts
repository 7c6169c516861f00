import type { z } from "zod";
import { Envelope, ok, WEBHOOK_SECURITY, WebhookAck, WebhookParams } from "@procode/contracts";
import type { HttpServer } from "@procode/service-kit";
import type { WebhookReceiver } from "../../services/webhook-receiver.service.js";

/**
 * `POST /webhooks/{gitType}/{appId}`: public (no bearer token), authenticated by the provider's
 * signature over the raw body, so the body is kept as bytes (never re-serialised) in this scope.
 */
export async function registerWebhookRoutes(
  app: HttpServer,
  receiver: WebhookReceiver,
  bodyLimit: number,
): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => done(null, body));
    scope.post(
      "/webhooks/:gitType/:appId",
      {
        bodyLimit,
        config: { public: true },
        schema: {
          operationId: "receiveWebhook",
          tags: ["webhooks"],
          summary: "Receive a push from GitLab, GitHub, Gitee or a LOCAL post-receive hook",
          description:
            "Public: no bearer token, but signed by the provider as its security scheme says (the app's webhook secret over the raw body, checked in constant time); 5002 (401) when forged, unsigned or stale. Stored, deduplicated by delivery id, answered at once, processed in the background. The body is the provider's push event as it sends it.",
          security: WEBHOOK_SECURITY,
          params: WebhookParams,
          response: { 200: Envelope(WebhookAck) },
          errors: ["BAD_SIGNATURE", "PAYLOAD_TOO_LARGE"],
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
