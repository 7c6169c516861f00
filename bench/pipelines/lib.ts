import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { messageSubject, RPC, rpcSubject, type MessageDefinition } from "@procode/contracts";
import { KeyRing } from "@procode/service-kit";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Loaded into every bench process: event-loop delay and RSS once a second on stderr. */
const PROBE = path.join(repoRoot, "bench", "pipelines", "probe.mjs");

/** One line of the probe: event-loop delay (ms) over the last second, and RSS (bytes). */
export interface ProbeSample {
  at: number;
  p50: number;
  p99: number;
  max: number;
  rss: number;
}

/** A service or helper started as a real process with tsx's loader (no wrapper process in between). */
export class Proc {
  child!: ChildProcess;
  url: string | null = null;
  readonly lines: string[] = [];
  /** Probe lines of the current process (cleared by start()). */
  probes: ProbeSample[] = [];
  startedAt = 0;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly cwd: string,
    private readonly script: string,
    private readonly env: NodeJS.ProcessEnv,
    /** Extra node flags (e.g. --cpu-prof) */
    private readonly nodeArgs: string[] = [],
    /** Run `script` through tsx's loader (false: a built bundle). */
    private readonly viaTsx = true,
  ) {}

  start(): void {
    this.url = null;
    this.probes = [];
    this.startedAt = performance.now();
    this.child = spawn(
      process.execPath,
      [...this.nodeArgs, "--import", PROBE, ...(this.viaTsx ? ["--import", "tsx"] : []), this.script],
      {
        cwd: this.cwd,
        env: { ...process.env, ...this.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const child = this.child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        if (line.startsWith("bench-probe ")) {
          this.probes.push({
            at: performance.now(),
            ...(JSON.parse(line.slice(12)) as Omit<ProbeSample, "at">),
          });
          return;
        }
        this.lines.push(line);
        if (this.lines.length > 500) this.lines.shift();
        if (line.includes('"level":50') || line.includes('"level":60'))
          process.stderr.write(`[${this.name}] ${line}\n`);
        const m = /"url":"(http:[^"]+)"/.exec(line);
        if (m && line.includes("listening")) this.url = m[1]!;
      });
    }
  }

  async waitListening(timeoutMs = 60000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.url) {
      if (Date.now() > deadline)
        throw new Error(`${this.name} did not start: ${this.lines.slice(-5).join("\n")}`);
      await sleep(10);
    }
    return performance.now() - this.startedAt;
  }

  /** Probe figures between two instants (performance.now()): RSS max, event-loop delay P99 max and mean. */
  probeStats(
    from = 0,
    to = Infinity,
  ): { rssMax: number; lagP99Max: number; lagP99Mean: number; lagMax: number } {
    const s = this.probes.filter((p) => p.at >= from && p.at <= to);
    if (!s.length) return { rssMax: this.rss(), lagP99Max: NaN, lagP99Mean: NaN, lagMax: NaN };
    return {
      rssMax: Math.max(...s.map((p) => p.rss)),
      lagP99Max: Math.max(...s.map((p) => p.p99)),
      lagP99Mean: s.reduce((a, p) => a + p.p99, 0) / s.length,
      lagMax: Math.max(...s.map((p) => p.max)),
    };
  }

  /** Resident set size in bytes, from /proc. */
  rss(): number {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await Promise.race([this.exited, sleep(10000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port nobody listens on right now (for a process whose URL others need before it starts). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs `fn` with a connection of its own to `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Where a bench run lives: PostgreSQL and NATS from the environment, a database and subject prefix of its own. */
export function benchTarget(kind: string) {
  const adminUrl = process.env["DATABASE_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const natsUrl = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
  const suffix = randomBytes(4).toString("hex");
  const dbName = `bench_${kind}_${suffix}`;
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return {
    adminUrl,
    natsUrl,
    suffix,
    dbName,
    databaseUrl: u.toString(),
    envName: `bench-${kind.slice(0, 3)}-${suffix}`,
    jwtSecret: randomBytes(24).toString("hex"),
  };
}

/** Drops a bench run's database and deletes the streams of its environment names. */
export async function removeBenchTarget(t: {
  adminUrl: string;
  natsUrl: string;
  dbName: string;
  envNames: string[];
}): Promise<void> {
  const nc = await connect({ servers: t.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const prefixes = t.envNames.map((env) => `${env.toUpperCase().replace(/-/g, "_")}_`);
    for await (const s of jsm.streams.list()) {
      if (prefixes.some((p) => s.config.name.startsWith(p))) await jsm.streams.delete(s.config.name);
    }
  } finally {
    await nc.close();
  }
  await withClient(t.adminUrl, (c) => c.query(`drop database if exists "${t.dbName}" with (force)`));
}

/** An `app.created` snapshot of a pro-code app released in one phase (RELEASE), as app-svc publishes it. */
export function benchAppSnapshot(appId: number, team: string) {
  return {
    appId,
    team,
    name: `bench-${appId}`,
    devMode: "pro-code" as const,
    techStack: "python" as const,
    revision: 1,
    createdBy: "bench",
    updatedAt: new Date().toISOString(),
    procode: {
      gitRepoUrl: "https://git.example.com/bench.git",
      gitType: "GITLAB" as const,
      credentialId: null,
      scaffoldTemplate: null,
      webhookUrl: "https://platform.example.com/webhook/bench",
      webhookSecret: { keyId: "k1", ciphertext: "c2VjcmV0" },
      credentialRequired: false,
      stageConfigs: {},
      phases: ["RELEASE" as const],
      concurrency: "QUEUE" as const,
      deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
    },
  };
}

/** Publishes one event of `def` in its envelope, as a service's outbox would. */
export async function publishEvent(
  js: JetStreamClient,
  envName: string,
  def: MessageDefinition,
  data: unknown,
): Promise<void> {
  const id = randomUUID();
  await js.publish(
    messageSubject(envName, def.type),
    JSON.stringify({
      id,
      type: def.type,
      version: def.version,
      occurredAt: new Date().toISOString(),
      correlationId: `bench-${id.slice(0, 8)}`,
      data,
    }),
    { msgID: id },
  );
}

/**
 * Asks the engine to release iteration `2,000,000 + i` of `appId` (RELEASE phase `3,000,000 + i`, tag
 * v1.0.0) by the request/reply dev-svc uses; true when the engine accepted it.
 */
export async function requestRelease(
  nc: NatsConnection,
  envName: string,
  o: { i: number; appId: number; team: string },
): Promise<{ ok: boolean; error?: unknown }> {
  const msg = await nc.request(
    rpcSubject(envName, RPC.PROCEED_ITERATION),
    JSON.stringify({
      id: randomUUID(),
      correlationId: `bench-release-${o.i}`,
      data: {
        iterationId: 2_000_000 + o.i,
        appId: o.appId,
        targetPhase: "RELEASE",
        release: {
          iterationPhaseId: 3_000_000 + o.i,
          tag: "v1.0.0",
          branch: "main",
          commitId: null,
          rollback: false,
        },
        actor: { sub: "bench", team: o.team },
      },
    }),
    { timeout: 30000 },
  );
  return msg.json<{ ok: boolean; error?: unknown }>();
}

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Load average (1 min) from /proc. */
export function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One value of a Prometheus text exposition (first sample of that name). */
export function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(" ").at(-1)) : NaN;
}

/**
 * An open-loop HTTP GET load at a fixed rate (requests are scheduled on the clock, and latency is
 * measured from the scheduled time, so a slow server cannot hide its queueing).
 */
export async function getLoad(opts: {
  url: string;
  paths: () => string;
  token: string;
  ratePerSec: number;
  durationMs: number;
}): Promise<{
  sent: number;
  ok: number;
  failed: number;
  latencies: number[];
  statuses: Record<string, number>;
}> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(opts.url);
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const one = (scheduled: number) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: opts.paths(),
          headers: { authorization: `Bearer ${opts.token}` },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            latencies.push(performance.now() - scheduled);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        statuses[err.message] = (statuses[err.message] ?? 0) + 1;
        failed++;
        resolve();
      });
      req.end();
    });
  while (performance.now() - start < opts.durationMs) {
    const due = Math.floor(((performance.now() - start) / 1000) * opts.ratePerSec);
    while (sent < due) {
      const scheduled = start + (sent / opts.ratePerSec) * 1000;
      sent++;
      const p = one(scheduled);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await sleep(1);
  }
  await Promise.all([...inflight]);
  agent.destroy();
  return { sent, ok, failed, latencies, statuses };
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 when it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by the PostgreSQL backends connected to `dbName` (one that has gone is not counted). */
export async function backendsCpu(client: pg.Client, dbName: string): Promise<number> {
  const { rows } = await client.query<{ pid: number }>(
    `select pid from pg_stat_activity where datname = $1`,
    [dbName],
  );
  return rows.reduce((sum, r) => sum + cpuSeconds(r.pid), 0);
}

/** CPU seconds (user + system) this process has used so far. */
export function ownCpuSeconds(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6;
}

/**
 * Read and write system calls a process has made so far (`syscr`, `syscw` of /proc/PID/io; zeros when
 * it is gone). A Node.js process reads and writes its sockets with read/write/writev, which these
 * count; PostgreSQL's backends use send/recv, which they do not.
 */
export function ioCalls(pid: number | undefined): { reads: number; writes: number } {
  if (!pid) return { reads: 0, writes: 0 };
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? 0);
    return { reads: field("syscr"), writes: field("syscw") };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

/** pids of processes whose command line contains `needle`. */
export function pidsOf(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Builds a package's production bundle with its own `build` script, as its Dockerfile does. */
export function bundle(dir: string): void {
  execFileSync("pnpm", ["run", "--silent", "build"], { cwd: path.join(repoRoot, dir), stdio: "ignore" });
}

/**
 * The same fixed piece of JavaScript on every run (JSON out and in, a hash, a sort over 2,000
 * pipeline-like rows), run in a new Node.js process: the least CPU time of five rounds after one to
 * warm up, in milliseconds. The machines are shared, and how fast their CPU is varies from day to
 * day; CPU seconds from two runs compare only when their references are close
 * (docs/performance.md, "The machine's speed").
 */
function cpuReference(): number {
  const script = `
    const { createHash } = require("node:crypto");
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      id: i, appId: i % 97, status: ["RUNNING", "SUCCESS", "FAILED"][i % 3], stage: "BUILD",
      attempt: i % 4, createdAt: new Date(1.7e12 + i * 1000).toISOString(),
      checkpoints: [{ stage: "CODE_CHECK", status: "SUCCESS", output: { commit: "c" + i } }],
    }));
    const round = () => {
      const start = process.cpuUsage();
      for (let n = 0; n < 20; n++) {
        const text = JSON.stringify(rows);
        createHash("sha256").update(text).digest("hex");
        JSON.parse(text).sort((a, b) => b.appId - a.appId || a.id - b.id);
      }
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
    round();
    process.stdout.write(String(Math.min(...Array.from({ length: 5 }, round))));`;
  return Number(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }));
}

/** The reference as the benches print it beside the load average. */
export function cpuReferenceLine(): string {
  return `CPU reference ${cpuReference().toFixed(0)} ms (lower is faster)`;
}

/**
 * PostgreSQL's own ceiling on this machine, for the ratio beside the engine's figures: pgbench on a
 * scratch database (`pgbench -i`), a custom script that updates one row of a 1,000-row table per
 * transaction (each a commit, synchronous_commit as configured), 16 clients, 2 threads.
 */
export async function pgbenchCeiling(
  adminUrl: string,
  seconds = 15,
): Promise<{ tps: number; latencyMs: number; synchronousCommit: string }> {
  const db = `bench_pgbench_${randomBytes(4).toString("hex")}`;
  const admin = new URL(adminUrl);
  const conn = [
    "-h",
    admin.hostname,
    "-p",
    admin.port || "5432",
    "-U",
    decodeURIComponent(admin.username || "postgres"),
  ];
  const env = {
    ...process.env,
    ...(admin.password ? { PGPASSWORD: decodeURIComponent(admin.password) } : {}),
  };
  await withClient(adminUrl, (c) => c.query(`create database "${db}"`));
  const dir = mkdtempSync(path.join(os.tmpdir(), "pgbench-"));
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${db}`;
    execFileSync("pgbench", [...conn, "-i", "-q", "-s", "1", db], { env, stdio: "ignore" });
    const synchronousCommit = await withClient(url.toString(), async (c) => {
      await c.query(`create table bench_row (id int primary key, n bigint not null default 0)`);
      await c.query(`insert into bench_row (id) select g from generate_series(1, 1000) g`);
      await c.query(`vacuum analyze bench_row`);
      return (await c.query<{ s: string }>(`select current_setting('synchronous_commit') as s`)).rows[0]!.s;
    });
    const script = path.join(dir, "update-one-row.sql");
    writeFileSync(script, "\\set id random(1, 1000)\nupdate bench_row set n = n + 1 where id = :id;\n");
    const out = execFileSync(
      "pgbench",
      [...conn, "-n", "-c", "16", "-j", "2", "-T", String(seconds), "-f", script, db],
      { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
    const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? NaN);
    return { tps, latencyMs, synchronousCommit };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await withClient(adminUrl, (c) => c.query(`drop database if exists "${db}" with (force)`));
  }
}

export interface StackOptions {
  databaseUrl: string;
  natsUrl: string;
  envName: string;
  jwtSecret: string;
  /** Services from their production bundles (dist/main.js) instead of tsx. */
  fromBundles: boolean;
  /** DEPLOY through ops-gateway and the reference ops module (false: the runner plays ops-gateway). */
  opsMode: boolean;
  /** Deployments never finish (ops module: a day; runner: started only). */
  hold: boolean;
  engineNodeArgs?: string[];
  /** Write a V8 CPU profile of every service (not the runner) into this directory on exit. */
  cpuProfileDir?: string;
  /** app-svc, dev-svc and the gateway as well (the API bench). */
  api?: {
    /** dev-svc's own subject prefix: it serves the seeded iterations and stays out of the bench's stage work. */
    devEnvName: string;
    encryptionKeys: string;
  };
}

export interface Stack {
  engine: Proc;
  opsGateway: Proc | null;
  opsModule: Proc | null;
  runner: Proc;
  appSvc: Proc | null;
  devSvc: Proc | null;
  gateway: Proc | null;
  /** Every process, engine first. */
  all: Proc[];
  engineStartMs: number;
  stop(): Promise<void>;
}

/**
 * Starts the bench's processes on one database and subject prefix: the engine, ops-gateway with the
 * reference ops module (ZERO_DELAY) and the zero-delay stage runner; for the API bench also app-svc,
 * dev-svc and the gateway in front of them all. Each logs at info, as `npm start` runs them.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  const common = {
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    DATABASE_URL: o.databaseUrl,
    NATS_URL: o.natsUrl,
    ENV_NAME: o.envName,
    AUTH_JWT_SECRET: o.jwtSecret,
  };
  const profile = o.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfileDir}`] : [];
  const service = (name: string, dir: string, env: Record<string, string>, nodeArgs: string[] = []) => {
    if (o.fromBundles) bundle(dir);
    return new Proc(
      name,
      path.join(repoRoot, dir),
      o.fromBundles ? "dist/main.js" : "src/main.ts",
      env,
      [...profile.map((a) => (a.startsWith("--cpu-prof-dir") ? `${a}/${name}` : a)), ...nodeArgs],
      !o.fromBundles,
    );
  };
  const callbackSecret = randomBytes(16).toString("hex");
  let opsModule: Proc | null = null;
  let opsGateway: Proc | null = null;
  if (o.opsMode) {
    const opsGatewayPort = await freePort();
    opsModule = service("ops-module", "tools/ops-module", {
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      CALLBACK_URL: `http://127.0.0.1:${opsGatewayPort}/deploy/callback`,
      CALLBACK_SECRET: callbackSecret,
      // Held: a deployment takes a day (ops-gateway polls it at the stage's interval meanwhile).
      ...(o.hold
        ? { ZERO_DELAY: "false", DEFAULT_DURATION_MS: String(24 * 3600_000) }
        : { ZERO_DELAY: "true" }),
    });
    opsModule.start();
    await opsModule.waitListening();
    opsGateway = service("ops-gateway", "services/ops-gateway", {
      ...common,
      PORT: String(opsGatewayPort),
      OPS_BASE_URL: opsModule.url!,
      OPS_CALLBACK_SECRET: callbackSecret,
    });
    opsGateway.start();
  }
  const engine = service(
    "engine",
    "services/pipeline-engine",
    { ...common, PORT: "0" },
    o.engineNodeArgs ?? [],
  );
  engine.start();
  let appSvc: Proc | null = null;
  let devSvc: Proc | null = null;
  if (o.api) {
    appSvc = service("app-svc", "services/app-svc", {
      ...common,
      PORT: "0",
      ENCRYPTION_KEYS: o.api.encryptionKeys,
    });
    devSvc = service("dev-svc", "services/dev-svc", {
      ...common,
      PORT: "0",
      ENV_NAME: o.api.devEnvName,
      ENCRYPTION_KEYS: o.api.encryptionKeys,
      ...(opsModule ? { BUILDER_URL: opsModule.url! } : {}),
    });
    appSvc.start();
    devSvc.start();
  }
  const engineStartMs = await engine.waitListening();
  await opsGateway?.waitListening();
  await appSvc?.waitListening();
  await devSvc?.waitListening();
  const runner = new Proc("runner", path.join(repoRoot, "bench"), "pipelines/runner.ts", {
    NATS_URL: o.natsUrl,
    ENV_NAME: o.envName,
    RUNNER_DEPLOYS: o.opsMode ? "0" : "1",
    HOLD_DEPLOY: o.hold ? "1" : "0",
  });
  runner.start();
  let gateway: Proc | null = null;
  if (o.api) {
    gateway = service("gateway", "tools/gateway", {
      ...common,
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      APP_SVC_URL: appSvc!.url!,
      DEV_SVC_URL: devSvc!.url!,
      PIPELINE_ENGINE_URL: engine.url!,
      OPS_GATEWAY_URL: opsGateway?.url ?? "http://127.0.0.1:9",
    });
    gateway.start();
    await gateway.waitListening();
  }
  const all = [engine, opsGateway, opsModule, appSvc, devSvc, gateway, runner].filter(
    (p): p is Proc => p !== null,
  );
  return {
    engine,
    opsGateway,
    opsModule,
    runner,
    appSvc,
    devSvc,
    gateway,
    all,
    engineStartMs,
    async stop() {
      for (const p of [gateway, runner, engine, appSvc, devSvc, opsGateway, opsModule])
        await p?.kill("SIGTERM");
    },
  };
}

/**
 * The whole platform behind its gateway on a database of its own (created here): app-svc, dev-svc
 * (on its own subject prefix, out of the bench's stage work), the engine, ops-gateway with the
 * reference ops module in ZERO_DELAY mode and the zero-delay stage runner. For the API and event
 * benches; says what it starts from and the load average first.
 */
export async function startApiStack(
  name: string,
  t: { adminUrl: string; natsUrl: string; dbName: string; databaseUrl: string; jwtSecret: string },
  o: { envName: string; devEnvName: string; fromBundles: boolean; cpuProfileDir?: string | undefined },
): Promise<Stack & Record<"gateway" | "appSvc" | "devSvc", Proc>> {
  await withClient(t.adminUrl, (c) => c.query(`create database "${t.dbName}"`));
  process.stdout.write(
    `bench ${name}: services from ${o.fromBundles ? "bundles" : "source (tsx)"}; load average ${loadAverage().toFixed(2)} before start; ${cpuReferenceLine()}\n`,
  );
  const stack = await startStack({
    databaseUrl: t.databaseUrl,
    natsUrl: t.natsUrl,
    envName: o.envName,
    jwtSecret: t.jwtSecret,
    fromBundles: o.fromBundles,
    opsMode: true,
    hold: false,
    api: { devEnvName: o.devEnvName, encryptionKeys: KeyRing.generateSpec("bench") },
    ...(o.cpuProfileDir ? { cpuProfileDir: o.cpuProfileDir } : {}),
  });
  return stack as Stack & Record<"gateway" | "appSvc" | "devSvc", Proc>;
}
