import { KeyRing, type ServiceDefinition, type ServiceDeps, type ServiceParts } from "@procode/service-kit";
import { Config } from "./config.js";
import { registerAppRoutes } from "./http/routes/apps.routes.js";
import { createCredentialCheck } from "./integrations/credential-check.js";
import { createRepositoryProbe } from "./integrations/repository-probe.js";
import { AppService } from "./services/app.service.js";
import { migrations } from "./store/migrations.js";

/**
 * Registers app-svc's routes on the kit's app; never listens. app-svc consumes no messages; it asks
 * dev-svc about credentials (CHECK_CREDENTIAL).
 */
async function buildApp(deps: ServiceDeps<Config>): Promise<ServiceParts> {
  const { config } = deps;
  const probe = createRepositoryProbe({
    policy: { allowHttp: config.GIT_ALLOW_HTTP, allowHosts: config.GIT_ALLOWED_HOSTS },
    timeoutMs: config.GIT_PROBE_TIMEOUT_MS,
    localRoot: config.LOCAL_GIT_ROOT,
  });
  const apps = new AppService({
    db: deps.db,
    outbox: deps.outbox,
    log: deps.log,
    keyRing: new KeyRing(config.ENCRYPTION_KEYS),
    probe,
    checkCredential: createCredentialCheck(deps.nats, config.RPC_TIMEOUT_MS, deps.log),
    publicBaseUrl: config.PUBLIC_BASE_URL,
    localEnabled: config.LOCAL_GIT_ROOT !== undefined,
  });
  registerAppRoutes(deps.app, apps, deps.idempotency);
  return {};
}

export const service: ServiceDefinition<Config> = {
  name: "app-svc",
  schema: "app",
  configSchema: Config,
  migrations,
  build: buildApp,
};
