import type { ServiceDefinition, ServiceDeps, ServiceParts } from "@procode/service-kit";
import { Config } from "./config.js";
import { migrations } from "./store/migrations.js";

/** Registers app-svc's routes, consumers and background work on the kit's app; never listens. */
export async function buildApp(_deps: ServiceDeps<Config>): Promise<ServiceParts> {
  return {};
}

export const service: ServiceDefinition<Config> = {
  name: "app-svc",
  schema: "app",
  configSchema: Config,
  entities: [],
  migrations,
  build: buildApp,
};
