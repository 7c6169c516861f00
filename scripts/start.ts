/**
 * `npm start`: the whole platform on this machine (SPEC 8), against PostgreSQL and NATS on
 * 127.0.0.1 unless DATABASE_URL / NATS_URL say otherwise. Each process logs with its name; Ctrl-C
 * stops everything cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const root = path.resolve(import.meta.dirname, "..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");

interface ProcessSpec {
  name: string;
  dir: string;
  port: number;
  color: number;
  env?: Record<string, string>;
}

/** Secrets for local runs, kept in .local/ so data sealed in one run can be read in the next. */
function localSecrets(): { jwtSecret: string; encryptionKeys: string } {
  const file = path.join(root, ".local", "secrets.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
  mkdirSync(path.dirname(file), { recursive: true });
  const secrets = {
    jwtSecret: randomBytes(32).toString("hex"),
    encryptionKeys: `local1:${randomBytes(32).toString("base64")}`,
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

const secrets = localSecrets();
const sharedEnv: Record<string, string> = {
  DATABASE_URL: process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/procode",
  NATS_URL: process.env["NATS_URL"] ?? "nats://127.0.0.1:4222",
  ENV_NAME: process.env["ENV_NAME"] ?? "procode",
  AUTH_JWT_SECRET: process.env["AUTH_JWT_SECRET"] ?? secrets.jwtSecret,
  ENCRYPTION_KEYS: process.env["ENCRYPTION_KEYS"] ?? secrets.encryptionKeys,
  LOG_LEVEL: process.env["LOG_LEVEL"] ?? "info",
};

const processes: ProcessSpec[] = [
  { name: "app-svc", dir: "services/app-svc", port: 8081, color: 33 },
  { name: "dev-svc", dir: "services/dev-svc", port: 8082, color: 35 },
  { name: "pipeline-engine", dir: "services/pipeline-engine", port: 8083, color: 36 },
  { name: "ops-gateway", dir: "services/ops-gateway", port: 8084, color: 32 },
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

function startProcess(spec: ProcessSpec): ChildProcess {
  const child = spawn(tsx, ["src/main.ts"], {
    cwd: path.join(root, spec.dir),
    env: { ...process.env, ...sharedEnv, PORT: String(spec.port), ...spec.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    readline
      .createInterface({ input: stream })
      .on("line", (line) => process.stdout.write(`${formatLine(spec, line)}\n`));
  }
  child.on("exit", (code, signal) => {
    children.delete(spec.name);
    if (!stopping) {
      process.stdout.write(`\x1b[31m${spec.name} exited (${signal ?? code}); stopping the platform\x1b[0m\n`);
      void stopAll(1);
    }
  });
  children.set(spec.name, child);
  return child;
}

async function waitReady(spec: ProcessSpec, timeoutMs = 90_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${spec.port}/readyz`);
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

for (const spec of processes) startProcess(spec);
const ready = await Promise.all(processes.map((p) => waitReady(p)));
if (stopping) await new Promise(() => {});
const notReady = processes.filter((_, i) => !ready[i]).map((p) => p.name);
if (notReady.length) {
  process.stdout.write(`\x1b[31mnot ready: ${notReady.join(", ")}\x1b[0m\n`);
  await stopAll(1);
}

process.stdout.write(
  [
    "",
    "\x1b[1mPro-code is running\x1b[0m",
    ...processes.map(
      (p) => `  ${p.name.padEnd(width)}  http://127.0.0.1:${p.port}  (/readyz, /metrics, /openapi.json)`,
    ),
    "",
    "Ctrl-C stops everything.",
    "",
  ].join("\n"),
);
