import { randomUUID } from "node:crypto";
import type { Subscription } from "@nats-io/transport-node";
import type { z } from "zod";
import { describeErrorCode, RpcReply, RpcRequest, rpcSubject, type RpcName } from "@procode/contracts";
import { DomainError, dependencyUnavailable, isDomainError } from "./errors.js";
import { withCorrelation, type Logger } from "./logger.js";
import type { NatsHandle } from "./nats.js";
import { errorMessage } from "./util.js";

type WireReply = { ok: true; data: unknown } | { ok: false; error: { code: number; message: string } };

export interface RpcServeOptions<Req extends z.ZodType, Res extends z.ZodType> {
  name: RpcName;
  request: Req;
  reply: Res;
  /** Queue group: one replica answers each request. */
  queue: string;
  log: Logger;
  handle(data: z.infer<Req>, ctx: { log: Logger; correlationId: string }): Promise<z.input<Res>>;
}

/**
 * Answers a request/reply subject with a zod-validated payload. Domain errors travel back with their
 * code; anything else becomes 9001 without internals.
 */
export function serveRpc<Req extends z.ZodType, Res extends z.ZodType>(
  nats: NatsHandle,
  opts: RpcServeOptions<Req, Res>,
): Subscription {
  const envelope = RpcRequest(opts.request as z.ZodType);
  return nats.nc.subscribe(rpcSubject(nats.env, opts.name), {
    queue: opts.queue,
    callback: (err, msg) => {
      if (err) return opts.log.error({ err }, "rpc subscription error");
      void (async () => {
        let reply: WireReply;
        let log = opts.log;
        try {
          const parsed = envelope.safeParse(msg.json());
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            throw new DomainError(
              "INVALID_PARAMETER",
              `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`,
            );
          }
          log = withCorrelation(opts.log, parsed.data.correlationId, { rpc: opts.name });
          const data = await opts.handle(parsed.data.data as z.infer<Req>, {
            log,
            correlationId: parsed.data.correlationId,
          });
          reply = { ok: true, data: opts.reply.parse(data) };
        } catch (e) {
          if (isDomainError(e)) reply = { ok: false, error: { code: e.code, message: e.message } };
          else {
            log.error({ err: e }, "rpc handler failed");
            reply = { ok: false, error: { code: 9001, message: "internal error" } };
          }
        }
        msg.respond(JSON.stringify(reply));
      })();
    },
  });
}

export interface RpcCallOptions {
  correlationId: string;
  timeoutMs: number;
  /** Name of the service that answers, for the 503 message. */
  peer: string;
}

/**
 * Calls a request/reply subject. No answer within the timeout (or nobody listening) is a 503
 * envelope naming the peer, never a hang; an error reply becomes the same DomainError.
 */
export async function callRpc<Req extends z.ZodType, Res extends z.ZodType>(
  nats: NatsHandle,
  name: RpcName,
  request: Req,
  reply: Res,
  data: z.input<Req>,
  opts: RpcCallOptions,
): Promise<z.infer<Res>> {
  const payload = JSON.stringify({
    id: randomUUID(),
    correlationId: opts.correlationId,
    data: request.parse(data),
  });
  let raw: unknown;
  try {
    const msg = await nats.nc.request(rpcSubject(nats.env, name), payload, { timeout: opts.timeoutMs });
    raw = msg.json();
  } catch (err) {
    const reason =
      /no responders/i.test(errorMessage(err)) || /503/.test(errorMessage(err))
        ? "no instance is answering"
        : `no answer within ${opts.timeoutMs} ms`;
    throw dependencyUnavailable(opts.peer, reason);
  }
  const parsed = RpcReply(reply as z.ZodType).safeParse(raw);
  if (!parsed.success) throw dependencyUnavailable(opts.peer, "answered with an unexpected reply");
  const answer = parsed.data;
  if (answer.ok) return answer.data as z.infer<Res>;
  const { name: kind } = describeErrorCode(answer.error.code);
  throw new DomainError(kind, answer.error.message);
}
