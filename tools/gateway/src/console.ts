import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyRequest, RawServerDefault } from "fastify";
import { isConsolePage } from "@procode/console/routes";
import { ErrorCodes } from "@procode/contracts";
import type { Logger } from "@procode/service-kit";

/**
 * The web console at `/` (its built files, tools/console/dist). A browser navigation to one of the
 * console's pages (`/apps/7`, `/pipelines/42`: GET asking for HTML) gets index.html, so a deep link
 * survives a reload; the same paths asked for JSON still reach the API, and every other path keeps
 * its 404 envelope. Assets have content hashes in their names and are cached for good; index.html
 * is never cached, so a new build is picked up at the next page load.
 */
const INDEX_HEADERS = {
  "cache-control": "no-cache",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function isPageNavigation(request: FastifyRequest): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const accept = request.headers.accept ?? "";
  return accept.includes("text/html") && isConsolePage(request.url.split("?")[0]!);
}

type Gateway = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export async function registerConsole(app: Gateway, dir: string): Promise<void> {
  const built = existsSync(path.join(dir, "index.html"));
  if (built) {
    await app.register(fastifyStatic, {
      root: path.join(dir, "assets"),
      prefix: "/assets/",
      index: false,
      immutable: true,
      maxAge: "365d",
      decorateReply: true,
    });
  }
  app.addHook("onRequest", async (request, reply) => {
    if (!isPageNavigation(request)) return;
    if (!built) {
      return reply.status(404).send({
        code: ErrorCodes.ROUTE_NOT_FOUND.code,
        message: "the web console is not built here: run `pnpm --filter @procode/console build`",
        data: null,
      });
    }
    return reply.headers(INDEX_HEADERS).sendFile("index.html", dir, { cacheControl: false });
  });
}
