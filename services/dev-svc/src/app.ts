import type { ServiceDefinition, ServiceDeps, ServiceParts } from "@procode/service-kit";
import { createCommitStatuses } from "./commit-statuses/index.js";
import { Config } from "./config.js";
import { createGitIntegration } from "./git/index.js";
import { createIterations } from "./iterations/index.js";
import { createQualityGate } from "./quality/index.js";
import { createStageRunners } from "./runners/index.js";
import { installScaffold } from "./scaffold/index.js";
import { migrations } from "./store/migrations.js";

/** Registers dev-svc's routes, consumers and background work on the kit's app; never listens. */
async function buildApp(deps: ServiceDeps<Config>): Promise<ServiceParts> {
  const git = await createGitIntegration(deps);
  const templates = await installScaffold(deps, git);
  const quality = createQualityGate(deps, git);
  const runners = createStageRunners(deps, git, templates, [quality.work]);
  const { releases } = createIterations(deps, git);
  const statuses = createCommitStatuses(deps, git);
  return {
    async start() {
      git.start();
      statuses.start();
      releases.start();
      runners.start();
    },
    async stop() {
      await runners.stop();
      await releases.stop();
      await statuses.stop();
      await git.stop();
    },
  };
}

export const service: ServiceDefinition<Config> = {
  name: "dev-svc",
  schema: "dev",
  configSchema: Config,
  migrations,
  build: buildApp,
};
