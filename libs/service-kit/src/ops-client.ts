import { request } from "undici";
import { z } from "zod";
import type { OpsAnswer, OpsOperation } from "@procode/contracts";
import { errorMessage } from "./util.js";

/**
 * Which HTTP answers (other than 2xx) mean "the server is not usable right now" rather than "it said
 * no". A create refused with 400/409/422 is the request's fault and fails it; any other 4xx on
 * create (a wrong path, credentials) is a configuration problem of ours, so it waits like an outage.
 * A status or cancel refused with a 4xx is an answer about that deployment or build (404: it no
 * longer knows it); 501 on a cancel is a server that does not offer cancelling.
 */
export function isUnavailableStatus(op: OpsOperation, httpStatus: number): boolean {
  if (op === "cancel" && httpStatus === 501) return false;
  if (httpStatus >= 500 || httpStatus === 408 || httpStatus === 425 || httpStatus === 429) return true;
  if (op === "create") return ![400, 409, 422].includes(httpStatus);
  return false;
}

/**
 * How any ops server's answers are read, leniently (the platform must work against any server that
 * speaks the ops API): `{code, message?, data}`, extra fields ignored, a missing or null message
 * reads as "".
 */
const OpsAnswerEnvelope = z.object({
  code: z.coerce.number().int().optional(),
  message: z.string().nullish(),
  data: z.unknown().optional(),
});

/**
 * Reads the body of an ops server's answer: the envelope when the body is one (`success` false for
 * no JSON or another shape), and the message to quote: the envelope's, else the start of the body,
 * else the HTTP status.
 */
function readOpsAnswer(status: number, text: string) {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const envelope = OpsAnswerEnvelope.safeParse(json);
  const message = (envelope.success && envelope.data.message) || text.slice(0, 200) || `HTTP ${status}`;
  return { envelope, message };
}

export interface OpsClientOptions {
  /** The server's base URL (operator configuration, not user input). */
  baseUrl: string;
  /** How the server is named in the reasons of `unavailable` answers, e.g. "the ops module". */
  name: string;
  /** Budget of one call. */
  timeoutMs: number;
}

interface OpsCall<S extends z.ZodType> {
  op: OpsOperation;
  method: "GET" | "POST";
  path: string;
  /** What `data` of a successful answer must be. */
  schema: S;
  body?: unknown;
  headers?: Record<string, string>;
  /** Ends the call early; an abort by the caller rejects rather than answering `unavailable`. */
  signal?: AbortSignal;
}

export interface OpsClient {
  call<S extends z.ZodType>(c: OpsCall<S>): Promise<OpsAnswer<z.infer<S>>>;
}

/**
 * A JSON-envelope HTTP client for ops-style APIs (ops-gateway's deployments, dev-svc's image
 * builder), with one rule for "unavailable": no answer in time, no connection, an error status
 * that `isUnavailableStatus` says is an outage, or a 2xx whose body is not the API's. The answer is
 * a three-way union the callers' decisions take as it is.
 */
export function createOpsClient(opts: OpsClientOptions): OpsClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const { name } = opts;
  return {
    async call<S extends z.ZodType>(c: OpsCall<S>): Promise<OpsAnswer<z.infer<S>>> {
      let status: number;
      let text: string;
      try {
        const timeout = AbortSignal.timeout(opts.timeoutMs);
        // undici's `request` rather than `fetch`: the same connection pool without the WHATWG
        // streams and Response objects, which cost ops-gateway more CPU per deployment than the
        // call itself (docs/performance.md, "Round 2, sixth pass").
        const res = await request(`${base}${c.path}`, {
          method: c.method,
          headers: {
            accept: "application/json",
            ...(c.body !== undefined ? { "content-type": "application/json" } : {}),
            ...c.headers,
          },
          ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
          signal: c.signal ? AbortSignal.any([c.signal, timeout]) : timeout,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        if (c.signal?.aborted) throw err;
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        const reason =
          e.name === "TimeoutError" || e.name === "AbortError"
            ? `${name} did not answer within ${opts.timeoutMs} ms`
            : `${name} is not reachable (${e.code ?? e.cause?.code ?? e.cause?.message ?? errorMessage(err)})`;
        return { kind: "unavailable", reason };
      }
      const { envelope, message } = readOpsAnswer(status, text);
      if (status < 200 || status >= 300) {
        return isUnavailableStatus(c.op, status)
          ? { kind: "unavailable", reason: `${name} answered HTTP ${status}: ${message}` }
          : { kind: "refused", httpStatus: status, message };
      }
      if (!envelope.success) {
        return {
          kind: "unavailable",
          reason: `${name} answered HTTP ${status} with a body that is not its API's`,
        };
      }
      if (envelope.data.code !== undefined && envelope.data.code !== 0) {
        return { kind: "refused", httpStatus: status, message: `code ${envelope.data.code}: ${message}` };
      }
      const data = c.schema.safeParse(envelope.data.data);
      if (!data.success) {
        const issue = data.error.issues[0];
        return {
          kind: "unavailable",
          reason: `${name}'s answer lacks data.${issue?.path.join(".") || "(body)"}`,
        };
      }
      return { kind: "ok", data: data.data };
    },
  };
}
