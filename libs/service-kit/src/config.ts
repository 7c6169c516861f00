import { z } from "zod";
import { ENV_NAME_PATTERN } from "@procode/contracts";

/** Thrown when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Variables every service reads. Services extend this schema with their own. */
export const BaseConfig = z.object({
  /** Port the HTTP API listens on. */
  PORT: z.coerce.number().int().min(0).max(65535),
  HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** PostgreSQL; each service keeps its tables in its own schema of this database. */
  DATABASE_URL: z.string().url().default("postgres://postgres@127.0.0.1:5432/procode"),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Optional NATS credentials: a token, or user + password. */
  NATS_TOKEN: z.string().optional(),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  /** Prefix of every subject and stream, so two installations can share a NATS cluster. */
  ENV_NAME: z.string().regex(ENV_NAME_PATTERN, "lowercase letters, digits, - and _").default("procode"),
  /** HS256 secret for bearer tokens; or AUTH_JWKS_URL for asymmetric tokens. One is required. */
  AUTH_JWT_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  AUTH_JWKS_URL: z.string().url().optional(),
  AUTH_ISSUER: z.string().optional(),
  AUTH_AUDIENCE: z.string().optional(),
  /** How long a request/reply to another service may take before the caller answers 503. */
  RPC_TIMEOUT_MS: z.coerce.number().int().min(50).max(60000).default(5000),
  /** How often the outbox relay looks for events the fast path did not publish. */
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60000).default(1000),
  /** How often the streams are checked for a loss (and at once after a reconnection to NATS). */
  OUTBOX_STREAM_CHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(30000),
  /** Time allowed for in-flight work on shutdown before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  /**
   * Peers whose X-Forwarded-For names the caller: `loopback` (the local gateway), addresses or CIDRs
   * separated by commas (an Ingress's network), or `false`. Public routes are rate-limited by the
   * caller's address, so a peer trusted here must set the header itself.
   */
  TRUST_PROXY: z
    .string()
    .default("loopback")
    .transform((v) => (v === "false" ? false : v === "true" ? true : v)),
  /** Requests one address may make to a public route (webhooks, the ops callback) per window. */
  PUBLIC_RATE_LIMIT_MAX: z.coerce.number().int().min(1).max(1_000_000).default(600),
  PUBLIC_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
});
export type BaseConfig = z.infer<typeof BaseConfig>;

/** The rate limit of a public route (its `config.rateLimit`), per caller address. */
export function publicRouteRateLimit(config: BaseConfig): { max: number; timeWindow: number } {
  return { max: config.PUBLIC_RATE_LIMIT_MAX, timeWindow: config.PUBLIC_RATE_LIMIT_WINDOW_MS };
}

/** Auth must be configured one way or the other. */
export function requireAuthConfig(
  v: { AUTH_JWT_SECRET?: string; AUTH_JWKS_URL?: string },
  ctx: z.RefinementCtx,
) {
  if (!v.AUTH_JWT_SECRET && !v.AUTH_JWKS_URL) {
    ctx.addIssue({
      code: "custom",
      path: ["AUTH_JWT_SECRET"],
      message: "set AUTH_JWT_SECRET or AUTH_JWKS_URL",
    });
  }
}

/**
 * Parses the environment once (in main.ts) and fails with a message naming each bad variable.
 * Empty strings count as unset, as in most .env tooling.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(environment)"}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
