import { z } from "zod";
import { BaseConfig, requireAuthConfig } from "@procode/service-kit";

/** pipeline-engine's environment (parsed once, in main.ts). */
export const Config = BaseConfig.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8083),
  /** First delay before a stage request with no result yet is published again (same attempt). */
  STAGE_REPUBLISH_MS: z.coerce.number().int().min(50).max(600_000).default(10_000),
  /** The re-publish delay doubles up to this ceiling (also the nudge interval while DEPLOYING). */
  STAGE_REPUBLISH_MAX_MS: z.coerce.number().int().min(50).max(3_600_000).default(60_000),
  /** First delay of an AUTO retry of a failed stage; doubles per retry up to RETRY_MAX_MS. */
  RETRY_BASE_MS: z.coerce.number().int().min(0).max(600_000).default(2_000),
  RETRY_MAX_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /** How often the sweeper looks for due timers (retries, re-publishes, queued releases). */
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(20).max(60_000).default(500),
  /** Pipelines one sweep handles at most, in one transaction. */
  SWEEP_BATCH: z.coerce.number().int().min(1).max(5_000).default(200),
  /**
   * An app's release lease expires when its holder makes no progress this long, so a stuck or
   * crashed release never blocks the app's queue forever (a holder waiting at a MANUAL gate or for a
   * deployment within its deadline keeps the lease).
   */
  LEASE_TTL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
  /** A queued release checks the lease at least this often (the holder's end also wakes it at once). */
  QUEUE_RECHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** On start, every stage request still waiting for a result is re-published within this window. */
  STARTUP_REDRIVE_SPREAD_MS: z.coerce.number().int().min(0).max(600_000).default(3_000),
  /** Connections of the pool that serves GET /pipelines (apart from DB_POOL_MAX). */
  READ_POOL_MAX: z.coerce.number().int().min(1).max(100).default(4),
  /** Commands (results, actions) applied in one database transaction at most. */
  BATCH_MAX: z.coerce.number().int().min(1).max(2_000).default(200),
  /** Transactions of commands in flight at once. */
  BATCH_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /** Messages each result consumer handles at once (they are batched into transactions). */
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(128),
  /**
   * A result for a pipeline this engine has never heard of is deferred (RetryLaterError), at most this
   * many deliveries; then it is dropped with an error log (it cannot belong to this installation).
   */
  UNKNOWN_PIPELINE_MAX_DELIVERIES: z.coerce.number().int().min(1).max(10_000).default(30),
}).superRefine(requireAuthConfig);
export type Config = z.infer<typeof Config>;
