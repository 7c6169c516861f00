import { KeyRing, type ServiceDefinition, type ServiceDeps, type ServiceParts } from "@procode/service-kit";
import { Config } from "./config.js";
import { registerAppRoutes } from "./http/routes/apps.routes.js";
import { registerNotificationRoutes } from "./http/routes/notifications.routes.js";
import { createCredentialCheck } from "./integrations/credential-check.js";
import { createRepositoryProbe } from "./integrations/repository-probe.js";
import { createWebhookSender } from "./integrations/webhook-sender.js";
import { addNotificationEventConsumers } from "./messaging/consumers/notification-events.consumer.js";
import { AppService } from "./services/app.service.js";
import { NotificationDeliveryWorker } from "./services/notification-delivery.js";
import { NotificationService } from "./services/notification.service.js";
import { migrations } from "./store/migrations.js";

/**
 * Registers app-svc's routes on the kit's app; never listens. It asks dev-svc about credentials
 * (CHECK_CREDENTIAL), consumes pipeline-engine's pipeline and iteration events to notify the apps'
 * subscribers, and runs the worker that delivers those notifications.
 */
async function buildApp(deps: ServiceDeps<Config>): Promise<ServiceParts> {
  const { config } = deps;
  const probe = createRepositoryProbe({
    policy: { allowHttp: config.GIT_ALLOW_HTTP, allowHosts: config.GIT_ALLOWED_HOSTS },
    timeoutMs: config.GIT_PROBE_TIMEOUT_MS,
    localRoot: config.LOCAL_GIT_ROOT,
  });
  const keyRing = new KeyRing(config.ENCRYPTION_KEYS);
  const apps = new AppService({
    db: deps.db,
    outbox: deps.outbox,
    log: deps.log,
    keyRing,
    probe,
    checkCredential: createCredentialCheck(deps.nats, config.RPC_TIMEOUT_MS, deps.log),
    publicBaseUrl: config.PUBLIC_BASE_URL,
    localEnabled: config.LOCAL_GIT_ROOT !== undefined,
  });
  registerAppRoutes(deps.app, apps, deps.idempotency);

  const policy = { allowHttp: config.NOTIFICATION_ALLOW_HTTP, allowHosts: config.NOTIFICATION_ALLOWED_HOSTS };
  const worker = new NotificationDeliveryWorker({
    db: deps.db,
    outbox: deps.outbox,
    log: deps.log,
    keyRing,
    sender: createWebhookSender({ policy, timeoutMs: config.NOTIFICATION_TIMEOUT_MS }),
    retry: { baseMs: config.NOTIFICATION_RETRY_BASE_MS, capMs: config.NOTIFICATION_RETRY_MAX_MS },
    timeoutMs: config.NOTIFICATION_TIMEOUT_MS,
    pollMs: config.NOTIFICATION_POLL_MS,
    concurrency: config.NOTIFICATION_CONCURRENCY,
  });
  const notifications = new NotificationService({
    db: deps.db,
    outbox: deps.outbox,
    log: deps.log,
    keyRing,
    policy,
    retryWindowMs: config.NOTIFICATION_RETRY_WINDOW_MS,
    onDeliveries: () => worker.wake(),
  });
  registerNotificationRoutes(deps.app, notifications);
  addNotificationEventConsumers(deps.consumers, notifications);
  return {
    start: async () => worker.start(),
    stop: () => worker.stop(),
  };
}

export const service: ServiceDefinition<Config> = {
  name: "app-svc",
  schema: "app",
  configSchema: Config,
  migrations,
  build: buildApp,
};
