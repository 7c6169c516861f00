import { IterationCreated } from "@procode/contracts";
import type { ConsumerSpec } from "@procode/service-kit";
import type { CommandExecutor } from "../../services/command-executor.js";

/** dev.iteration_created: create the ITERATION pipeline and start it (idempotent per iteration). */
export function iterationCreatedConsumer(executor: CommandExecutor): ConsumerSpec<typeof IterationCreated> {
  return {
    durable: "pipeline-engine-iteration-created",
    def: IterationCreated,
    concurrency: 32,
    handle: (message, ctx) =>
      executor.submit({
        kind: "iterationCreated",
        data: message.data,
        correlationId: ctx.correlationId,
      }),
  };
}
