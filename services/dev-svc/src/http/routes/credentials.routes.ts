import {
  CreateCredentialRequest,
  Credential,
  CredentialIdParam,
  DeletedCredential,
  Envelope,
  IdempotencyHeaders,
  ok,
  Page,
  PageQuery,
} from "@procode/contracts";
import { actorOf, type HttpServer, type Idempotency } from "@procode/service-kit";
import type { CredentialService } from "../../git/credentials.service.js";

/** Git credentials of the caller's team: the token is write-only. */
export function registerCredentialRoutes(
  app: HttpServer,
  credentials: CredentialService,
  idempotency: Idempotency,
): void {
  app.post(
    "/credentials",
    {
      schema: {
        operationId: "createCredential",
        tags: ["credentials"],
        summary: "Store a git credential (token encrypted; never returned)",
        description:
          "The token is sealed with AES-256-GCM under the active key; responses, logs and errors never contain it. Bindings waiting for this credential are retried at once. Safe to retry with an Idempotency-Key.",
        headers: IdempotencyHeaders,
        body: CreateCredentialRequest,
        response: { 200: Envelope(Credential) },
        errors: ["IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_KEY_IN_USE"],
      },
    },
    async (request, reply) =>
      ok(
        await idempotency.answer(request, reply, "createCredential", (record) =>
          credentials.create(actorOf(request), request.body, record),
        ),
      ),
  );

  app.get(
    "/credentials",
    {
      schema: {
        operationId: "listCredentials",
        tags: ["credentials"],
        summary: "List the team's credentials (metadata only; paged, oldest first)",
        querystring: PageQuery,
        response: { 200: Envelope(Page(Credential)) },
      },
    },
    async (request) => ok(await credentials.list(actorOf(request), request.query)),
  );

  app.get(
    "/credentials/:id",
    {
      schema: {
        operationId: "getCredential",
        tags: ["credentials"],
        summary: "One credential of the team (metadata only; 5004 for any other)",
        params: CredentialIdParam,
        response: { 200: Envelope(Credential) },
        errors: ["CREDENTIAL_NOT_FOUND"],
      },
    },
    async (request) => ok(await credentials.get(actorOf(request), request.params.id)),
  );

  app.delete(
    "/credentials/:id",
    {
      schema: {
        operationId: "deleteCredential",
        tags: ["credentials"],
        summary: "Delete a credential no repository uses (5005 names the apps that do)",
        params: CredentialIdParam,
        response: { 200: Envelope(DeletedCredential) },
        errors: ["CREDENTIAL_NOT_FOUND", "CREDENTIAL_IN_USE"],
      },
    },
    async (request) => ok(await credentials.delete(actorOf(request), request.params.id)),
  );
}
