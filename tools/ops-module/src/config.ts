import { z } from "zod";

/** The reference ops module's environment (parsed once, in main.ts). */
export const OpsModuleConfig = z.object({
  /** Port it listens on (8090 in the local platform; 0 picks a free one). */
  PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** ops-gateway's callback endpoint; empty with CALLBACK_SECRET unset turns callbacks off. */
  CALLBACK_URL: z.url().default("http://127.0.0.1:8084/deploy/callback"),
  /** Secret that signs callbacks; must equal ops-gateway's OPS_CALLBACK_SECRET. Unset: no callbacks. */
  CALLBACK_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  /** How long a deployment (and a build) takes unless told otherwise over /_control. */
  DEFAULT_DURATION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 3600_000)
    .default(3000),
  /** Benchmarks: every duration and delay is 0, whatever /_control says. */
  ZERO_DELAY: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
});
export type OpsModuleConfig = z.infer<typeof OpsModuleConfig>;
