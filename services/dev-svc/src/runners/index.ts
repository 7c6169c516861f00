import { RPC } from "@procode/contracts";
import { StageLogStore, type ServiceDeps } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { GitIntegration } from "../git/index.js";
import { createOpsModuleBuilder } from "../integrations/image-builder/ops-module-builder.js";
import { addStageRequestedConsumers } from "../messaging/consumers/stage-requested.consumer.js";
import type { TemplateCatalog } from "../scaffold/templates.js";
import { buildWork } from "./build.runner.js";
import { codeCheckWork } from "./code-check.runner.js";
import { packageWork } from "./package.runner.js";
import { StageRunnerService } from "./stage-runner.service.js";
import type { StageWork } from "./stage-work.js";

/**
 * The CODE_CHECK, BUILD and PACKAGE runners, and the other modules' stage work (QUALITY_GATE), on
 * the service's consumers, and their logs' reader.
 */
export function createStageRunners(
  deps: ServiceDeps<Config>,
  git: GitIntegration,
  templates: TemplateCatalog,
  more: StageWork[] = [],
): { start(): void; stop(): Promise<void> } {
  const { config } = deps;
  const builder = createOpsModuleBuilder({
    baseUrl: config.BUILDER_URL,
    pollMs: config.BUILD_POLL_MS,
    timeoutMs: config.BUILD_TIMEOUT_MS,
    callTimeoutMs: config.BUILDER_CALL_TIMEOUT_MS,
  });
  const logs = new StageLogStore("dev");
  const runner = new StageRunnerService(
    deps.db,
    deps.outbox,
    deps.metrics,
    { leaseMs: config.STAGE_LEASE_MS, stopping: deps.stopping },
    [
      codeCheckWork(git.access, { timeoutMs: config.STAGE_TIMEOUT_MS, pythonBin: config.PYTHON_BIN }),
      buildWork(templates, { timeoutMs: config.STAGE_TIMEOUT_MS }),
      // The builder's own deadline comes first; this bound adds the create and the last status calls.
      packageWork(deps.db, builder, {
        registry: config.IMAGE_REGISTRY,
        envName: config.ENV_NAME,
        timeoutMs: config.BUILD_TIMEOUT_MS + 3 * config.BUILDER_CALL_TIMEOUT_MS + config.BUILD_POLL_MS,
      }),
      ...more,
    ],
    logs,
  );
  addStageRequestedConsumers(deps.consumers, runner, { concurrency: config.RUNNER_CONCURRENCY });
  let rpc: ReturnType<typeof logs.serveReads> | undefined;
  return {
    start() {
      // The engine reads this service's CODE_CHECK, BUILD and PACKAGE logs for GET /pipelines/{id}/logs.
      rpc = logs.serveReads(deps.nats, {
        name: RPC.READ_DEV_STAGE_LOGS,
        queue: "dev-svc",
        db: deps.db,
        log: deps.log,
      });
    },
    async stop() {
      await rpc?.drain().catch(() => undefined);
    },
  };
}
