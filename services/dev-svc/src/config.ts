import { isAbsolute } from "node:path";
import { z } from "zod";
import { WebhookBodyLimitBytes } from "@procode/contracts";
import { BaseConfig, KeyRing, requireAuthConfig } from "@procode/service-kit";

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** Hosts (`host` or `host:port`, comma-separated), e.g. `git.internal:8443,127.0.0.1:9000`. */
const hostList = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean),
  );

const ms = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** dev-svc's environment (parsed once, in main.ts). */
export const Config = BaseConfig.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8082),
  /**
   * Key ring sealing credential tokens, and opening the webhook secrets app-svc seals (the same ring):
   * `<id>:<base64 of 32 bytes>[,...]`; the first key seals, every key opens (rotation: put the new key
   * first, run `pnpm --filter @procode/dev-svc reencrypt`, then drop the old one).
   */
  ENCRYPTION_KEYS: z.string().superRefine((v, ctx) => {
    try {
      new KeyRing(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/^ENCRYPTION_KEYS: /, "") });
    }
  }),
  /** Budget of one git provider call, retries included (30 s). */
  GIT_TIMEOUT_MS: ms(100, 300000).default(30000),
  /** Retries of a provider call after a network error, 5xx or 429 (3); never after other 4xx. */
  GIT_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  /** First retry delay; each further retry doubles it (with jitter). */
  GIT_RETRY_BASE_MS: ms(1, 60000).default(500),
  /** Provider APIs derived from repository URLs may use plain http (off by default: https only). */
  GIT_ALLOW_HTTP: booleanFlag.default(false),
  /**
   * Hosts (`host` or `host:port`, comma-separated) a provider call may reach although they are
   * loopback, private or link-local: an in-house GitLab on a private network, local emulators.
   */
  GIT_ALLOWED_HOSTS: hostList,
  /**
   * Directory of the LOCAL provider's repositories (`local://<name>` is `<root>/<name>` or
   * `<root>/<name>.git`). Unset: LOCAL repositories cannot be bound.
   */
  LOCAL_GIT_ROOT: z
    .string()
    .refine((v) => isAbsolute(v), "must be an absolute path")
    .optional(),
  /** How long the LOCAL post-receive hook waits for dev-svc before it gives up (the push never fails). */
  LOCAL_HOOK_TIMEOUT_MS: ms(100, 60000).default(5000),
  /** How often the binder looks for repositories to bind or to retry. */
  BIND_POLL_MS: ms(50, 60000).default(1000),
  /** First delay after a failed binding; doubles with each failure up to BIND_RETRY_MAX_MS. */
  BIND_RETRY_BASE_MS: ms(10, 3600000).default(2000),
  BIND_RETRY_MAX_MS: ms(10, 86400000).default(300000),
  /** Webhook deliveries older than this (seconds) are refused as stale (LOCAL, GitLab signing token). */
  WEBHOOK_MAX_AGE_SEC: z.coerce.number().int().min(10).max(86400).default(300),
  /** Gitee's own window for X-Gitee-Timestamp (its documentation: one hour). */
  GITEE_WEBHOOK_MAX_AGE_SEC: z.coerce.number().int().min(10).max(86400).default(3600),
  /** Largest webhook body accepted (the gateway reads the same variable, so both refuse alike). */
  WEBHOOK_BODY_LIMIT_BYTES: WebhookBodyLimitBytes,
  /** How often the webhook worker looks for deliveries to process (it is also woken on receipt). */
  WEBHOOK_POLL_MS: ms(20, 60000).default(500),
  /** Deliveries (processed or rejected) are kept this many days. */
  WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /**
   * Branch and tag lists are served from the cache while younger than this; older ones are fetched
   * again, and kept as the stale answer when the provider is down. 0: always fetch.
   */
  REPO_CACHE_TTL_MS: ms(0, 86400000).default(15000),
  /**
   * The WebIDE link: `{cloneUrl}` and `{branch}` are replaced (URL-encoded), e.g.
   * `https://ide.example.com/#/?repo={cloneUrl}&ref={branch}`. Unset: no WebIDE (the clone URL and a
   * hint to use a local IDE are returned).
   */
  WEBIDE_URL_TEMPLATE: z
    .string()
    .refine((v) => /^https?:\/\//.test(v), "must be an http(s) URL template")
    .optional(),
  /** How long the WebIDE availability check may take before the WebIDE counts as down. */
  WEBIDE_CHECK_TIMEOUT_MS: ms(50, 30000).default(1500),
  /** How long a WebIDE availability answer is reused before the WebIDE is asked again. */
  WEBIDE_CHECK_CACHE_MS: ms(0, 600000).default(5000),
  // --- stage runners and scaffold templates ---
  /** Stage attempts (per stage: CODE_CHECK, BUILD, PACKAGE, QUALITY_GATE) this instance runs at once. */
  RUNNER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** Bound of one CODE_CHECK or BUILD attempt; past it the attempt is FAILED naming what it was doing. */
  STAGE_TIMEOUT_MS: ms(1000, 3600000).default(600000),
  /**
   * Lease on a running attempt, renewed every third of it: another replica takes an attempt over only
   * when its runner stopped renewing (it died) and a request for it comes again.
   */
  STAGE_LEASE_MS: ms(300, 600000).default(60000),
  /** Bound of one QUALITY_GATE attempt: the agent's unit tests, its start and every case. */
  QUALITY_GATE_TIMEOUT_MS: ms(1000, 3600000).default(900000),
  /**
   * The model named to an app's llm-rubric judge (its OpenAI-compatible URL is in the app's
   * QUALITY_GATE settings, `judgeUrl`).
   */
  QUALITY_JUDGE_MODEL: z.string().min(1).max(200).default("gpt-4o-mini"),
  /** An app's llm-rubric judge may be reached over plain http (off by default: https only). */
  QUALITY_JUDGE_ALLOW_HTTP: booleanFlag.default(false),
  /**
   * Hosts (`host` or `host:port`, comma-separated) an app's judge may be at although they are
   * loopback, private or link-local: a model server inside the installation's network, tests.
   * Any other such address is refused, as every URL a user gives is (the kit's net-guard).
   */
  QUALITY_JUDGE_ALLOWED_HOSTS: hostList,
  /** The Python 3 interpreter CODE_CHECK compiles the repository's files with (never runs them). */
  PYTHON_BIN: z.string().min(1).default("python3"),
  /** The image builder PACKAGE uses: the reference ops module's build endpoint (or any server of its API). */
  BUILDER_URL: z
    .string()
    .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), "must be an http(s) URL")
    .default("http://127.0.0.1:8090"),
  /** Budget of one call to the image builder. */
  BUILDER_CALL_TIMEOUT_MS: ms(100, 120000).default(10000),
  /** Pause between two build status calls. */
  BUILD_POLL_MS: ms(10, 60000).default(2000),
  /** How long a build may take before PACKAGE fails (retryable). */
  BUILD_TIMEOUT_MS: ms(1000, 7200000).default(1800000),
  /** Registry and namespace of the images PACKAGE builds: `<IMAGE_REGISTRY>/<app name>:<tag>`. */
  IMAGE_REGISTRY: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/,
      "must be a registry host with an optional namespace, e.g. registry.example.com/team",
    )
    .default("registry.local/procode"),
  /** Directory of the scaffold templates (default: the templates shipped with dev-svc). */
  SCAFFOLD_TEMPLATES_DIR: z
    .string()
    .refine((v) => isAbsolute(v), "must be an absolute path")
    .optional(),
  /**
   * Where people reach the platform (the gateway, which serves the console): commit statuses link to
   * the console's page of the pipeline. Unset: statuses carry no link.
   */
  PUBLIC_BASE_URL: z
    .string()
    .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), "must be an http(s) URL")
    .transform((v) => v.replace(/\/+$/, ""))
    .optional(),
  /** How often the release asker asks the engine again about releases it has not answered. */
  RELEASE_ASK_MS: ms(10, 600000).default(2000),
  /** Commit status worker period (also woken by every new state). */
  COMMIT_STATUS_POLL_MS: ms(10, 60000).default(1000),
  /** Delay before pushing a status again after the provider could not be reached (doubles up to the max). */
  COMMIT_STATUS_RETRY_BASE_MS: ms(10, 3600000).default(2000),
  COMMIT_STATUS_RETRY_MAX_MS: ms(10, 3600000).default(300000),
  /** Pushes of one status before giving up on an unreachable provider (about a day at the defaults). */
  COMMIT_STATUS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10000).default(300),
}).superRefine(requireAuthConfig);
export type Config = z.infer<typeof Config>;
