import { z } from "zod";
import { defineMessage, Actor } from "../message.js";

export const IterationCreated = defineMessage({
  type: "dev.iteration_created.v1",
  kind: "event",
  data: z.object({
    iterationId: z.number().int().positive(),
    appId: z.number().int().positive(),
    team: z.string(),
    name: z.string(),
    sourceBranch: z.string(),
    actor: Actor,
  }),
  publisher: "dev-svc",
  consumers: ["pipeline-engine"],
  description: "An iteration was created; the engine creates its ITERATION pipeline and starts it at once.",
});
