import type { z } from "zod";
import { Envelope, ok, WebhookAck, WebhookParams } from "@procode/contracts";
import type { HttpServer } from "@procode/service-kit";
import type { WebhookReceiver } from "../../services/webhook-receiver.service.js";
import { errorResponses } from "./errors.js";

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
          tags: ["webhooks"],
          summary: "Receive a push from GitLab, GitHub, Gitee or a LOCAL post-receive hook",
          description:
            "Verified in constant time over the raw body (X-Gitlab-Token or webhook-signature, X-Hub-Signature-256, X-Gitee-Token with X-Gitee-Timestamp, X-Procode-Signature-256 with X-Procode-Timestamp); 5002 (401) when forged, unsigned or stale. Stored, deduplicated by delivery id, answered at once, processed in the background.",
          security: [],
          params: WebhookParams,
          response: { 200: Envelope(WebhookAck), ...errorResponses },
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
