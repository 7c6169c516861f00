import { ReleaseRequested } from "@procode/contracts";
import { isDomainError, type ConsumerSpec } from "@procode/service-kit";
import type { CommandExecutor } from "../../services/command-executor.js";

/**
 * dev.release_requested: the durable twin of PROCEED_ITERATION for RELEASE (dev-svc publishes it
 * whether or not the request was answered). Same idempotent path: a release already created is
 * found by its iteration_phase id. A refusal cannot be answered to anyone: it is logged and acked.
 */
export function releaseRequestedConsumer(executor: CommandExecutor): ConsumerSpec<typeof ReleaseRequested> {
  return {
    durable: "pipeline-engine-release-requested",
    def: ReleaseRequested,
    concurrency: 32,
    async handle(message, ctx) {
      const d = message.data;
      try {
        await executor.submit({
          kind: "proceedIteration",
          durable: true,
          deliveryCount: ctx.deliveryCount,
          correlationId: ctx.correlationId,
          data: {
            iterationId: d.iterationId,
            appId: d.appId,
            targetPhase: "RELEASE",
            release: {
              iterationPhaseId: d.iterationPhaseId,
              tag: d.tag,
              branch: d.branch,
              commitId: d.commitId,
              rollback: d.rollback,
            },
            actor: d.actor,
          },
        });
        return "done";
      } catch (err) {
        if (!isDomainError(err)) throw err;
        ctx.log.warn(
          { code: err.code, reason: err.message, iterationPhaseId: d.iterationPhaseId },
          "release request refused",
        );
        return "ignored";
      }
    },
  };
}
