import { startRuntime, type ServiceRuntime } from "@procode/service-kit";
import { createTestInfra, serviceEnv, TcpProxy, type TestInfra } from "@procode/test-kit";
import { service } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import { EngineSide } from "./engine.js";
import { OpsModuleProcess } from "./ops-module.js";

/**
 * What the deployment tests share: a test database and NATS prefix, the reference ops module as a
 * real process calling back to ops-gateway, ops-gateway in this process on a real listener, and
 * the test playing the engine over NATS.
 */
export interface OpsFlow {
  infra: TestInfra;
  ops: OpsModuleProcess;
  gw: ServiceRuntime<Config>;
  engine: EngineSide;
  /** Between ops-gateway and NATS, when asked for (the engine side connects directly). */
  natsProxy: TcpProxy | undefined;
  close(): Promise<void>;
}

export async function startOpsFlow(
  label: string,
  secret: string,
  env: Record<string, string>,
  opts: { natsProxy?: boolean } = {},
): Promise<OpsFlow> {
  const [infra, ops] = await Promise.all([
    createTestInfra(label),
    OpsModuleProcess.start({ CALLBACK_SECRET: secret, CALLBACK_URL: "http://127.0.0.1:9/deploy/callback" }),
  ]);
  const natsProxy = opts.natsProxy ? TcpProxy.forUrl(infra.natsUrl) : undefined;
  await natsProxy?.start();
  const gw = await startRuntime(service, {
    listen: true,
    env: serviceEnv(infra, {
      OPS_BASE_URL: ops.url,
      OPS_CALLBACK_SECRET: secret,
      OPS_SCAN_INTERVAL_MS: "50",
      ...(natsProxy ? { NATS_URL: natsProxy.url(infra.natsUrl) } : {}),
      ...env,
    }),
  });
  await ops.setCallback(`${gw.url}/deploy/callback`);
  const engine = await EngineSide.connect(infra);
  return {
    infra,
    ops,
    gw,
    engine,
    natsProxy,
    close: async () => {
      await engine.close();
      await gw.close();
      await natsProxy?.stop();
      await ops.stop();
      await infra.cleanup();
    },
  };
}
