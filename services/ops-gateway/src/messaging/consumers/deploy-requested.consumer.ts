import { StageRequested } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { DeploymentService } from "../../services/deployment.service.js";

/**
 * `stage.requested.v1.DEPLOY` from the engine. Records the deployment once per (pipeline, attempt)
 * and acks; the worker creates it at ops. A repeated request gets the last event again.
 */
export function addDeployRequestedConsumer(
  consumers: ConsumerGroup,
  deps: { service: DeploymentService; onRecorded: () => void },
): void {
  consumers.add({
    durable: "ops-gateway-deploy-requested",
    def: StageRequested,
    suffix: "DEPLOY",
    async handle(message, ctx) {
      const result = await deps.service.requestDeployment(message, ctx.log);
      if (result === "done") deps.onRecorded();
      return result;
    },
  });
}
