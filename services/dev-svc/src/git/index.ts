import { Counter } from "prom-client";
import { KeyRing, publicRouteRateLimit, type ServiceDeps } from "@procode/service-kit";
import type { Config } from "../config.js";
import { registerCredentialRoutes } from "../http/routes/credentials.routes.js";
import { registerRepoRoutes } from "../http/routes/repo.routes.js";
import { registerWebhookRoutes } from "../http/routes/webhooks.routes.js";
import type { CallPolicy } from "../integrations/git/call-policy.js";
import { createProviderFactory, type ProviderFactory } from "../integrations/git/factory.js";
import { createGuardedHttp } from "../integrations/git/http.js";
import { serveCheckCredential } from "../messaging/check-credential.rpc.js";
import { addAppEventConsumers } from "../messaging/consumers/app-events.consumer.js";
import { AppProjectionService } from "./app-projection.service.js";
import { CredentialService } from "./credentials.service.js";
import { RepoBinder } from "./repo-binder.service.js";
import { RepoReads } from "./repo-reads.service.js";
import { RepositoryAccess } from "./repository-access.js";
import { Secrets } from "./secrets.js";
import { WebhookDeliveries } from "./webhook-deliveries.js";
import { WebhookReceiver } from "./webhook-receiver.service.js";
import { WebhookWorker } from "./webhook-worker.service.js";

/**
 * dev-svc's git integration, built once per service instance: providers, credentials, repository
 * bindings, webhooks and repository reads. Iterations and stage runners build on what it exposes
 * (`access` for a provider with its credential, `binder.addBindStep`).
 */
export interface GitIntegration {
  secrets: Secrets;
  policy: CallPolicy;
  providers: ProviderFactory;
  access: RepositoryAccess;
  credentials: CredentialService;
  binder: RepoBinder;
  webhooks: WebhookWorker;
  reads: RepoReads;
  start(): void;
  stop(): Promise<void>;
}

export async function createGitIntegration(deps: ServiceDeps<Config>): Promise<GitIntegration> {
  const { config, log, db, metrics } = deps;
  const secrets = new Secrets(new KeyRing(config.ENCRYPTION_KEYS));
  const policy: CallPolicy = {
    timeoutMs: config.GIT_TIMEOUT_MS,
    maxRetries: config.GIT_MAX_RETRIES,
    retryBaseMs: config.GIT_RETRY_BASE_MS,
  };
  const calls = new Counter({
    name: "git_provider_calls_total",
    help: "Git provider call attempts by provider and outcome (ok, retry, failed) and failure",
    labelNames: ["provider", "outcome", "failure"],
    registers: [metrics.registry],
  });
  const http = createGuardedHttp({ allowHttp: config.GIT_ALLOW_HTTP, allowHosts: config.GIT_ALLOWED_HOSTS });
  const providers = createProviderFactory({
    policy,
    fetch: http.fetch,
    localRoot: config.LOCAL_GIT_ROOT,
    localHookTimeoutMs: config.LOCAL_HOOK_TIMEOUT_MS,
    observe: (e) =>
      calls
        .labels(
          e.provider.startsWith("local://") ? "LOCAL" : (e.provider.split(" ")[0] ?? "?"),
          e.outcome,
          e.failure ?? "",
        )
        .inc(),
  });
  const access = new RepositoryAccess(db, providers, secrets);
  const binder = new RepoBinder(db, deps.outbox, access, secrets, log.child({ part: "binder" }), metrics, {
    pollMs: config.BIND_POLL_MS,
    retryBaseMs: config.BIND_RETRY_BASE_MS,
    retryMaxMs: config.BIND_RETRY_MAX_MS,
    // A bind makes a handful of provider calls (more with the scaffold push), each within GIT_TIMEOUT_MS.
    leaseMs: config.GIT_TIMEOUT_MS * 10 + 10000,
  });
  const webhooks = new WebhookWorker(db, deps.outbox, log.child({ part: "webhooks" }), {
    pollMs: config.WEBHOOK_POLL_MS,
    retentionDays: config.WEBHOOK_RETENTION_DAYS,
  });
  const credentials = new CredentialService(db, deps.outbox, secrets, log, () => binder.wake());
  const reads = new RepoReads(db, access, log, {
    cacheTtlMs: config.REPO_CACHE_TTL_MS,
    webIdeTemplate: config.WEBIDE_URL_TEMPLATE,
    webIdeCheckTimeoutMs: config.WEBIDE_CHECK_TIMEOUT_MS,
    webIdeCheckCacheMs: config.WEBIDE_CHECK_CACHE_MS,
  });
  const receiver = new WebhookReceiver(
    db,
    deps.outbox,
    secrets,
    log,
    { maxAgeSec: config.WEBHOOK_MAX_AGE_SEC, giteeMaxAgeSec: config.GITEE_WEBHOOK_MAX_AGE_SEC },
    () => webhooks.wake(),
  );
  const projection = new AppProjectionService(deps.outbox, log, () => binder.wake());

  registerCredentialRoutes(deps.app, credentials, deps.idempotency);
  registerRepoRoutes(deps.app, reads, new WebhookDeliveries(db));
  await registerWebhookRoutes(deps.app, receiver, {
    bodyLimit: config.WEBHOOK_BODY_LIMIT_BYTES,
    rateLimit: publicRouteRateLimit(config),
  });
  addAppEventConsumers(deps.consumers, projection);

  let rpc: ReturnType<typeof serveCheckCredential> | undefined;
  return {
    secrets,
    policy,
    providers,
    access,
    credentials,
    binder,
    webhooks,
    reads,
    start() {
      rpc = serveCheckCredential(deps.nats, credentials, log);
      binder.start();
      webhooks.start();
    },
    async stop() {
      await rpc?.drain().catch(() => undefined);
      await binder.stop();
      await webhooks.stop();
      await http.close();
    },
  };
}
