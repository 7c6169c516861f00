import { DeploymentCancelRequested } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { DeploymentService } from "../../services/deployment.service.js";

/** `pipeline.deployment_cancel_requested.v1`: stop following the deployment and ask ops to stop it. */
export function addDeploymentCancelRequestedConsumer(
  consumers: ConsumerGroup,
  deps: { service: DeploymentService; onRecorded: () => void },
): void {
  consumers.add({
    durable: "ops-gateway-deployment-cancel-requested",
    def: DeploymentCancelRequested,
    async handle(message, ctx) {
      const result = await deps.service.cancelDeployment(message, ctx.log);
      if (result === "done") deps.onRecorded();
      return result;
    },
  });
}
