import {
  AppIdParam,
  Envelope,
  GitRefList,
  ok,
  Page,
  PageQuery,
  RepoBinding,
  WebhookDelivery,
  WebIdeLink,
  WebIdeQuery,
} from "@procode/contracts";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { RepoReads } from "../../git/repo-reads.service.js";
import type { WebhookDeliveries } from "../../git/webhook-deliveries.js";
import { PROVIDER_ERRORS } from "./errors.js";

/** Reads of an app's repository (served stale from the cache when the provider is down); another team's app is 404 (1004). */
export function registerRepoRoutes(app: HttpServer, reads: RepoReads, deliveries: WebhookDeliveries): void {
  app.get(
    "/apps/:id/repo",
    {
      schema: {
        operationId: "getRepoBinding",
        tags: ["repository"],
        summary: "The app's repository binding (git_repo): state, last error, webhook URL, scaffold",
        params: AppIdParam,
        response: { 200: Envelope(RepoBinding) },
        errors: ["APP_NOT_FOUND", "REPO_NOT_BOUND"],
      },
    },
    async (request) => ok(await reads.binding(actorOf(request), request.params.id)),
  );

  app.get(
    "/apps/:id/repo/branches",
    {
      schema: {
        operationId: "listBranches",
        tags: ["repository"],
        summary: "Branches with their head commits (cached; stale with a message when the provider is down)",
        description: "1006 (503) when the provider is down and nothing is cached yet.",
        params: AppIdParam,
        response: { 200: Envelope(GitRefList) },
        errors: ["APP_NOT_FOUND", "REPO_NOT_BOUND", ...PROVIDER_ERRORS],
      },
    },
    async (request) => ok(await reads.refs(actorOf(request), request.params.id, "branches")),
  );

  app.get(
    "/apps/:id/repo/tags",
    {
      schema: {
        operationId: "listTags",
        tags: ["repository"],
        summary: "Tags with their commits (cached; stale with a message when the provider is down)",
        params: AppIdParam,
        response: { 200: Envelope(GitRefList) },
        errors: ["APP_NOT_FOUND", "REPO_NOT_BOUND", ...PROVIDER_ERRORS],
      },
    },
    async (request) => ok(await reads.refs(actorOf(request), request.params.id, "tags")),
  );

  app.get(
    "/apps/:id/repo/webhook-deliveries",
    {
      schema: {
        operationId: "listWebhookDeliveries",
        tags: ["repository"],
        summary: "The app's webhook deliveries, newest first (paged), refused ones with their reason",
        params: AppIdParam,
        querystring: PageQuery,
        response: { 200: Envelope(Page(WebhookDelivery)) },
        errors: ["APP_NOT_FOUND"],
      },
    },
    async (request) => ok(await deliveries.latest(actorOf(request), request.params.id, request.query)),
  );

  app.get(
    "/apps/:id/webide",
    {
      schema: {
        operationId: "getWebIdeLink",
        tags: ["repository"],
        summary:
          "A link opening the repository at a branch in the WebIDE, or the clone URL and a local-IDE hint",
        params: AppIdParam,
        querystring: WebIdeQuery,
        response: { 200: Envelope(WebIdeLink) },
        errors: ["APP_NOT_FOUND", "REPO_NOT_BOUND", ...PROVIDER_ERRORS],
      },
    },
    async (request) => ok(await reads.webIde(actorOf(request), request.params.id, request.query.branch)),
  );
}
