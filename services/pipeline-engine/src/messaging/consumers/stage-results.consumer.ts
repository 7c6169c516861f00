import {
  DeploymentFinished,
  DeploymentStarted,
  DeploymentWaiting,
  StageCompleted,
  StageWaiting,
} from "@procode/contracts";
import type { ConsumerSpec } from "@procode/service-kit";
import type { CommandExecutor } from "../../services/command-executor.js";

/**
 * Results of stage work: stage.completed and stage.waiting (CODE_CHECK, BUILD, PACKAGE from the
 * runners) and the ops.deployment_* events (DEPLOY, from ops-gateway). Many are handled at once and applied in
 * batched transactions. A result for another attempt, a duplicate or one for a finished pipeline
 * is acked without effect; one for a pipeline not known yet is retried later.
 */
export function stageResultConsumers(
  executor: CommandExecutor,
  concurrency: number,
): [
  ConsumerSpec<typeof StageCompleted>,
  ConsumerSpec<typeof StageWaiting>,
  ConsumerSpec<typeof DeploymentStarted>,
  ConsumerSpec<typeof DeploymentWaiting>,
  ConsumerSpec<typeof DeploymentFinished>,
] {
  return [
    {
      durable: "pipeline-engine-stage-completed",
      def: StageCompleted,
      concurrency,
      handle: (m, ctx) =>
        executor.submit({
          kind: "stageCompleted",
          data: m.data,
          deliveryCount: ctx.deliveryCount,
          correlationId: ctx.correlationId,
        }),
    },
    {
      durable: "pipeline-engine-stage-waiting",
      def: StageWaiting,
      concurrency,
      handle: (m, ctx) =>
        executor.submit({
          kind: "stageWaiting",
          data: m.data,
          deliveryCount: ctx.deliveryCount,
          correlationId: ctx.correlationId,
        }),
    },
    {
      durable: "pipeline-engine-deployment-started",
      def: DeploymentStarted,
      concurrency,
      handle: (m, ctx) =>
        executor.submit({
          kind: "deploymentStarted",
          data: m.data,
          deliveryCount: ctx.deliveryCount,
          correlationId: ctx.correlationId,
        }),
    },
    {
      durable: "pipeline-engine-deployment-waiting",
      def: DeploymentWaiting,
      concurrency,
      handle: (m, ctx) =>
        executor.submit({
          kind: "deploymentWaiting",
          data: m.data,
          deliveryCount: ctx.deliveryCount,
          correlationId: ctx.correlationId,
        }),
    },
    {
      durable: "pipeline-engine-deployment-finished",
      def: DeploymentFinished,
      concurrency,
      handle: (m, ctx) =>
        executor.submit({
          kind: "deploymentFinished",
          data: m.data,
          deliveryCount: ctx.deliveryCount,
          correlationId: ctx.correlationId,
        }),
    },
  ];
}
