import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { TestInfra } from "./infra.js";

export type { TestInfra };
import { ServiceProcess } from "./process.js";

/** The whole platform as real processes: four services, the reference ops module and the gateway. */
export interface Platform {
  gatewayUrl: string;
  opsModuleUrl: string;
  /** Where LOCAL repositories live (`local://<name>` is `<repoRoot>/<name>`). */
  repoRoot: string;
  jwtSecret: string;
  /** The secret the ops module signs its callbacks with (tests sign callbacks of their own). */
  opsCallbackSecret: string;
  processes: Record<PlatformProcess, ServiceProcess>;
  /** Starts one process again (after a kill), with the same settings. */
  restart(name: PlatformProcess): Promise<ServiceProcess>;
  /**
   * Stops the four services and the gateway (SIGTERM), as an operator stops the platform; the ops
   * module (an outside system) and the repositories stay.
   */
  stopServices(): Promise<void>;
  /**
   * Starts the four services and the gateway again with the same settings, secrets and gateway
   * port, against `databaseUrl` when given (a restored database) and the same NATS streams.
   */
  startServices(databaseUrl?: string): Promise<void>;
  /** Stops every process; then fails, with its last lines, if one ended that nobody stopped (a crash). */
  stop(): Promise<void>;
}

export type PlatformProcess =
  "app-svc" | "dev-svc" | "pipeline-engine" | "ops-gateway" | "ops-module" | "gateway";

export interface PlatformOptions {
  /** Extra environment per process (e.g. fast retries for tests, zero delays for benches). */
  env?: Partial<Record<PlatformProcess, Record<string, string>>>;
  logLevel?: string;
}

/** The first port the kernel hands out for `listen(0)` and outgoing connections. */
function ephemeralLow(): number {
  try {
    return (
      Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768
    );
  } catch {
    return 32768;
  }
}

/** Listens on `port` (0: any) on 127.0.0.1 and closes again; the port it got, or null when taken. */
async function tryPort(port: number): Promise<number | null> {
  const s = net.createServer();
  const got = await new Promise<number | null>((resolve) => {
    s.once("error", () => resolve(null));
    s.listen(port, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port));
  });
  if (got !== null) await new Promise<void>((r) => s.close(() => r()));
  return got;
}

/**
 * A TCP port nothing listens on now (on 127.0.0.1), for a process to listen on a moment later. It
 * is drawn below the kernel's ephemeral range: a port from that range may meanwhile be handed to any
 * `listen(0)` or outgoing connection of the tests running beside this one.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let i = 0; i < 50 && low > 12_000; i++) {
    const port = await tryPort(10_000 + Math.floor(Math.random() * (low - 10_000)));
    if (port !== null) return port;
  }
  return (await tryPort(0))!;
}

/**
 * Starts the platform against a test database and NATS prefix, in dependency order: the ops module,
 * the four services, then the gateway on a port chosen up front (services build webhook URLs from
 * it); the ops module then calls back through the gateway, as in a real installation.
 */
export async function startPlatform(infra: TestInfra, opts: PlatformOptions = {}): Promise<Platform> {
  const repoRoot = mkdtempSync(path.join(os.tmpdir(), "procode-repos-"));
  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const callbackSecret = randomBytes(16).toString("hex");
  const encryptionKeys = `k1:${randomBytes(32).toString("base64")}`;
  const logLevel = opts.logLevel ?? process.env["TEST_LOG_LEVEL"] ?? "warn";
  let databaseUrl = infra.databaseUrl;
  const common = () => ({
    DATABASE_URL: databaseUrl,
    NATS_URL: infra.natsUrl,
    ENV_NAME: infra.envName,
    AUTH_JWT_SECRET: infra.jwtSecret,
    ENCRYPTION_KEYS: encryptionKeys,
    PUBLIC_BASE_URL: gatewayUrl,
    LOCAL_GIT_ROOT: repoRoot,
    GIT_ALLOW_HTTP: "true",
    GIT_ALLOWED_HOSTS: "127.0.0.1,localhost",
    // Tests' notification receivers listen on 127.0.0.1 (other private addresses stay refused).
    NOTIFICATION_ALLOW_HTTP: "true",
    NOTIFICATION_ALLOWED_HOSTS: "127.0.0.1",
    HOST: "127.0.0.1",
    PORT: "0",
    // The ready line must be logged whatever the level asked for.
    LOG_LEVEL: logLevel === "silent" || logLevel === "error" || logLevel === "warn" ? "info" : logLevel,
  });
  const specs: Record<PlatformProcess, { dir: string; env: () => Record<string, string>; ready: RegExp }> = {
    "ops-module": {
      dir: "tools/ops-module",
      env: () => ({
        PORT: "0",
        HOST: "127.0.0.1",
        CALLBACK_URL: `${gatewayUrl}/deploy/callback`,
        CALLBACK_SECRET: callbackSecret,
      }),
      ready: /ops module listening/,
    },
    "app-svc": { dir: "services/app-svc", env: common, ready: /app-svc listening/ },
    "dev-svc": {
      dir: "services/dev-svc",
      env: () => ({ ...common(), BUILDER_URL: processes["ops-module"]!.url }),
      ready: /dev-svc listening/,
    },
    "pipeline-engine": {
      dir: "services/pipeline-engine",
      env: common,
      ready: /pipeline-engine listening/,
    },
    "ops-gateway": {
      dir: "services/ops-gateway",
      env: () => ({
        ...common(),
        OPS_BASE_URL: processes["ops-module"]!.url,
        OPS_CALLBACK_SECRET: callbackSecret,
      }),
      ready: /ops-gateway listening/,
    },
    gateway: {
      dir: "tools/gateway",
      env: () => ({
        GATEWAY_PORT: String(gatewayPort),
        PUBLIC_BASE_URL: gatewayUrl,
        APP_SVC_URL: processes["app-svc"]!.url,
        DEV_SVC_URL: processes["dev-svc"]!.url,
        PIPELINE_ENGINE_URL: processes["pipeline-engine"]!.url,
        OPS_GATEWAY_URL: processes["ops-gateway"]!.url,
        // GET /events reads the live events from NATS and checks tokens itself.
        NATS_URL: infra.natsUrl,
        ENV_NAME: infra.envName,
        AUTH_JWT_SECRET: infra.jwtSecret,
        LOG_LEVEL: "info",
      }),
      ready: /gateway listening/,
    },
  };
  const processes: Partial<Record<PlatformProcess, ServiceProcess>> = {};
  /** Every process started, those since replaced by a restart too. */
  const started: ServiceProcess[] = [];
  const start = async (name: PlatformProcess) => {
    const spec = specs[name];
    processes[name] = await ServiceProcess.start({
      name,
      dir: spec.dir,
      env: { ...spec.env(), ...opts.env?.[name] },
      ready: spec.ready,
      timeoutMs: 90_000,
    });
    started.push(processes[name]);
    return processes[name];
  };
  const stop = async () => {
    // Each stop fails for a process that crashed; all are stopped first, then all crashes told.
    await Promise.allSettled(Object.values(processes).map((p) => p.stop("SIGTERM", 10_000)));
    rmSync(repoRoot, { recursive: true, force: true });
    // Those replaced by a restart too: a crash the test went past still fails it.
    const crashes = started.flatMap((p) => p.crashReport() ?? []);
    if (crashes.length) throw new Error(crashes.join("\n\n"));
  };
  const services = ["app-svc", "dev-svc", "pipeline-engine", "ops-gateway", "gateway"] as const;
  const startServices = async () => {
    // Two at a time: each service compiles its sources as it starts.
    await Promise.all((["app-svc", "dev-svc"] as const).map(start));
    await Promise.all((["pipeline-engine", "ops-gateway"] as const).map(start));
    await start("gateway");
  };
  try {
    await start("ops-module");
    await startServices();
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return {
    gatewayUrl,
    opsModuleUrl: processes["ops-module"]!.url,
    repoRoot,
    jwtSecret: infra.jwtSecret,
    opsCallbackSecret: callbackSecret,
    processes: processes as Record<PlatformProcess, ServiceProcess>,
    restart: start,
    stopServices: async () => {
      await Promise.all(services.map(async (name) => processes[name]?.stop("SIGTERM", 10_000)));
    },
    startServices: async (url) => {
      if (url) databaseUrl = url;
      await startServices();
    },
    stop,
  };
}

/** Runs git with a fixed identity (tests and benches commit to LOCAL repositories). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Pro-code Test",
      GIT_AUTHOR_EMAIL: "test@procode.invalid",
      GIT_COMMITTER_NAME: "Pro-code Test",
      GIT_COMMITTER_EMAIL: "test@procode.invalid",
    },
  }).trim();
}
