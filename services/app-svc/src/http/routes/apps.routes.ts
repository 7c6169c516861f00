import {
  App,
  AppIdParam,
  CreateAppRequest,
  Envelope,
  IdempotencyHeaders,
  ListAppsQuery,
  ok,
  Page,
  PutProcodeConfigRequest,
  PutProcodeConfigResponse,
} from "@procode/contracts";
import { actorOf, type HttpServer, type Idempotency } from "@procode/service-kit";
import type { AppService } from "../../services/app.service.js";

/** POST /apps, PUT /apps/{id}/procode-config and the reads: the caller's team comes from the bearer token. */
export function registerAppRoutes(app: HttpServer, apps: AppService, idempotency: Idempotency): void {
  app.post(
    "/apps",
    {
      schema: {
        operationId: "createApp",
        tags: ["apps"],
        summary: "Create an app (low-code or pro-code)",
        description:
          "A pro-code app's repository is probed first (1003 when it cannot be reached; another team's LOCAL repository is not reachable), and a given credentialId must be one of the team's for the repository's provider (1001). The name is unique within the team (1002). Its binding (webhook, scaffold push) then goes on in dev-svc: `GET /apps/{id}/repo`. Safe to retry with an Idempotency-Key.",
        headers: IdempotencyHeaders,
        body: CreateAppRequest,
        response: { 200: Envelope(App) },
        errors: [
          "APP_NAME_TAKEN",
          "GIT_REPO_UNREACHABLE",
          "IDEMPOTENCY_KEY_REUSED",
          "IDEMPOTENCY_KEY_IN_USE",
        ],
      },
    },
    async (request, reply) =>
      ok(
        await idempotency.answer(request, reply, "createApp", (record) =>
          apps.create(actorOf(request), request.body, request.id, record),
        ),
      ),
  );

  app.get(
    "/apps",
    {
      schema: {
        operationId: "listApps",
        tags: ["apps"],
        summary: "List the team's apps (paged; filter by devMode, search by name)",
        querystring: ListAppsQuery,
        response: { 200: Envelope(Page(App)) },
      },
    },
    async (request) => ok(await apps.list(actorOf(request), request.query)),
  );

  app.get(
    "/apps/:id",
    {
      schema: {
        operationId: "getApp",
        tags: ["apps"],
        summary: "Get an app of the team",
        description: "Another team's app answers 404 (1004) exactly like one that does not exist.",
        params: AppIdParam,
        response: { 200: Envelope(App) },
        errors: ["APP_NOT_FOUND"],
      },
    },
    async (request) => ok(await apps.get(actorOf(request), request.params.id)),
  );

  app.put(
    "/apps/:id/procode-config",
    {
      schema: {
        operationId: "putProcodeConfig",
        tags: ["apps"],
        summary: "Configure a pro-code app's repository and pipeline settings",
        description:
          "Fields left out keep their value. The repository is probed again when its URL changes (1003 when unreachable, another team's LOCAL repository included); a given credentialId must be one of the team's for the repository's provider (1001). A low-code app answers 1001 naming devMode.",
        params: AppIdParam,
        body: PutProcodeConfigRequest,
        response: { 200: Envelope(PutProcodeConfigResponse) },
        errors: ["APP_NOT_FOUND", "GIT_REPO_UNREACHABLE"],
      },
    },
    async (request) =>
      ok(await apps.putProcodeConfig(actorOf(request), request.params.id, request.body, request.id)),
  );
}
