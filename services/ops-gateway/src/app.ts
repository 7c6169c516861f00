import { RPC } from "@procode/contracts";
import { Counter } from "prom-client";
import {
  publicRouteRateLimit,
  StageLogStore,
  type ServiceDefinition,
  type ServiceDeps,
  type ServiceParts,
} from "@procode/service-kit";
import { Config } from "./config.js";
import { registerCallbackRoutes } from "./http/callback.routes.js";
import { createOpsApi } from "./integrations/ops-api.js";
import { addDeployRequestedConsumer } from "./messaging/consumers/deploy-requested.consumer.js";
import { addDeploymentCancelRequestedConsumer } from "./messaging/consumers/deployment-cancel-requested.consumer.js";
import { DeploymentWorker } from "./services/deployment-worker.js";
import { DeploymentService } from "./services/deployment.service.js";
import { migrations } from "./store/migrations.js";

/** Registers ops-gateway's routes, consumers and background work on the kit's app; never listens. */
async function buildApp(deps: ServiceDeps<Config>): Promise<ServiceParts> {
  const { app, config, consumers, log, metrics, db, outbox, nats } = deps;
  const opsCalls = new Counter({
    name: "ops_calls_total",
    help: "Calls to the ops module by operation (create, status, cancel) and result (ok, unavailable, refused)",
    labelNames: ["operation", "result"],
    registers: [metrics.registry],
  });
  const finished = new Counter({
    name: "deployments_finished_total",
    help: "Deployments ended, by outcome and by the path that saw it first",
    labelNames: ["outcome", "via"],
    registers: [metrics.registry],
  });
  const ops = createOpsApi({
    baseUrl: config.OPS_BASE_URL,
    timeoutMs: config.OPS_TIMEOUT_MS,
    onCall: (op, result) => opsCalls.labels(op, result).inc(),
  });
  const logs = new StageLogStore("ops");
  const service = new DeploymentService({
    logs,
    db,
    outbox,
    log,
    config,
    metrics: { finished: (outcome, via) => finished.labels(outcome, via).inc() },
  });
  const worker = new DeploymentWorker({ db, ops, service, log, config });
  const onRecorded = () => worker.wake();
  addDeployRequestedConsumer(consumers, { service, onRecorded });
  addDeploymentCancelRequestedConsumer(consumers, { service, onRecorded });
  await registerCallbackRoutes(app, {
    service,
    secret: config.OPS_CALLBACK_SECRET,
    rateLimit: publicRouteRateLimit(config),
  });
  log.info({ opsBaseUrl: config.OPS_BASE_URL, replica: config.OPS_REPLICA_ID }, "ops-gateway configured");
  let rpc: ReturnType<typeof logs.serveReads> | undefined;
  return {
    start: () => {
      // The engine reads this service's DEPLOY logs for GET /pipelines/{id}/logs.
      rpc = logs.serveReads(nats, { name: RPC.READ_OPS_STAGE_LOGS, queue: "ops-gateway", db, log });
      return worker.start();
    },
    stop: async () => {
      await rpc?.drain().catch(() => undefined);
      await worker.stop();
    },
  };
}

export const service: ServiceDefinition<Config> = {
  name: "ops-gateway",
  schema: "ops",
  configSchema: Config,
  migrations,
  build: buildApp,
};
