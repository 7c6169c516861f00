import { ProceedIterationReply, ProceedIterationRequest, RPC } from "@procode/contracts";
import { serveRpc, type Logger, type NatsHandle } from "@procode/service-kit";
import type { CommandExecutor } from "../services/command-executor.js";

/**
 * PROCEED_ITERATION (request/reply, queue group): dev-svc's `proceed` and `release` need the
 * iteration's new phase and, for RELEASE, the phase pipeline's id in their answer.
 */
export function serveProceedIteration(
  nats: NatsHandle,
  executor: CommandExecutor,
  log: Logger,
): ReturnType<typeof serveRpc> {
  return serveRpc(nats, {
    name: RPC.PROCEED_ITERATION,
    request: ProceedIterationRequest,
    reply: ProceedIterationReply,
    queue: "pipeline-engine",
    log,
    handle: (data, ctx) =>
      executor.submit({
        kind: "proceedIteration",
        data,
        correlationId: ctx.correlationId,
      }),
  });
}
