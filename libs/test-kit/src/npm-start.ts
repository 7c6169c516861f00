/**
 * The platform as `npm start` runs it (scripts/start.ts), on free ports, with its own database, NATS
 * prefix and LOCAL repository root, so it never meets the default platform or another run. Resolves
 * once it printed its addresses, with the one that signs a browser in; `stop` ends it and drops the
 * database and the streams. For the console's browser tests, its budgets bench and the supervisor test.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { deleteStreams, sql } from "./infra.js";
import { freePort } from "./platform.js";
import { REPO_ROOT } from "./process.js";

const ADMIN_URL = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
export interface NpmStartPlatform {
  gatewayUrl: string;
  /** What npm start prints to sign a browser in: `<gateway>/#token=...` (team default). */
  signInUrl: string;
  jwtSecret: string;
  /** Its database (to hold a service's work still in a test). */
  databaseUrl: string;
  /** LOCAL repositories (`local://<name>` is `<repoRoot>/<name>`). */
  repoRoot: string;
  /** The address of one of its processes (`app-svc`, `dev-svc`, ..., `ops-module`, `gateway`). */
  urlOf(name: string): string;
  /** The pid of the latest start of one of its processes, as npm start announced it. */
  pidOf(name: string): number | undefined;
  /** Each death npm start announced, in order: the process and how it ended (`SIGKILL`, `1`, ...). */
  exits(): { name: string; how: string }[];
  /** The last of what it printed (about 20,000 characters), for a failure's message. */
  outputTail(): string;
  stop(): Promise<void>;
}

export async function startNpmPlatform(extraEnv: Record<string, string> = {}): Promise<NpmStartPlatform> {
  const suffix = randomBytes(4).toString("hex");
  const database = `t_console_e2e_${suffix}`;
  const envName = `t-console-e2e-${suffix}`;
  await sql(ADMIN_URL, `create database "${database}"`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${database}`;
  const repoRoot = mkdtempSync(path.join(os.tmpdir(), "procode-console-repos-"));
  const jwtSecret = randomBytes(24).toString("hex");
  const ports: Record<string, string> = {};
  for (const name of ["GATEWAY", "APP_SVC", "DEV_SVC", "PIPELINE_ENGINE", "OPS_GATEWAY", "OPS_MODULE"])
    ports[`${name}_PORT`] = String(await freePort());

  const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...ports,
      DATABASE_URL: dbUrl.toString(),
      NATS_URL,
      ENV_NAME: envName,
      LOCAL_GIT_ROOT: repoRoot,
      AUTH_JWT_SECRET: jwtSecret,
      LOG_LEVEL: "warn",
      // Quicker than the defaults, so a failing stage's retries and a deployment take seconds.
      RETRY_BASE_MS: "300",
      RETRY_MAX_MS: "1000",
      BIND_POLL_MS: "200",
      BIND_RETRY_BASE_MS: "500",
      DEFAULT_DURATION_MS: "1500",
      NO_COLOR: "1",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  // npm start announces each start of a process ("started <name> (pid <n>)"), restarts too, and
  // each death ("<name> exited (<signal or code>); starting it again ...").
  const pids = new Map<string, number>();
  const exits: { name: string; how: string }[] = [];
  let partial = "";
  const watchPids = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const started = /started (\S+) \(pid (\d+)\)/.exec(line);
      if (started) pids.set(started[1]!, Number(started[2]));
      const exited = /(\S+) exited \((\w+)\); starting it again/.exec(line);
      if (exited) exits.push({ name: exited[1]!, how: exited[2]! });
    }
  };
  child.stdout.on("data", watchPids);
  const signInUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the platform did not start in time:\n${output.slice(-4000)}`)),
      180_000,
    );
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /(http:\/\/127\.0\.0\.1:\d+\/#token=[\w.-]+)/.exec(output);
      if (found && output.includes("Ctrl-C stops everything")) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the platform exited (${code}):\n${output.slice(-4000)}`));
    });
  });
  // Keep reading, so its logs never fill the pipe; keep the tail for a failure report.
  child.stdout.removeAllListeners("data");
  child.stderr.removeAllListeners("data");
  child.stdout.on("data", watchPids);
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);

  return {
    gatewayUrl: new URL(signInUrl).origin,
    signInUrl,
    jwtSecret,
    databaseUrl: dbUrl.toString(),
    repoRoot,
    urlOf: (name) => {
      const port = ports[`${name.toUpperCase().replace(/-/g, "_")}_PORT`];
      if (!port) throw new Error(`no process ${name} in npm start`);
      return `http://127.0.0.1:${port}`;
    },
    pidOf: (name) => pids.get(name),
    exits: () => [...exits],
    outputTail: () => output,
    stop: async () => {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timeout = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timeout);
      rmSync(repoRoot, { recursive: true, force: true });
      await deleteStreams(NATS_URL, envName).catch(() => {});
      await sql(ADMIN_URL, `drop database if exists "${database}" with (force)`);
    },
  };
}
