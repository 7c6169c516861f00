import { z } from "zod";
import { defineMessage } from "../message.js";

const DeploymentRef = {
  pipelineId: z.number().int().positive(),
  attempt: z.number().int().min(1),
};

export const DeploymentStarted = defineMessage({
  type: "ops.deployment_started.v1",
  kind: "event",
  data: z.object({
    ...DeploymentRef,
    deployId: z.string(),
    deadline: z.string(),
  }),
  publisher: "ops-gateway",
  consumers: ["pipeline-engine"],
  description:
    "The ops module accepted a deployment (deployId); the engine fires DEPLOY_START -> DEPLOYING. Sent again when ops answers after a waiting, and in answer to a repeated request for the same attempt.",
});

export const DeploymentWaiting = defineMessage({
  type: "ops.deployment_waiting.v1",
  kind: "event",
  data: z.object({
    ...DeploymentRef,
    deployId: z.string().nullable(),
    reason: z.string(),
    since: z.string(),
  }),
  publisher: "ops-gateway",
  consumers: ["pipeline-engine"],
  description:
    "The ops module does not answer; ops-gateway keeps trying. The engine shows deployStatus WAITING_OPS and fails nothing for that alone.",
});

export const DeploymentFinished = defineMessage({
  type: "ops.deployment_finished.v1",
  kind: "event",
  data: z.object({
    ...DeploymentRef,
    deployId: z.string(),
    outcome: z.enum(["SUCCESS", "FAILED", "TIMEOUT", "CANCELLED"]),
    message: z.string(),
    /**
     * Which path saw the terminal status first. CREATE: the ops module refused the deployment (or
     * the request could not be deployed at all); deployId is then empty when ops never gave one.
     */
    via: z.enum(["POLL", "CALLBACK", "TIMEOUT", "CANCEL", "CREATE"]),
    finishedAt: z.string(),
  }),
  publisher: "ops-gateway",
  consumers: ["pipeline-engine"],
  description:
    "The one outcome of a deployment, from whichever of poll and callback saw it first (or the timeout). The engine fires DEPLOY_SUCCESS or DEPLOY_FAILED.",
});
