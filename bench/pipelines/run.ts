/**
 * Pipeline engine benchmark. Starts the engine and a zero-delay runner as real processes on a
 * fresh database and NATS environment, releases N pipelines (one app and iteration each, RELEASE
 * by the PROCEED_ITERATION request) and prints:
 *   - stage transitions per second (overall and the best 5 s window), release-to-RELEASED latency
 *     P50/P99 under that load, engine RSS and event-loop delay;
 *   - release latency P50/P99 of single releases on an otherwise idle engine;
 *   - with --get-rate R: GET /pipelines/{id} latency at R requests/s while the pipelines run;
 *   - with --restart: SIGKILL of the engine half-way and the time from the new process's start to
 *     its first transition;
 *   - with --hold: the runner only starts deployments, so all N pipelines stay in DEPLOYING, and
 *     the engine's RSS is measured with N in flight;
 *   - with --bundle: the engine runs from its production bundle (dist/main.js) rather than tsx.
 *
 *   pnpm --filter @procode/bench pipelines 2000 --get-rate 1000
 *   DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { AppCreated, messageSubject, RPC, rpcSubject, type MessageDefinition } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import { cpuSeconds, getLoad, metric, percentile, pidsOf, Proc, repoRoot, sleep } from "./lib.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "get-rate": { type: "string", default: "0" },
    restart: { type: "boolean", default: false },
    hold: { type: "boolean", default: false },
    "rpc-concurrency": { type: "string", default: "64" },
    "latency-samples": { type: "string", default: "50" },
    keep: { type: "boolean", default: false },
    // Run the engine from its production bundle (dist/main.js, built first) instead of tsx.
    bundle: { type: "boolean", default: false },
  },
});
const N = Number(positionals[0] ?? 1000);
const getRate = Number(values["get-rate"]);
const adminUrl = process.env["DATABASE_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const natsUrl = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const suffix = randomBytes(4).toString("hex");
const dbName = `bench_pipelines_${suffix}`;
const envName = `bench-${suffix}`;
const jwtSecret = randomBytes(24).toString("hex");
const databaseUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

const log = (msg: string) => process.stdout.write(`${msg}\n`);

async function query<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`create database "${dbName}"`);
await admin.end();

const engineEnv = {
  PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "info",
  DATABASE_URL: databaseUrl,
  NATS_URL: natsUrl,
  ENV_NAME: envName,
  AUTH_JWT_SECRET: jwtSecret,
};
const engineDir = path.join(repoRoot, "services", "pipeline-engine");
if (values.bundle) {
  execFileSync(
    process.execPath,
    [path.join(repoRoot, "scripts", "bundle.mjs"), "src/main.ts", "dist/main.js"],
    {
      cwd: engineDir,
      stdio: "ignore",
    },
  );
}
// ENGINE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the engine.
const engine = new Proc(
  "engine",
  engineDir,
  values.bundle ? "dist/main.js" : "src/main.ts",
  engineEnv,
  (process.env["ENGINE_NODE_ARGS"] ?? "").split(" ").filter(Boolean),
  !values.bundle,
);
engine.start();
const engineStartMs = await engine.waitListening();
const runner = new Proc("runner", path.join(repoRoot, "bench"), "pipelines/runner.ts", {
  NATS_URL: natsUrl,
  ENV_NAME: envName,
  HOLD_DEPLOY: values.hold ? "1" : "0",
});
runner.start();

const nc = await connect({ servers: natsUrl, name: "bench" });
const js = jetstream(nc);

async function publish<D extends MessageDefinition>(def: D, data: unknown): Promise<void> {
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

const releasedAt = new Map<number, number>();
const phaseOf = new Map<number, string>();
nc.subscribe(messageSubject(envName, "pipeline.iteration_phase_changed.v1"), {
  callback: (_e, m) => {
    const d = m.json<{ data: { iterationId: number; phase: string } }>().data;
    phaseOf.set(d.iterationId, d.phase);
    if (d.phase === "RELEASED" && !releasedAt.has(d.iterationId))
      releasedAt.set(d.iterationId, performance.now());
  },
});
const deploying = new Set<number>();
nc.subscribe(messageSubject(envName, "ops.deployment_started.v1"), {
  callback: (_e, m) => {
    deploying.add(m.json<{ data: { pipelineId: number } }>().data.pipelineId);
  },
});

async function scrape(): Promise<{
  transitions: number;
  lagP99: number;
  rss: number;
  batches: number;
  batched: number;
}> {
  const text = await (await fetch(`${engine.url}/metrics`)).text();
  return {
    batches: metric(text, "pipeline_command_batch_size_count"),
    batched: metric(text, "pipeline_command_batch_size_sum"),
    transitions: metric(text, "pipeline_transitions_total"),
    lagP99: metric(text, "nodejs_eventloop_lag_p99_seconds") * 1000,
    rss: engine.rss(),
  };
}

// --- apps -----------------------------------------------------------------------------------
const TOTAL = N + Number(values["latency-samples"]);
const appIds = Array.from({ length: TOTAL }, (_, i) => 1_000_000 + i);
for (let i = 0; i < appIds.length; i += 500) {
  await Promise.all(
    appIds.slice(i, i + 500).map((appId) =>
      publish(AppCreated, {
        appId,
        team: "bench",
        name: `bench-${appId}`,
        devMode: "pro-code",
        techStack: "python",
        revision: 1,
        createdBy: "bench",
        updatedAt: new Date().toISOString(),
        procode: {
          gitRepoUrl: "https://git.example.com/bench.git",
          gitType: "GITLAB",
          credentialId: null,
          scaffoldTemplate: null,
          webhookUrl: "https://platform.example.com/webhook/bench",
          webhookSecret: { keyId: "k1", ciphertext: "c2VjcmV0" },
          credentialRequired: false,
          stageConfigs: {},
          phases: ["RELEASE"],
          concurrency: "QUEUE",
          deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
        },
      }),
    ),
  );
}
for (;;) {
  const [row] = await query<{ n: string }>(`select count(*) as n from pipeline.app_settings`);
  if (Number(row!.n) >= TOTAL) break;
  await sleep(100);
}
log(`engine started in ${engineStartMs.toFixed(0)} ms; ${TOTAL} apps projected`);

const sentAt = new Map<number, number>();
async function releaseOne(i: number): Promise<void> {
  const appId = appIds[i]!;
  const iterationId = 2_000_000 + i;
  sentAt.set(iterationId, performance.now());
  const msg = await nc.request(
    rpcSubject(envName, RPC.PROCEED_ITERATION),
    JSON.stringify({
      id: randomUUID(),
      correlationId: `bench-release-${i}`,
      data: {
        iterationId,
        appId,
        targetPhase: "RELEASE",
        release: {
          iterationPhaseId: 3_000_000 + i,
          tag: "v1.0.0",
          branch: "main",
          commitId: null,
          rollback: false,
        },
        actor: { sub: "bench", team: "bench" },
      },
    }),
    { timeout: 30000 },
  );
  const reply = msg.json<{ ok: boolean; error?: unknown }>();
  if (!reply.ok) throw new Error(`release ${i} refused: ${JSON.stringify(reply.error)}`);
}

// --- throughput phase -----------------------------------------------------------------------
const samples: { t: number; transitions: number; lagP99: number; rss: number }[] = [];
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      samples.push({ t: performance.now(), ...(await scrape()) });
    } catch {
      // the engine is restarting
    }
    await sleep(1000);
  }
})();

/** CPU used so far by each part: engine, runner, nats-server, and this database's PostgreSQL backends. */
async function cpu(): Promise<Record<string, number>> {
  const backends = (
    await query<{ pid: number }>(`select pid from pg_stat_activity where datname = $1`, [dbName])
  ).map((r) => r.pid);
  return {
    engine: cpuSeconds(engine.child.pid),
    runner: cpuSeconds(runner.child.pid),
    "nats-server": pidsOf("nats-server").reduce((s, p) => s + cpuSeconds(p), 0),
    postgres: backends.reduce((s, p) => s + cpuSeconds(p), 0),
  };
}
const cpu0 = await cpu();
const before = await scrape();
const t0 = performance.now();
let next = 0;
const conc = Number(values["rpc-concurrency"]);
let restartReport = "";
const releasing = Promise.all(
  Array.from({ length: conc }, async () => {
    while (next < N) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        try {
          await releaseOne(i);
          break;
        } catch (err) {
          if (attempt > 20) throw err;
          await sleep(200); // e.g. no responder while the engine restarts
        }
      }
    }
  }),
);

const paths = () => `/pipelines/${1 + Math.floor(Math.random() * Math.max(1, 2 * Math.min(next, N)))}`;
const token = await signToken({ sub: "bench", team: "bench" }, jwtSecret);
const getting =
  getRate > 0
    ? (async () => {
        await sleep(500);
        return getLoad({ url: engine.url!, paths, token, ratePerSec: getRate, durationMs: 20000 });
      })()
    : Promise.resolve(null);

const done = () => (values.hold ? deploying.size : releasedAt.size);
if (values.restart) {
  while (done() < N / 2) await sleep(5);
  const [{ n: countAtKill }] = (await query<{ n: string }>(
    `select count(*) as n from pipeline.transition`,
  )) as [{ n: string }];
  await engine.kill("SIGKILL");
  engine.start();
  const listening = await engine.waitListening();
  let first = 0;
  for (;;) {
    const [{ n }] = (await query<{ n: string }>(`select count(*) as n from pipeline.transition`)) as [
      { n: string },
    ];
    if (Number(n) > Number(countAtKill)) {
      first = performance.now() - engine.startedAt;
      break;
    }
    await sleep(10);
  }
  restartReport = `restart: SIGKILL with ${releasedAt.size}/${N} released; new process listening after ${listening.toFixed(0)} ms, first transition ${first.toFixed(0)} ms after it was started`;
}
await releasing;
while (done() < N) await sleep(20);
const t1 = performance.now();
const cpu1 = await cpu();
const after = await scrape();
const getResult = await getting;
sampling = false;
await sampler;

const elapsed = (t1 - t0) / 1000;
const transitions = values.restart
  ? Number((await query<{ n: string }>(`select count(*) as n from pipeline.transition`))[0]!.n)
  : after.transitions - before.transitions;
const windows: number[] = [];
for (let i = 5; i < samples.length; i++) {
  const a = samples[i - 5]!;
  const b = samples[i]!;
  if (b.transitions >= a.transitions) windows.push(((b.transitions - a.transitions) * 1000) / (b.t - a.t));
}
const e2e = [...sentAt.entries()]
  .filter(([it]) => releasedAt.has(it))
  .map(([it, s]) => releasedAt.get(it)! - s);
const maxRss = Math.max(...samples.map((s) => s.rss), after.rss);
const maxLag = Math.max(...samples.map((s) => s.lagP99).filter((v) => Number.isFinite(v)));

log(`--- ${N} pipelines${values.hold ? " held in DEPLOYING" : ""} in ${elapsed.toFixed(1)} s`);
log(
  `transitions: ${transitions} (${(transitions / elapsed).toFixed(0)}/s overall, best 5 s window ${windows.length ? Math.max(...windows).toFixed(0) : "n/a"}/s)`,
);
if (!values.hold)
  log(
    `release -> RELEASED under load: P50 ${percentile(e2e, 50).toFixed(0)} ms, P99 ${percentile(e2e, 99).toFixed(0)} ms`,
  );
log(
  `CPU seconds per 1,000 transitions: ${Object.keys(cpu1)
    .map((k) => `${k} ${(((cpu1[k]! - (cpu0[k] ?? 0)) * 1000) / Math.max(1, transitions)).toFixed(2)}`)
    .join(", ")} (postgres: this database's backends; nats-server is shared with other users of the machine)`,
);
log(
  `commands per transaction: ${((after.batched - before.batched) / Math.max(1, after.batches - before.batches)).toFixed(1)} on average`,
);
log(`engine RSS max ${(maxRss / 2 ** 20).toFixed(0)} MiB; event-loop delay P99 max ${maxLag.toFixed(1)} ms`);
if (getResult) {
  log(
    `GET /pipelines/{id} at ${getRate}/s for 20 s: ${getResult.ok} ok, ${getResult.failed} failed; P50 ${percentile(getResult.latencies, 50).toFixed(1)} ms, P99 ${percentile(getResult.latencies, 99).toFixed(1)} ms, max ${Math.max(...getResult.latencies).toFixed(1)} ms; answers ${JSON.stringify(getResult.statuses)}`,
  );
}
if (restartReport) log(restartReport);

if (values.hold) {
  await sleep(5000);
  log(`after 5 s idle with ${N} in DEPLOYING: engine RSS ${(engine.rss() / 2 ** 20).toFixed(0)} MiB`);
} else {
  // --- latency phase: one release at a time on an idle engine -------------------------------
  const lat: number[] = [];
  for (let i = N; i < TOTAL; i++) {
    await releaseOne(i);
    const it = 2_000_000 + i;
    while (!releasedAt.has(it)) await sleep(1);
    lat.push(releasedAt.get(it)! - sentAt.get(it)!);
  }
  log(
    `single release -> RELEASED on an idle engine (${lat.length} samples): P50 ${percentile(lat, 50).toFixed(0)} ms, P99 ${percentile(lat, 99).toFixed(0)} ms`,
  );
}

await runner.kill("SIGTERM");
await engine.kill("SIGTERM");
await nc.close();
if (!values.keep) {
  const c = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(c);
  for await (const s of jsm.streams.list()) {
    if (s.config.name.startsWith(`${envName.toUpperCase().replace(/-/g, "_")}_`))
      await jsm.streams.delete(s.config.name);
  }
  await c.close();
  const a = new pg.Client({ connectionString: adminUrl });
  await a.connect();
  await a.query(`drop database if exists "${dbName}" with (force)`);
  await a.end();
}
process.exit(0);
