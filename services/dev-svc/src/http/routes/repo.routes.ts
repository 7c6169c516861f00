import {
  Envelope,
  GitRefList,
  IdParam,
  ok,
  Page,
  PageQuery,
  RepoBinding,
  WebhookDelivery,
  WebIdeLink,
  WebIdeQuery,
} from "@procode/contracts";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { RepoReads } from "../../services/repo-reads.service.js";
import type { WebhookDeliveries } from "../../services/webhook-deliveries.js";
import { errorResponses } from "./errors.js";

/** Reads of an app's repository (seed 6.1 degradation included); another team's app is 404 (1004). */
export function registerRepoRoutes(app: HttpServer, reads: RepoReads, deliveries: WebhookDeliveries): void {
  app.get(
    "/apps/:id/repo",
    {
      schema: {
        tags: ["repository"],
        summary: "The app's repository binding (git_repo): state, last error, webhook URL, scaffold",
        params: IdParam,
        response: { 200: Envelope(RepoBinding), ...errorResponses },
      },
    },
    async (request) => ok(await reads.binding(actorOf(request), request.params.id)),
  );

  app.get(
    "/apps/:id/repo/branches",
    {
      schema: {
        tags: ["repository"],
        summary: "Branches with their head commits (cached; stale with a message when the provider is down)",
        description: "1006 (503) when the provider is down and nothing is cached yet.",
        params: IdParam,
        response: { 200: Envelope(GitRefList), ...errorResponses },
      },
    },
    async (request) => ok(await reads.refs(actorOf(request), request.params.id, "branches")),
  );

  app.get(
    "/apps/:id/repo/tags",
    {
      schema: {
        tags: ["repository"],
        summary: "Tags with their commits (cached; stale with a message when the provider is down)",
        params: IdParam,
        response: { 200: Envelope(GitRefList), ...errorResponses },
      },
    },
    async (request) => ok(await reads.refs(actorOf(request), request.params.id, "tags")),
  );

  app.get(
    "/apps/:id/repo/webhook-deliveries",
    {
      schema: {
        tags: ["repository"],
        summary: "The app's webhook deliveries, newest first (paged), refused ones with their reason",
        params: IdParam,
        querystring: PageQuery,
        response: { 200: Envelope(Page(WebhookDelivery)), ...errorResponses },
      },
    },
    async (request) => ok(await deliveries.latest(actorOf(request), request.params.id, request.query)),
  );

  app.get(
    "/apps/:id/webide",
    {
      schema: {
        tags: ["repository"],
        summary:
          "A link opening the repository at a branch in the WebIDE, or the clone URL and a local-IDE hint",
        params: IdParam,
        querystring: WebIdeQuery,
        response: { 200: Envelope(WebIdeLink), ...errorResponses },
      },
    },
    async (request) => ok(await reads.webIde(actorOf(request), request.params.id, request.query.branch)),
  );
}
