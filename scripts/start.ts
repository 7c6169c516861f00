/**
 * `npm start`: the whole platform on this machine, against PostgreSQL and NATS on 127.0.0.1 unless
 * DATABASE_URL / NATS_URL say otherwise. Each process logs with its name; a process that dies is
 * started again with backoff (docs/operations.md); Ctrl-C stops everything cleanly.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { signToken } from "@procode/service-kit";
import { ensureConsoleBuilt } from "./console-build.js";

const root = path.resolve(import.meta.dirname, "..");

interface ProcessSpec {
  name: string;
  dir: string;
  port: number;
  color: number;
  env?: Record<string, string>;
  /** Readiness URL path (services: /readyz). */
  ready: string;
}

/** Secrets for local runs, kept in .local/ so data sealed in one run can be read in the next. */
function localSecrets(): { jwtSecret: string; encryptionKeys: string; opsCallbackSecret: string } {
  const file = path.join(root, ".local", "secrets.json");
  const fresh = {
    jwtSecret: randomBytes(32).toString("hex"),
    encryptionKeys: `local1:${randomBytes(32).toString("base64")}`,
    opsCallbackSecret: randomBytes(24).toString("hex"),
  };
  mkdirSync(path.dirname(file), { recursive: true });
  // Keep what earlier runs made (data sealed then must still open), add what is missing.
  const secrets = { ...fresh, ...(existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {}) };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

const secrets = localSecrets();
/**
 * Each process's port: the defaults, or `<NAME>_PORT` (APP_SVC_PORT, DEV_SVC_PORT,
 * PIPELINE_ENGINE_PORT, OPS_GATEWAY_PORT, OPS_MODULE_PORT, GATEWAY_PORT), so a second platform (the
 * console's browser tests, a demo beside a running one) can share the machine.
 */
function portOf(name: string, fallback: number): number {
  const key = `${name.toUpperCase().replace(/-/g, "_")}_PORT`;
  const value = Number(process.env[key] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    process.stderr.write(`${key} must be a port number (1-65535), got "${process.env[key]}"\n`);
    process.exit(1);
  }
  return value;
}
const ports = {
  "app-svc": portOf("app-svc", 8081),
  "dev-svc": portOf("dev-svc", 8082),
  "pipeline-engine": portOf("pipeline-engine", 8083),
  "ops-gateway": portOf("ops-gateway", 8084),
  "ops-module": portOf("ops-module", 8090),
  gateway: portOf("gateway", 8080),
};
const local = (name: keyof typeof ports) => `http://127.0.0.1:${ports[name]}`;
const gatewayUrl = local("gateway");
const emulatorHosts = "127.0.0.1:8091,127.0.0.1:8092,127.0.0.1:8093";
const sharedEnv: Record<string, string> = {
  DATABASE_URL: process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/procode",
  NATS_URL: process.env["NATS_URL"] ?? "nats://127.0.0.1:4222",
  ENV_NAME: process.env["ENV_NAME"] ?? "procode",
  AUTH_JWT_SECRET: process.env["AUTH_JWT_SECRET"] ?? secrets.jwtSecret,
  ENCRYPTION_KEYS: process.env["ENCRYPTION_KEYS"] ?? secrets.encryptionKeys,
  LOG_LEVEL: process.env["LOG_LEVEL"] ?? "info",
  PUBLIC_BASE_URL: process.env["PUBLIC_BASE_URL"] ?? gatewayUrl,
  // LOCAL repositories live here; the git emulators on 8091-8093 may be used over plain http.
  LOCAL_GIT_ROOT: process.env["LOCAL_GIT_ROOT"] ?? path.join(root, ".local", "repos"),
  GIT_ALLOW_HTTP: process.env["GIT_ALLOW_HTTP"] ?? "true",
  GIT_ALLOWED_HOSTS: process.env["GIT_ALLOWED_HOSTS"] ?? emulatorHosts,
  // Notification receivers on this machine (a developer's own, the console's tests) may be reached.
  NOTIFICATION_ALLOW_HTTP: process.env["NOTIFICATION_ALLOW_HTTP"] ?? "true",
  NOTIFICATION_ALLOWED_HOSTS: process.env["NOTIFICATION_ALLOWED_HOSTS"] ?? "127.0.0.1,localhost",
  OPS_CALLBACK_SECRET: process.env["OPS_CALLBACK_SECRET"] ?? secrets.opsCallbackSecret,
  // Where the services find each other and the ops module (the ports above).
  OPS_BASE_URL: local("ops-module"),
  BUILDER_URL: local("ops-module"),
  APP_SVC_URL: local("app-svc"),
  DEV_SVC_URL: local("dev-svc"),
  PIPELINE_ENGINE_URL: local("pipeline-engine"),
  OPS_GATEWAY_URL: local("ops-gateway"),
};
const repoRoot = sharedEnv["LOCAL_GIT_ROOT"]!;

const processes: ProcessSpec[] = [
  { name: "app-svc", dir: "services/app-svc", port: ports["app-svc"], color: 33, ready: "/readyz" },
  { name: "dev-svc", dir: "services/dev-svc", port: ports["dev-svc"], color: 35, ready: "/readyz" },
  {
    name: "pipeline-engine",
    dir: "services/pipeline-engine",
    port: ports["pipeline-engine"],
    color: 36,
    ready: "/readyz",
  },
  {
    name: "ops-gateway",
    dir: "services/ops-gateway",
    port: ports["ops-gateway"],
    color: 32,
    ready: "/readyz",
  },
  {
    name: "ops-module",
    dir: "tools/ops-module",
    port: ports["ops-module"],
    color: 34,
    ready: "/healthz",
    // The reference ops module (a stand-in): deployments take a few seconds and call back signed.
    env: {
      CALLBACK_URL: `${gatewayUrl}/deploy/callback`,
      CALLBACK_SECRET: sharedEnv["OPS_CALLBACK_SECRET"]!,
    },
  },
  {
    name: "gateway",
    dir: "tools/gateway",
    port: ports.gateway,
    color: 37,
    ready: "/healthz",
  },
];

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const width = Math.max(...processes.map((p) => p.name.length));
const supervisorTag = `\x1b[1m${"npm start".padEnd(width)}\x1b[0m`;
const SKIP_KEYS = new Set(["level", "time", "msg", "service", "pid", "hostname"]);

/** One log line, readable: time, name, level, message and the remaining fields. */
function formatLine(spec: ProcessSpec, line: string): string {
  const tag = `\x1b[${spec.color}m${spec.name.padEnd(width)}\x1b[0m`;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line);
  } catch {
    return `${tag} ${line}`;
  }
  const time = typeof rec["time"] === "string" ? rec["time"].slice(11, 19) : "";
  const level = LEVELS[Number(rec["level"])] ?? "INFO";
  const levelColor = level === "ERROR" || level === "FATAL" ? 31 : level === "WARN" ? 33 : 90;
  const rest = Object.entries(rec)
    .filter(([k]) => !SKIP_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${tag} \x1b[90m${time}\x1b[0m \x1b[${levelColor}m${level.padEnd(5)}\x1b[0m ${typeof rec["msg"] === "string" ? rec["msg"] : ""} \x1b[90m${rest}\x1b[0m`;
}

const children = new Map<string, ChildProcess>();
let stopping = false;
/** Restarts pending after a death, so Ctrl-C can call them off. */
const restartTimers = new Set<NodeJS.Timeout>();
/** Deaths in a row per process; reset once it has stayed up for STABLE_MS. */
const deaths = new Map<string, number>();
const STABLE_MS = 60_000;

/**
 * The delay before a process that died is started again: 1 s, doubling with each death in a row,
 * capped at 30 s (docs/operations.md "npm start").
 */
function restartDelayMs(deathsInARow: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, deathsInARow - 1));
}

function startProcess(spec: ProcessSpec): ChildProcess {
  // `node --import tsx` keeps one process per service, so signals reach the service itself.
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: path.join(root, spec.dir),
    env: {
      ...process.env,
      ...sharedEnv,
      PORT: String(spec.port),
      GATEWAY_PORT: String(spec.port),
      ...spec.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    readline
      .createInterface({ input: stream })
      .on("line", (line) => process.stdout.write(`${formatLine(spec, line)}\n`));
  }
  const startedAt = Date.now();
  process.stdout.write(`${supervisorTag} started ${spec.name} (pid ${child.pid})\n`);
  child.on("exit", (code, signal) => {
    children.delete(spec.name);
    if (stopping) return;
    // A process of the platform that dies is started again, with backoff; the others go on.
    const n = Date.now() - startedAt >= STABLE_MS ? 1 : (deaths.get(spec.name) ?? 0) + 1;
    deaths.set(spec.name, n);
    const delay = restartDelayMs(n);
    process.stdout.write(
      `\x1b[31m${supervisorTag} ${spec.name} exited (${signal ?? code}); starting it again in ${delay / 1000} s (death ${n} in a row)\x1b[0m\n`,
    );
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!stopping) startProcess(spec);
    }, delay);
    restartTimers.add(timer);
  });
  children.set(spec.name, child);
  return child;
}

async function waitReady(spec: ProcessSpec, timeoutMs = 180_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${spec.port}${spec.ready}`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const timer of restartTimers) clearTimeout(timer);
  process.stdout.write("\nstopping…\n");
  const exits = [...children.values()].map(
    (child) =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 15_000).unref();
      }),
  );
  await Promise.all(exits);
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

/** An empty LOCAL repository to release from at once (the scaffold fills it on the first bind). */
function prepareSampleRepository(): string {
  const dir = path.join(repoRoot, "sample-agent.git");
  if (!existsSync(dir)) {
    mkdirSync(repoRoot, { recursive: true });
    execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", dir]);
  }
  return dir;
}

const sampleRepo = prepareSampleRepository();
ensureConsoleBuilt(root);
const token = await signToken({ sub: "developer", team: "default" }, sharedEnv["AUTH_JWT_SECRET"]!, {
  expiresIn: "30d",
});

for (const spec of processes) startProcess(spec);
const ready = await Promise.all(processes.map((p) => waitReady(p)));
if (stopping) await new Promise(() => {});
const notReady = processes.filter((_, i) => !ready[i]).map((p) => p.name);
if (notReady.length) {
  process.stdout.write(`\x1b[31mnot ready: ${notReady.join(", ")}\x1b[0m\n`);
  await stopAll(1);
}

const appName = `sample-agent-${Date.now().toString(36).slice(-4)}`;
process.stdout.write(
  [
    "",
    "\x1b[1mPro-code is running\x1b[0m",
    `  ${"gateway".padEnd(width)}  ${gatewayUrl}  (every REST path; API reference ${gatewayUrl}/docs)`,
    ...processes
      .filter((p) => p.name !== "gateway")
      .map((p) => `  ${p.name.padEnd(width)}  http://127.0.0.1:${p.port}  (${p.ready}, /metrics)`),
    "",
    "\x1b[1mToken\x1b[0m (team default, valid 30 days):",
    `  export PROCODE_URL=${gatewayUrl}`,
    `  export PROCODE_TOKEN=${token}`,
    `  alias procode="node ${path.join(root, "tools", "cli", "bin", "procode.mjs")}"   # or: pnpm procode ...`,
    "",
    "\x1b[1mConsole\x1b[0m (this address signs the browser in for team default):",
    `  ${gatewayUrl}/#token=${token}`,
    "",
    `\x1b[1mRelease something now\x1b[0m (an empty LOCAL repository is ready: ${path.relative(root, sampleRepo)}):`,
    `  procode app create --name ${appName} --repo local://sample-agent --scaffold python-agent`,
    "  procode iteration create --app <app id> --name first --branch main",
    "  procode iteration proceed <iteration id> --to TESTING",
    "  procode iteration proceed <iteration id> --to STAGING",
    "  procode iteration release <iteration id> --tag v1.0.0 --watch",
    "",
    "Ctrl-C stops everything.",
    "",
  ].join("\n"),
);
