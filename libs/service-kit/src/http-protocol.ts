import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from "fastify";
import { ErrorCodes, type ErrorName } from "@procode/contracts";

/**
 * Requests too broken for a route to see (docs/api.md, "Hostile input"): an unreadable request line
 * or head, a target that is not origin-form or does not decode, a target too long. Every such answer
 * is the envelope too, from a service and from the gateway alike (both use these).
 */

/** A request target longer than this is 414: no route of the API needs more than a few hundred. */
const MAX_TARGET_LENGTH = 8192;

/** The envelope of an error, as a JSON string and its HTTP status. */
export function errorEnvelope(kind: ErrorName, message: string): { status: number; body: string } {
  const e = ErrorCodes[kind];
  return { status: e.httpStatus, body: JSON.stringify({ code: e.code, message, data: null }) };
}

/**
 * Node's own answers to a request it could not parse (a head too large, a malformed request line, a
 * request that took too long to arrive), written on the socket as envelopes. The connection is
 * closed: what follows on it cannot be trusted to start a request.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const { status, body } =
    err.code === "HPE_HEADER_OVERFLOW"
      ? errorEnvelope("HEADERS_TOO_LARGE", "request head larger than the server accepts (16 KiB)")
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? errorEnvelope("REQUEST_TIMEOUT", "the request did not arrive in time")
        : errorEnvelope("MALFORMED_REQUEST", "request: not a valid HTTP/1.1 request");
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${statusText(status)}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function statusText(status: number): string {
  return (
    {
      400: "Bad Request",
      408: "Request Timeout",
      414: "URI Too Long",
      431: "Request Header Fields Too Large",
    }[status] ?? "Error"
  );
}

/** The router's refusals (a path that does not decode, a path parameter past its length) as envelopes. */
export const frameworkErrors: NonNullable<FastifyServerOptions["frameworkErrors"]> = (
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) => {
  const path = request.url.split("?")[0] ?? "";
  const { status, body } =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? errorEnvelope("URI_TOO_LONG", "request target: a path segment is longer than the API accepts")
      : errorEnvelope(
          "MALFORMED_REQUEST",
          `request target: ${JSON.stringify(path.slice(0, 200))} is not a valid percent-encoded UTF-8 path`,
        );
  void reply.status(status).header("content-type", "application/json; charset=utf-8").send(body);
};

/**
 * The request target's problem, or null: only origin-form (`/path?query`) is served (an absolute
 * URL or `*` is 400), and a target past MAX_TARGET_LENGTH is 414. The query must decode as well.
 */
function targetProblem(rawUrl: string | undefined): { kind: ErrorName; message: string } | null {
  const url = rawUrl ?? "";
  if (!url.startsWith("/")) {
    return {
      kind: "MALFORMED_REQUEST",
      message: `request target: only origin-form targets (/path?query) are served, not ${JSON.stringify(url.slice(0, 100))}`,
    };
  }
  if (url.length > MAX_TARGET_LENGTH) {
    return { kind: "URI_TOO_LONG", message: `request target: longer than ${MAX_TARGET_LENGTH} characters` };
  }
  const query = url.indexOf("?");
  if (query >= 0 && !decodes(url.slice(query + 1))) {
    return {
      kind: "MALFORMED_REQUEST",
      message: "request target: the query is not valid percent-encoded UTF-8",
    };
  }
  return null;
}

function decodes(query: string): boolean {
  try {
    decodeURIComponent(query.replace(/\+/g, " "));
    return true;
  } catch {
    return false;
  }
}

/** An onRequest hook answering targetProblem's refusals, first of all hooks. */
export async function refuseBadTarget(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const problem = targetProblem(request.raw.url);
  if (!problem) return;
  const { status, body } = errorEnvelope(problem.kind, problem.message);
  return reply.status(status).header("content-type", "application/json; charset=utf-8").send(body);
}
