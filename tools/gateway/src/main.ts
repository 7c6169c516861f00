import path from "node:path";
import { z } from "zod";
import { DEFAULT_BODY_LIMIT_BYTES, WebhookBodyLimitBytes } from "@procode/contracts";
import { ENV_NAME_PATTERN } from "@procode/contracts";
import {
  createLogger,
  createTokenVerifier,
  loadConfig,
  NatsHandle,
  requireAuthConfig,
} from "@procode/service-kit";
import { createGateway } from "./gateway.js";

const Config = z
  .object({
    /** Where the gateway listens (8080). */
    GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    GATEWAY_HOST: z.string().default("127.0.0.1"),
    APP_SVC_URL: z.url().default("http://127.0.0.1:8081"),
    DEV_SVC_URL: z.url().default("http://127.0.0.1:8082"),
    PIPELINE_ENGINE_URL: z.url().default("http://127.0.0.1:8083"),
    OPS_GATEWAY_URL: z.url().default("http://127.0.0.1:8084"),
    /** Where callers reach the gateway; the servers entry of /openapi.json (default: where it listens). */
    PUBLIC_BASE_URL: z.url().optional(),
    /** How long the merged API document is served before the services' documents are fetched again. */
    GATEWAY_OPENAPI_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    /** How long a caller has to send a whole request body (then 408 and the connection closed). */
    GATEWAY_BODY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    /** dev-svc's webhook body limit (the same variable dev-svc reads), so both refuse alike. */
    WEBHOOK_BODY_LIMIT_BYTES: WebhookBodyLimitBytes,
    /** An upstream that has not answered within this time gets a 503 envelope. */
    GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(30000),
    /** The built web console it serves at `/` (from source and from dist/ alike: tools/console/dist). */
    CONSOLE_DIR: z
      .string()
      .min(1)
      .default(path.resolve(import.meta.dirname, "../../console/dist")),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** NATS, for `GET /events` (the live events of the LIVE stream); the services' settings. */
    NATS_URL: z.string().default("nats://127.0.0.1:4222"),
    NATS_TOKEN: z.string().optional(),
    NATS_USER: z.string().optional(),
    NATS_PASSWORD: z.string().optional(),
    ENV_NAME: z.string().regex(ENV_NAME_PATTERN, "lowercase letters, digits, - and _").default("procode"),
    /** How `GET /events` checks tokens (it is served here, not by a service): the services' settings. */
    AUTH_JWT_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
    AUTH_JWKS_URL: z.url().optional(),
    AUTH_ISSUER: z.string().optional(),
    AUTH_AUDIENCE: z.string().optional(),
    /** A comment line on every open `GET /events` this often, so proxies keep it open (15 s). */
    EVENTS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  })
  .superRefine(requireAuthConfig);

let config: z.infer<typeof Config>;
try {
  config = loadConfig(Config);
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`);
  process.exit(1);
}
const log = createLogger({ name: "gateway", level: config.LOG_LEVEL });
const nats = await NatsHandle.connect({
  url: config.NATS_URL,
  name: "gateway",
  env: config.ENV_NAME,
  log,
  ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
  ...(config.NATS_USER ? { user: config.NATS_USER, password: config.NATS_PASSWORD ?? "" } : {}),
});
const verifyToken = createTokenVerifier({
  ...(config.AUTH_JWT_SECRET ? { jwtSecret: config.AUTH_JWT_SECRET } : {}),
  ...(config.AUTH_JWKS_URL ? { jwksUrl: config.AUTH_JWKS_URL } : {}),
  ...(config.AUTH_ISSUER ? { issuer: config.AUTH_ISSUER } : {}),
  ...(config.AUTH_AUDIENCE ? { audience: config.AUTH_AUDIENCE } : {}),
});
const app = await createGateway({
  events: { nats, verifyToken, heartbeatMs: config.EVENTS_HEARTBEAT_MS },
  log,
  timeoutMs: config.GATEWAY_TIMEOUT_MS,
  publicBaseUrl: config.PUBLIC_BASE_URL ?? `http://${config.GATEWAY_HOST}:${config.GATEWAY_PORT}`,
  openApiTtlMs: config.GATEWAY_OPENAPI_TTL_MS,
  consoleDir: config.CONSOLE_DIR,
  bodyTimeoutMs: config.GATEWAY_BODY_TIMEOUT_MS,
  bodyLimits: { default: DEFAULT_BODY_LIMIT_BYTES, webhooks: config.WEBHOOK_BODY_LIMIT_BYTES },
  upstreams: {
    "app-svc": config.APP_SVC_URL,
    "dev-svc": config.DEV_SVC_URL,
    "pipeline-engine": config.PIPELINE_ENGINE_URL,
    "ops-gateway": config.OPS_GATEWAY_URL,
  },
});
const url = await app.listen({ port: config.GATEWAY_PORT, host: config.GATEWAY_HOST });
log.info({ url }, "gateway listening");
const stop = () =>
  void app
    .close()
    .then(() => nats.close())
    .then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
