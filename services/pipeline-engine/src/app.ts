import { Counter, Histogram } from "prom-client";
import type { ServiceDefinition, ServiceDeps, ServiceParts } from "@procode/service-kit";
import { Config } from "./config.js";
import type { EngineTimings } from "./domain/pipeline.model.js";
import { registerPipelineRoutes } from "./http/pipelines.routes.js";
import { appSettingsConsumers } from "./messaging/consumers/app-settings.consumer.js";
import { iterationCreatedConsumer } from "./messaging/consumers/iteration-created.consumer.js";
import { stageResultConsumers } from "./messaging/consumers/stage-results.consumer.js";
import { serveProceedIteration } from "./messaging/proceed-iteration.rpc.js";
import { CommandExecutor } from "./services/command-executor.js";
import { PipelineEngine } from "./services/pipeline-engine.service.js";
import { PipelineQueries } from "./services/pipeline-queries.js";
import { StageLogReader } from "./services/stage-logs.js";
import { Sweeper } from "./services/sweeper.js";
import { PipelineRepository } from "./store/pipeline.repository.js";
import { migrations } from "./store/migrations.js";

/** Registers pipeline-engine's routes, consumers and background work on the kit's app; never listens. */
async function buildApp(deps: ServiceDeps<Config>): Promise<ServiceParts> {
  const { config, log, db, outbox, consumers, app, nats, metrics } = deps;
  const timings: EngineTimings = {
    republishBaseMs: config.STAGE_REPUBLISH_MS,
    republishMaxMs: Math.max(config.STAGE_REPUBLISH_MS, config.STAGE_REPUBLISH_MAX_MS),
    retryBaseMs: config.RETRY_BASE_MS,
    retryMaxMs: Math.max(config.RETRY_BASE_MS, config.RETRY_MAX_MS),
    leaseTtlMs: config.LEASE_TTL_MS,
    queueRecheckMs: config.QUEUE_RECHECK_MS,
  };
  const transitions = new Counter({
    name: "pipeline_transitions_total",
    help: "State machine transitions applied (both pipeline types)",
    registers: [metrics.registry],
  });
  const batchSize = new Histogram({
    name: "pipeline_command_batch_size",
    help: "Commands applied per transaction",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [metrics.registry],
  });

  const repo = new PipelineRepository();
  const engine = new PipelineEngine({
    log,
    unknownPipelineMaxDeliveries: config.UNKNOWN_PIPELINE_MAX_DELIVERIES,
    queueRecheckMs: config.QUEUE_RECHECK_MS,
  });
  // eslint-disable-next-line prefer-const
  let sweeper: Sweeper;
  const executor = new CommandExecutor({
    engine,
    repo,
    outbox,
    log,
    timings,
    batchMax: config.BATCH_MAX,
    concurrency: config.BATCH_CONCURRENCY,
    transitions,
    batchSize,
    onDueTimers: () => sweeper.poke(),
  });
  sweeper = new Sweeper({
    engine,
    repo,
    outbox,
    orm: db,
    log,
    timings,
    intervalMs: config.SWEEP_INTERVAL_MS,
    batch: config.SWEEP_BATCH,
    redriveSpreadMs: config.STARTUP_REDRIVE_SPREAD_MS,
    transitions,
  });

  // REST reads have connections of their own, so they never wait behind the command transactions.
  const readPool = db.extraPool(config.READ_POOL_MAX, "reads");
  registerPipelineRoutes(
    app,
    new PipelineQueries(readPool, repo),
    executor,
    new StageLogReader(readPool, repo, nats, config.RPC_TIMEOUT_MS),
  );

  const [appCreated, configChanged] = appSettingsConsumers(db);
  const [completed, stageWaiting, started, waiting, finished] = stageResultConsumers(
    executor,
    config.CONSUMER_CONCURRENCY,
  );
  consumers
    .add(appCreated)
    .add(configChanged)
    .add(iterationCreatedConsumer(executor))
    .add(completed)
    .add(stageWaiting)
    .add(started)
    .add(waiting)
    .add(finished);

  let rpc: ReturnType<typeof serveProceedIteration> | undefined;
  return {
    async start() {
      rpc = serveProceedIteration(nats, executor, log);
      await sweeper.start();
    },
    async stop() {
      await rpc?.drain().catch(() => undefined);
      await sweeper.stop();
      await executor.idle();
    },
  };
}

export const service: ServiceDefinition<Config> = {
  name: "pipeline-engine",
  schema: "pipeline",
  configSchema: Config,
  migrations,
  build: buildApp,
};
