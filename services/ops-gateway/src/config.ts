import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { BaseConfig, requireAuthConfig } from "@procode/service-kit";

/** ops-gateway's environment (parsed once, in main.ts). */
export const Config = BaseConfig.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8084),
  /** Base URL of the ops module (docs/services/ops-gateway.md, "The ops API"): any server that speaks it. */
  OPS_BASE_URL: z
    .url()
    .default("http://127.0.0.1:8090")
    .transform((u) => u.replace(/\/+$/, "")),
  /** Shared secret the ops module signs callbacks with (HMAC-SHA256). */
  OPS_CALLBACK_SECRET: z.string().min(16, "must be at least 16 characters"),
  /** Time allowed for one call to the ops module (connect + answer); longer counts as "ops down". */
  OPS_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(10_000),
  /** First delay before calling ops again after a failed call; doubles per failure (with jitter). */
  OPS_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
  /** Longest delay between calls while ops is down. */
  OPS_RETRY_MAX_MS: z.coerce.number().int().min(10).max(3_600_000).default(60_000),
  /**
   * When set, used instead of the stage's pollInterval (whole seconds in the stage config); for
   * tests and benchmarks that need polls faster than once a second. Unset in production.
   */
  OPS_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).optional(),
  /** How often each replica looks for deployments that are due (a poll, a create retry, a cancel). */
  OPS_SCAN_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /**
   * How long a replica owns a deployment it took for one step. A replica that dies holding leases
   * delays those deployments by at most this long; must exceed OPS_TIMEOUT_MS so that a step never
   * outlives its lease (no deployment is polled by two replicas at once).
   */
  OPS_LEASE_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Steps (ops calls) one replica runs at once. */
  OPS_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(32),
  /** Times a cancel is sent to an ops module that does not answer before giving up on it. */
  OPS_CANCEL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
  /**
   * This replica's name in leases and the audit table; unique per running process. When a fixed
   * name is given (e.g. the pod name), a restarted replica takes its leases back at once.
   */
  OPS_REPLICA_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/, "letters, digits, . _ : - (at most 100)")
    .default(() => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`),
})
  .superRefine(requireAuthConfig)
  .superRefine((v, ctx) => {
    if (v.OPS_LEASE_MS <= v.OPS_TIMEOUT_MS + 1000) {
      ctx.addIssue({
        code: "custom",
        path: ["OPS_LEASE_MS"],
        message: `must exceed OPS_TIMEOUT_MS (${v.OPS_TIMEOUT_MS}) by at least 1000 ms`,
      });
    }
    if (v.OPS_RETRY_MAX_MS < v.OPS_RETRY_BASE_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["OPS_RETRY_MAX_MS"],
        message: `must be at least OPS_RETRY_BASE_MS (${v.OPS_RETRY_BASE_MS})`,
      });
    }
  });
export type Config = z.infer<typeof Config>;
