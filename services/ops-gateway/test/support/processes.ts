import { ServiceProcess } from "@procode/test-kit";

export { ServiceProcess as ChildService } from "@procode/test-kit";

/** ops-gateway as a real process (`tsx src/main.ts`), on port 0, logging at info. */
export function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  return ServiceProcess.start({
    name: "ops-gateway",
    dir: "services/ops-gateway",
    env: { ...env, PORT: "0", LOG_LEVEL: "info" },
    ready: /ops-gateway listening/,
  });
}
