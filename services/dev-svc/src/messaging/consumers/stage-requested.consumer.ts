import { StageRequested } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { StageRunnerService } from "../../runners/stage-runner.service.js";

/** `dev-svc-stage-code-check` for CODE_CHECK, and so on. */
export const stageConsumerName = (stage: string) =>
  `dev-svc-stage-${stage.toLowerCase().replaceAll("_", "-")}`;

/**
 * The pipeline-engine's stage requests, one durable consumer per stage this service runs
 * (`stage.requested.v1.<STAGE>`). The runner is idempotent per attempt, so a redelivery or a
 * re-published request is harmless; the kit reports the message as in progress while an attempt
 * runs, so long work is not redelivered meanwhile.
 */
export function addStageRequestedConsumers(
  consumers: ConsumerGroup,
  runner: StageRunnerService,
  opts: { concurrency: number },
): void {
  for (const stage of runner.stages) {
    consumers.add({
      durable: stageConsumerName(stage),
      def: StageRequested,
      suffix: stage,
      concurrency: opts.concurrency,
      handle: async (message, ctx) => {
        if (message.data.stage !== stage) {
          // The subject names one stage, the body another: not ours to run.
          ctx.log.warn(
            { subjectStage: stage, stage: message.data.stage },
            "stage request on another stage's subject; ignored",
          );
          return "ignored";
        }
        return runner.handle(message.data, ctx);
      },
    });
  }
}
