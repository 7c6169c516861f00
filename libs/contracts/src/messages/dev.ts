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

/**
 * A release was recorded (tag created, iteration_phase row written). The durable twin of the
 * PROCEED_ITERATION request: if the engine did not answer the request, it acts on this event, and
 * both paths are idempotent per iterationPhaseId.
 */
export const ReleaseRequested = defineMessage({
  type: "dev.release_requested.v1",
  kind: "event",
  data: z.object({
    iterationId: z.number().int().positive(),
    iterationPhaseId: z.number().int().positive(),
    appId: z.number().int().positive(),
    team: z.string(),
    tag: z.string(),
    branch: z.string(),
    commitId: z.string().nullable(),
    rollback: z.boolean(),
    actor: Actor,
  }),
  publisher: "dev-svc",
  consumers: ["pipeline-engine"],
  description:
    "A release was recorded; the engine moves the iteration to RELEASE and creates the phase pipeline.",
});
