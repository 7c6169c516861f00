import { ConfigError, createLogger, errorMessage, loadConfig } from "@procode/service-kit";
import { OpsModuleConfig } from "./config.js";
import { createOpsModule } from "./server.js";

// The reference ops module: a stand-in for the real ops system. State is in memory.
let config: OpsModuleConfig;
try {
  config = loadConfig(OpsModuleConfig);
} catch (err) {
  process.stderr.write(`ops-module: ${err instanceof ConfigError ? err.message : errorMessage(err)}\n`);
  process.exit(1);
}
const log = createLogger({ name: "ops-module", level: config.LOG_LEVEL });
if (!config.CALLBACK_SECRET) log.warn("CALLBACK_SECRET is not set: no callbacks will be sent (polling only)");
const mod = await createOpsModule({
  callbackUrl: config.CALLBACK_URL,
  callbackSecret: config.CALLBACK_SECRET ?? null,
  zeroDelay: config.ZERO_DELAY,
  defaults: {
    deploy: { durationMs: config.DEFAULT_DURATION_MS },
    build: { durationMs: config.DEFAULT_DURATION_MS },
  },
  log,
});
const url = await mod.listen(config.PORT, config.HOST);
log.info(
  { url, callbackUrl: config.CALLBACK_SECRET ? config.CALLBACK_URL : null, zeroDelay: config.ZERO_DELAY },
  "ops module listening (reference stand-in: in-memory state, deploys nothing)",
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    mod
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  });
}
