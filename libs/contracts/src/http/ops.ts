import { z } from "zod";
import { DeployConfig } from "../settings.js";

/**
 * The ops module's API. ops-gateway is its only client; the reference ops module
 * implements it. Responses use the same `{code, data}` envelope (message optional there).
 */
export const OpsEnvelope = <T extends z.ZodType>(data: T) =>
  z.object({ code: z.number().int(), message: z.string().optional(), data: data.nullable().optional() });

export const CreateDeployRequest = z.object({
  appId: z.number().int().positive(),
  image: z.string().min(1).max(500),
  config: DeployConfig,
});
export type CreateDeployRequest = z.infer<typeof CreateDeployRequest>;

/** Statuses are kept as strings: any ops server may add its own; SUCCESS and FAILED are terminal. */
export const CreateDeployResponse = z.object({ deployId: z.string().min(1), status: z.string() });
export type CreateDeployResponse = z.infer<typeof CreateDeployResponse>;

export const DeployStatusResponse = z.object({
  deployId: z.string(),
  status: z.string(),
  message: z.string().optional().default(""),
});
export type DeployStatusResponse = z.infer<typeof DeployStatusResponse>;

/** The body of the ops module's callback. */
export const DeployCallback = z
  .object({
    deployId: z.string().min(1).max(200),
    status: z
      .string()
      .min(1)
      .max(50)
      .meta({ description: "SUCCESS, FAILED and CANCELLED end the deployment; others are progress" }),
    message: z.string().max(5000).optional().default(""),
    timestamp: z.string().meta({ description: "When the ops module sent it (ISO 8601 in the seed)" }),
  })
  .meta({
    id: "DeployCallback",
    description: "The body of the ops module's callback",
    examples: [
      { deployId: "deploy-xxx", status: "SUCCESS", message: "deployed", timestamp: "2026-02-27T10:10:00Z" },
    ],
  });
export type DeployCallback = z.infer<typeof DeployCallback>;

export const DeployCallbackResponse = z
  .object({
    deployId: z.string(),
    accepted: z.boolean(),
    /** What the callback did: APPLIED (first terminal status), RECORDED (progress or audit only). */
    effect: z
      .enum(["APPLIED", "RECORDED"])
      .meta({ description: "APPLIED: the first terminal status; RECORDED: progress, or a repeat" }),
  })
  .meta({ id: "DeployCallbackResponse", description: "What the callback did" });
export type DeployCallbackResponse = z.infer<typeof DeployCallbackResponse>;

export const OPS_TERMINAL_STATUSES = ["SUCCESS", "FAILED", "CANCELLED"] as const;
export function isTerminalOpsStatus(status: string): boolean {
  return (OPS_TERMINAL_STATUSES as readonly string[]).includes(status.toUpperCase());
}

/**
 * Callback authentication: HMAC-SHA256 with the shared secret over
 * `<timestamp>.<raw body>`, hex, sent as `sha256=<hex>`; the timestamp (unix seconds) must be
 * within five minutes of the receiver's clock.
 */
export const OPS_SIGNATURE_HEADER = "x-ops-signature";
export const OPS_TIMESTAMP_HEADER = "x-ops-timestamp";
export const OPS_REPLAY_WINDOW_SECONDS = 300;

/**
 * Sent with `POST /deploy/create` and `POST /build/create`: a create repeated with the same key
 * (after an answer that was lost) asks for the same deployment again. Servers that do not know the
 * header ignore it.
 */
export const OPS_IDEMPOTENCY_HEADER = "idempotency-key";

/**
 * `POST /deploy/{id}/cancel`: not in the ops module's API (the reference ops module offers it); a server
 * without it answers 404 or 405, which ops-gateway takes as "cannot be stopped from here".
 */
export const CancelDeployResponse = z.object({ deployId: z.string(), status: z.string() });
export type CancelDeployResponse = z.infer<typeof CancelDeployResponse>;

/** Image builder API of the reference ops module: same shape as deployments. */
export const CreateBuildRequest = z.object({
  appId: z.number().int().positive(),
  commitId: z.string().min(1),
  dockerfile: z.string().min(1),
  image: z.string().min(1).max(500),
  repoUrl: z.string().optional(),
});
export type CreateBuildRequest = z.infer<typeof CreateBuildRequest>;

export const CreateBuildResponse = z.object({ buildId: z.string().min(1), status: z.string() });
export type CreateBuildResponse = z.infer<typeof CreateBuildResponse>;

export const BuildStatusResponse = z.object({
  buildId: z.string(),
  status: z.string(),
  message: z.string().optional().default(""),
  image: z.string().optional(),
  digest: z.string().optional(),
});
export type BuildStatusResponse = z.infer<typeof BuildStatusResponse>;

/** What one call to an ops-style API (the ops module's deploy and build endpoints) gave. */
export type OpsAnswer<T> =
  /** It answered as the API says. */
  | { kind: "ok"; data: T }
  /** It did not answer usefully: network error, timeout, 5xx, 429, or an answer that is not the API's. */
  | { kind: "unavailable"; reason: string }
  /** It answered, and said no (a 4xx, or an envelope with a non-zero code). */
  | { kind: "refused"; httpStatus: number; message: string };

/** What a call does, which decides what an error status means (see the kit's ops client). */
export type OpsOperation = "create" | "status" | "cancel";

const lenientMessage = z
  .string()
  .nullish()
  .transform((v) => v ?? "");

export const LenientDeployStatus = DeployStatusResponse.extend({ message: lenientMessage });
export const LenientBuildStatus = BuildStatusResponse.extend({
  message: lenientMessage,
  image: z.string().nullish(),
  digest: z.string().nullish(),
});
