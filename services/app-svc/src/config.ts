import { isAbsolute } from "node:path";
import { z } from "zod";
import { BaseConfig, KeyRing, requireAuthConfig } from "@procode/service-kit";

const hostList = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean),
  );

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** app-svc's environment (parsed once, in main.ts). */
export const Config = BaseConfig.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  /**
   * Key ring that seals each app's webhook secret: `<id>:<base64 of 32 bytes>[,...]`, the first key
   * seals, every key opens. dev-svc holds the same ring to unseal the secret it installs on the repo.
   */
  ENCRYPTION_KEYS: z.string().superRefine((v, ctx) => {
    try {
      new KeyRing(v);
    } catch (err) {
      // KeyRing's messages name the key id and the problem, never key material.
      ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/^ENCRYPTION_KEYS: /, "") });
    }
  }),
  /** Where callers reach the platform (the gateway); webhook URLs are built from it. */
  PUBLIC_BASE_URL: z
    .string()
    .url()
    .refine((v) => /^https?:\/\//.test(v), "must be an http(s) URL")
    .transform((v) => v.replace(/\/+$/, ""))
    .default("http://127.0.0.1:8080"),
  /** Repository probes may use plain http (off by default: https only). */
  GIT_ALLOW_HTTP: booleanFlag.default(false),
  /**
   * Hosts (`host` or `host:port`, comma-separated) a repository probe may reach even though they are
   * loopback, private or link-local: an in-house GitLab on a private network, local emulators.
   */
  GIT_ALLOWED_HOSTS: hostList,
  /** Time a repository probe may take before the repository counts as unreachable (1003). */
  GIT_PROBE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(5000),
  /**
   * Directory holding the LOCAL provider's repositories (`local://<name>` is `<root>/<name>` or
   * `<root>/<name>.git`). Unset: local:// repositories are refused.
   */
  LOCAL_GIT_ROOT: z
    .string()
    .refine((v) => isAbsolute(v), "must be an absolute path")
    .optional(),
  /** Notification targets may use plain http (off by default: https only). */
  NOTIFICATION_ALLOW_HTTP: booleanFlag.default(false),
  /**
   * Hosts (`host` or `host:port`, comma-separated) a notification may be sent to even though they are
   * loopback, private or link-local: a receiver inside the installation's network, tests.
   */
  NOTIFICATION_ALLOWED_HOSTS: hostList,
  /** Time one delivery attempt may take (connect, send, answer) before it counts as failed. */
  NOTIFICATION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(10000),
  /** Delay before the second attempt; it doubles with each attempt (with jitter) up to the cap. */
  NOTIFICATION_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3600000).default(5000),
  /** Longest delay between two attempts. */
  NOTIFICATION_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86400000).default(3600000),
  /** How long after its event a delivery is still tried; then it is FAILED. */
  NOTIFICATION_RETRY_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(7 * 86400000)
    .default(86400000),
  /** Pause of the delivery worker between two passes that found nothing due. */
  NOTIFICATION_POLL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  /** Deliveries sent at once by one replica. */
  NOTIFICATION_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(8),
}).superRefine(requireAuthConfig);
export type Config = z.infer<typeof Config>;
