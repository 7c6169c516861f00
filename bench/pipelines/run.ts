/**
 * Pipeline engine benchmark. On a fresh database and NATS environment it starts, as real processes,
 * the engine, ops-gateway, the reference ops module with ZERO_DELAY=true (DEPLOY goes the real way:
 * request -> ops-gateway -> POST /deploy/create -> signed callback -> deployment finished) and a
 * zero-delay stage runner (answers CODE_CHECK, BUILD and PACKAGE at once). It releases N pipelines
 * (one app and iteration each, RELEASE by the PROCEED_ITERATION request) and prints:
 *   - PostgreSQL's own ceiling on this machine first (pgbench, single-row updates, 16 clients), so
 *     the transition rate can be read as a ratio of it;
 *   - stage transitions per second (overall, median and best 5 s window), release -> RELEASED
 *     latency P50/P99 under that load (the whole pipeline, end to end);
 *   - release -> RELEASED P50/P99 of single releases on an otherwise idle platform;
 *   - the first transition after a SIGKILL of the engine and its restart, with pipelines in flight;
 *   - per process: RSS, event-loop delay (perf_hooks, from a probe loaded into each process) and
 *     CPU per 1,000 transitions (PostgreSQL's backends of this database and nats-server too).
 * Options:
 *   --runner-deploys   the runner plays ops-gateway for DEPLOY (no ops-gateway, no ops module)
 *   --hold             deployments never finish: all N pipelines stay in DEPLOYING (engine RSS)
 *   --get-rate R       GET /pipelines/{id} at R requests/s (open loop) while the pipelines run
 *   --bundle           the services run from their production bundles (dist/main.js), not tsx
 *   --cpu-prof DIR     a V8 CPU profile of each service into DIR/<service>/ (summarise them with
 *                      `pnpm --filter @procode/bench profile-summary <file>`); use with --skip-restart
 *   --history H        H releases (default 3000) run to the end before the measured ones, then the
 *                      database is vacuumed and analyzed, so that PostgreSQL plans the measured run with the
 *                      statistics of a platform that has been in use, and the services run code V8 has
 *                      already compiled, as a service that has been up for a while does; the CPU of the
 *                      first 300 is printed beside it (docs/performance.md, "seventh pass: warm services")
 *   --skip-pgbench, --skip-restart, --keep, --rpc-concurrency C, --latency-samples S,
 *   --restart-pipelines R
 *
 *   pnpm --filter @procode/bench pipelines 3000 [--bundle] [--get-rate 1000]
 *   DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222
 *   ENGINE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the engine.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import {
  AppCreated,
  messageSubject,
  streamName,
  type MessageDefinition,
  type StreamKey,
} from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  backendsCpu,
  cpuReferenceLine,
  cpuSeconds,
  ioCalls,
  getLoad,
  loadAverage,
  metric,
  mib,
  percentile,
  pgbenchCeiling,
  pidsOf,
  sleep,
  startStack,
  benchAppSnapshot,
  benchTarget,
  publishEvent,
  removeBenchTarget,
  requestRelease,
} from "./lib.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "get-rate": { type: "string", default: "0" },
    hold: { type: "boolean", default: false },
    "runner-deploys": { type: "boolean", default: false },
    "rpc-concurrency": { type: "string", default: "64" },
    "latency-samples": { type: "string", default: "50" },
    "restart-pipelines": { type: "string", default: "200" },
    history: { type: "string", default: "3000" },
    "skip-restart": { type: "boolean", default: false },
    "skip-pgbench": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    bundle: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
  },
});
const N = Number(positionals[0] ?? 1000);
const getRate = Number(values["get-rate"]);
const opsMode = !values["runner-deploys"];
const hold = values.hold;
const latencySamples = hold ? 0 : Number(values["latency-samples"]);
const restartCount = hold || values["skip-restart"] ? 0 : Number(values["restart-pipelines"]);
const historyCount = hold ? 0 : Number(values.history);
const { adminUrl, natsUrl, dbName, envName, jwtSecret, databaseUrl } = benchTarget("pipelines");

const log = (msg: string) => process.stdout.write(`${msg}\n`);
const loads: number[] = [];
const loadSampler = setInterval(() => loads.push(loadAverage()), 5000);
log(
  `bench pipelines: N=${N}, DEPLOY through ${opsMode ? "ops-gateway + reference ops module (ZERO_DELAY)" : "the runner (plays ops-gateway)"}${hold ? ", held in DEPLOYING" : ""}, services from ${values.bundle ? "bundles" : "source (tsx)"}; load average ${loadAverage().toFixed(2)} before start; ${cpuReferenceLine()}`,
);

// --- PostgreSQL's own ceiling, before anything else runs ---------------------------------------
let ceiling: Awaited<ReturnType<typeof pgbenchCeiling>> | null = null;
if (!values["skip-pgbench"]) {
  const la = loadAverage();
  ceiling = await pgbenchCeiling(adminUrl);
  log(
    `PostgreSQL ceiling (pgbench, one-row UPDATE per transaction, 16 clients, -j 2, 15 s, synchronous_commit=${ceiling.synchronousCommit}): ${ceiling.tps.toFixed(0)} tps, latency average ${ceiling.latencyMs.toFixed(1)} ms (load average ${la.toFixed(2)} -> ${loadAverage().toFixed(2)})`,
  );
}

const db = new pg.Client({ connectionString: adminUrl });
await db.connect();
await db.query(`create database "${dbName}"`);
await db.end();
const dbc = new pg.Client({ connectionString: databaseUrl });
await dbc.connect();
const count = async (sql: string, params: unknown[] = []) =>
  Number((await dbc.query<{ n: string }>(sql, params)).rows[0]!.n);

// --- processes ------------------------------------------------------------------------------
const stack = await startStack({
  databaseUrl,
  natsUrl,
  envName,
  jwtSecret,
  fromBundles: values.bundle,
  opsMode,
  hold,
  // ENGINE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the engine.
  engineNodeArgs: (process.env["ENGINE_NODE_ARGS"] ?? "").split(" ").filter(Boolean),
  ...(values["cpu-prof"] ? { cpuProfileDir: path.resolve(values["cpu-prof"]) } : {}),
});
const { engine, engineStartMs } = stack;
const procs = stack.all;

const nc = await connect({ servers: natsUrl, name: "bench" });
const js = jetstream(nc);

const publish = (def: MessageDefinition, data: unknown) => publishEvent(js, envName, def, data);

const releasedAt = new Map<number, number>();
/** Wall-clock times (ms since the epoch) of the single releases, for the hop breakdown. */
const sentEpoch = new Map<number, number>();
const releasedEpoch = new Map<number, number>();
nc.subscribe(messageSubject(envName, "pipeline.iteration_phase_changed.v1"), {
  callback: (_e, m) => {
    const d = m.json<{ data: { iterationId: number; phase: string } }>().data;
    if (d.phase === "RELEASED" && !releasedAt.has(d.iterationId)) {
      releasedAt.set(d.iterationId, performance.now());
      releasedEpoch.set(d.iterationId, Date.now());
    }
  },
});
const deploying = new Set<number>();
nc.subscribe(messageSubject(envName, "ops.deployment_started.v1"), {
  callback: (_e, m) => {
    deploying.add(m.json<{ data: { pipelineId: number } }>().data.pipelineId);
  },
});

async function scrape(): Promise<{ t: number; transitions: number; batches: number; batched: number }> {
  const text = await (await fetch(`${engine.url}/metrics`)).text();
  return {
    t: performance.now(),
    batches: metric(text, "pipeline_command_batch_size_count"),
    batched: metric(text, "pipeline_command_batch_size_sum"),
    transitions: metric(text, "pipeline_transitions_total"),
  };
}

// --- apps -----------------------------------------------------------------------------------
const HISTORY_FROM = N + latencySamples + restartCount;
const TOTAL = HISTORY_FROM + historyCount;
const appIds = Array.from({ length: TOTAL }, (_, i) => 1_000_000 + i);
for (let i = 0; i < appIds.length; i += 500) {
  await Promise.all(
    appIds.slice(i, i + 500).map((appId) => publish(AppCreated, benchAppSnapshot(appId, "bench"))),
  );
}
while ((await count(`select count(*) as n from pipeline.app_settings`)) < TOTAL) await sleep(100);
log(`engine listening ${engineStartMs.toFixed(0)} ms after its start; ${TOTAL} apps projected`);
// For samples taken outside the bench (perf-summary --names).
log(`processes: ${procs.map((p) => `${p.name} ${p.child.pid}`).join(", ")}`);

const sentAt = new Map<number, number>();
async function releaseOne(i: number): Promise<void> {
  const appId = appIds[i]!;
  const iterationId = 2_000_000 + i;
  sentAt.set(iterationId, performance.now());
  sentEpoch.set(iterationId, Date.now());
  const reply = await requestRelease(nc, envName, { i, appId, team: "bench" });
  if (!reply.ok) throw new Error(`release ${i} refused: ${JSON.stringify(reply.error)}`);
}

/** Releases [from, to) with `conc` at a time, retrying a release the engine did not answer. */
function releaseRange(from: number, to: number, conc: number): Promise<unknown> {
  let next = from;
  return Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < to) {
        const i = next++;
        for (let attempt = 0; ; attempt++) {
          try {
            await releaseOne(i);
            break;
          } catch (err) {
            if (attempt > 50) throw err;
            await sleep(200); // no responder while the engine restarts
          }
        }
      }
    }),
  );
}
const iterationOf = (i: number) => 2_000_000 + i;
/** Pipelines of [from, to) that are done: RELEASED, or (held) in DEPLOYING. */
const doneCount = (from: number, to: number) => {
  if (hold) return deploying.size;
  let n = 0;
  for (let i = from; i < to; i++) if (releasedAt.has(iterationOf(i))) n++;
  return n;
};

/** CPU used so far by each part: the bench's processes, nats-server, this database's PostgreSQL backends. */
async function cpu(): Promise<Record<string, number>> {
  return {
    ...Object.fromEntries(procs.map((p) => [p.name, cpuSeconds(p.child.pid)])),
    "nats-server": pidsOf("nats-server").reduce((s, p) => s + cpuSeconds(p), 0),
    "postgres (this database)": await backendsCpu(dbc, dbName),
  };
}

/** CPU seconds per 1,000 transitions of each part between two readings of `cpu()`, and their sum. */
function cpuPerThousand(from: Record<string, number>, to: Record<string, number>, transitions: number) {
  const parts = Object.fromEntries(
    Object.keys(to).map((k) => [k, ((to[k]! - (from[k] ?? 0)) * 1000) / Math.max(1, transitions)]),
  );
  return { parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}

/** System calls that read and write so far, of the bench's processes and nats-server. */
function calls(): Record<string, { reads: number; writes: number }> {
  const sum = (pids: number[]) =>
    pids.map(ioCalls).reduce((a, b) => ({ reads: a.reads + b.reads, writes: a.writes + b.writes }), {
      reads: 0,
      writes: 0,
    });
  return {
    ...Object.fromEntries(procs.map((p) => [p.name, ioCalls(p.child.pid)])),
    "nats-server": sum(pidsOf("nats-server")),
  };
}

/**
 * This database's activity counters (PostgreSQL publishes them within a second or so), and the
 * bytes of write-ahead log written so far by the whole server.
 */
async function dbStats(): Promise<Record<string, number>> {
  const row = (
    await dbc.query<Record<string, string>>(
      `select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched,
         pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint as wal_bytes
       from pg_stat_database where datname = $1`,
      [dbName],
    )
  ).rows[0]!;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

// --- history: releases before the measured ones, then statistics ----------------------------
// A platform in use has pipelines behind it, and PostgreSQL has statistics of its tables (autovacuum
// analyzes them as they grow). A fresh database has neither: without statistics PostgreSQL guesses,
// and a guess such as "few pipelines are of type PHASE" makes it scan a whole table for one row. On a
// server with autovacuum off it never stops guessing. So the measured run starts after `--history`
// releases have ended and the database has been vacuumed and analyzed once, as autovacuum would have.
const autovacuum = (await dbc.query<{ autovacuum: string }>(`show autovacuum`)).rows[0]!.autovacuum;
// The same releases warm the services up: new processes spend a good part of their CPU compiling
// their code (V8's optimizing compiler), which a service that has been up for a while no longer does.
// What the first of them cost is printed, to be read beside the measured run.
const COLD_RELEASES = 300;
if (historyCount > 0) {
  const h0 = performance.now();
  const coldFrom = { cpu: await cpu(), at: await scrape() };
  let coldTo: typeof coldFrom | undefined;
  // A refused release ends the bench, as in the measured run.
  let refused: Error | undefined;
  const releasing = releaseRange(HISTORY_FROM, TOTAL, Number(values["rpc-concurrency"])).catch(
    (err: unknown) => {
      refused = err instanceof Error ? err : new Error(String(err));
    },
  );
  for (let done = 0; done < historyCount; done = doneCount(HISTORY_FROM, TOTAL)) {
    if (refused) throw refused;
    if (!coldTo && done >= Math.min(COLD_RELEASES, historyCount))
      coldTo = { cpu: await cpu(), at: await scrape() };
    await sleep(20);
  }
  await releasing;
  coldTo ??= { cpu: await cpu(), at: await scrape() };
  await dbc.query(`vacuum analyze`);
  log(
    `history: ${historyCount} releases ended in ${((performance.now() - h0) / 1000).toFixed(1)} s, then the database was vacuumed and analyzed (this server's autovacuum: ${autovacuum})`,
  );
  const cold = cpuPerThousand(coldFrom.cpu, coldTo.cpu, coldTo.at.transitions - coldFrom.at.transitions);
  log(
    `  CPU seconds per 1,000 transitions over its first ${Math.min(COLD_RELEASES, historyCount)} releases (new processes): total ${cold.total.toFixed(2)} (${Object.entries(
      cold.parts,
    )
      .map(([k, v]) => `${k.replace(" (this database)", "")} ${v.toFixed(2)}`)
      .join(", ")})`,
  );
} else {
  log(`no history: the measured run starts on empty tables (this server's autovacuum: ${autovacuum})`);
}

// --- throughput phase -----------------------------------------------------------------------
const samples: Awaited<ReturnType<typeof scrape>>[] = [];
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      samples.push(await scrape());
    } catch {
      // the engine is restarting
    }
    await sleep(1000);
  }
})();

const cpu0 = await cpu();
const calls0 = calls();
const db0 = await dbStats();
const before = await scrape();
const t0 = performance.now();
const releasing = releaseRange(0, N, Number(values["rpc-concurrency"]));
const paths = () => `/pipelines/${1 + Math.floor(Math.random() * Math.max(1, 2 * Math.min(sentAt.size, N)))}`;
const token = await signToken({ sub: "bench", team: "bench" }, jwtSecret);
const getting =
  getRate > 0
    ? (async () => {
        await sleep(500);
        return getLoad({ url: engine.url!, paths, token, ratePerSec: getRate, durationMs: 20000 });
      })()
    : Promise.resolve(null);
await releasing;
while (doneCount(0, N) < N) await sleep(20);
const t1 = performance.now();
const cpu1 = await cpu();
const calls1 = calls();
const after = await scrape();
const getResult = await getting;
await sleep(1500);
const db1 = await dbStats();

const elapsed = (t1 - t0) / 1000;
const transitions = after.transitions - before.transitions;
const windows: number[] = [];
const phase = samples.filter((s) => s.t >= t0 && s.t <= t1);
for (let i = 5; i < phase.length; i++) {
  const a = phase[i - 5]!;
  const b = phase[i]!;
  windows.push(((b.transitions - a.transitions) * 1000) / (b.t - a.t));
}
const e2e = [...Array(N).keys()]
  .map(iterationOf)
  .filter((it) => releasedAt.has(it))
  .map((it) => releasedAt.get(it)! - sentAt.get(it)!);
const loadDuring = [...loads];

log(`--- ${N} pipelines${hold ? " held in DEPLOYING" : ""} in ${elapsed.toFixed(1)} s`);
const rate = transitions / elapsed;
log(
  `transitions: ${transitions}, ${rate.toFixed(0)}/s overall; 5 s windows: median ${windows.length ? percentile(windows, 50).toFixed(0) : "n/a"}/s, best ${windows.length ? Math.max(...windows).toFixed(0) : "n/a"}/s` +
    (ceiling
      ? ` (overall = ${((rate / ceiling.tps) * 100).toFixed(0)}% of PostgreSQL's ${ceiling.tps.toFixed(0)} tps single-row ceiling)`
      : ""),
);
if (!hold)
  log(
    `pipeline end to end (release request -> RELEASED) under load: P50 ${percentile(e2e, 50).toFixed(0)} ms, P99 ${percentile(e2e, 99).toFixed(0)} ms`,
  );
log(
  `commands per engine transaction: ${((after.batched - before.batched) / Math.max(1, after.batches - before.batches)).toFixed(1)} on average`,
);
log(
  `PostgreSQL per pipeline: ${Object.keys(db1)
    .map((k) => `${k} ${((db1[k]! - db0[k]!) / N).toFixed(1)}`)
    .join(", ")}`,
);
log(`CPU seconds per 1,000 transitions:`);
const measured = cpuPerThousand(cpu0, cpu1, transitions);
for (const [k, v] of Object.entries(measured.parts)) log(`  ${k.padEnd(26)} ${v.toFixed(2)}`);
log(`  (total ${measured.total.toFixed(2)}; nats-server is shared with other users of the machine)`);
log(`read and write system calls per pipeline (sockets and log output; nats-server's are shared):`);
for (const k of Object.keys(calls1)) {
  const per = (f: "reads" | "writes") => ((calls1[k]![f] - (calls0[k]?.[f] ?? 0)) / N).toFixed(1);
  log(`  ${k.padEnd(26)} reads ${per("reads").padStart(6)}   writes ${per("writes").padStart(6)}`);
}
log(`per process during the run (event-loop delay from 1 s windows, ms):`);
log(`  ${"process".padEnd(12)} ${"RSS max".padStart(9)}  loop delay P99: max / mean   max single delay`);
for (const p of procs) {
  const s = p.probeStats(t0, t1);
  log(
    `  ${p.name.padEnd(12)} ${mib(s.rssMax).padStart(9)}  ${s.lagP99Max.toFixed(1).padStart(14)} / ${s.lagP99Mean.toFixed(1).padEnd(6)} ${s.lagMax.toFixed(1).padStart(8)}`,
  );
}
if (getResult) {
  log(
    `GET /pipelines/{id} at ${getRate}/s for 20 s (open loop): ${getResult.ok} ok, ${getResult.failed} failed; P50 ${percentile(getResult.latencies, 50).toFixed(1)} ms, P99 ${percentile(getResult.latencies, 99).toFixed(1)} ms, max ${Math.max(...getResult.latencies).toFixed(1)} ms; answers ${JSON.stringify(getResult.statuses)}`,
  );
}
log(
  `load average during the phase: ${loadDuring.length ? `${Math.min(...loadDuring).toFixed(2)}-${Math.max(...loadDuring).toFixed(2)}` : loadAverage().toFixed(2)}`,
);

if (hold) {
  await sleep(5000);
  log(
    `after 5 s idle with ${N} in DEPLOYING: ${procs.map((p) => `${p.name} RSS ${mib(p.rss())}`).join(", ")}`,
  );
}

// --- latency phase: one release at a time on an idle platform -------------------------------
let latencyStart = 0;

/** Messages of a stream stored since `sinceIso`: type, data and the server's timestamp (ms). */
async function storedSince(key: StreamKey, sinceIso: string) {
  const consumer = await js.consumers.get(streamName(envName, key), {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: sinceIso,
  });
  const out: { type: string; data: Record<string, unknown>; ms: number }[] = [];
  for (;;) {
    let n = 0;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: 1000 })) {
      const body = m.json<{ type: string; data: Record<string, unknown> }>();
      out.push({ type: body.type, data: body.data, ms: m.info.timestampNanos / 1e6 });
      n++;
    }
    if (n === 0) break;
  }
  return out;
}

/**
 * Where the time of a single release goes, from the streams' own timestamps (nats-server's clock)
 * and the bench's send and receive times: the engine's part (a result stored -> the next request
 * stored: consume, transaction, commit, publish) and the stage work's part (request stored ->
 * result stored: the runner, or ops-gateway and the ops module for DEPLOY).
 */
async function hopBreakdown(iterationIds: number[], sinceIso: string): Promise<void> {
  const phaseOf = new Map(
    (
      await dbc.query<{ id: string; iteration_id: string }>(
        `select id, iteration_id from pipeline.pipeline where type = 'PHASE' and iteration_id = any($1::bigint[])`,
        [iterationIds],
      )
    ).rows.map((r) => [Number(r.iteration_id), Number(r.id)]),
  );
  const at = new Map<string, number>();
  const put = (k: string, ms: number) => {
    if (!at.has(k)) at.set(k, ms);
  };
  for (const m of await storedSince("STAGE", sinceIso))
    if (m.type === "stage.requested.v1" || m.type === "stage.completed.v1")
      put(`${m.type}:${String(m.data["pipelineId"])}:${String(m.data["stage"])}`, m.ms);
  for (const m of await storedSince("OPS", sinceIso))
    put(`${m.type}:${String(m.data["pipelineId"])}:DEPLOY`, m.ms);
  for (const m of await storedSince("PIPELINE", sinceIso))
    if (m.type === "pipeline.iteration_phase_changed.v1" && m.data["phase"] === "RELEASED")
      put(`released:${String(m.data["iterationId"])}`, m.ms);
  const seg = new Map<string, number[]>();
  const add = (name: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    seg.set(name, [...(seg.get(name) ?? []), v]);
  };
  const stages = ["CODE_CHECK", "BUILD", "PACKAGE", "DEPLOY"] as const;
  for (const it of iterationIds) {
    const p = phaseOf.get(it);
    if (p === undefined) continue;
    const req = (s: string) => at.get(`stage.requested.v1:${p}:${s}`);
    const res = (s: string) =>
      at.get(s === "DEPLOY" ? `ops.deployment_finished.v1:${p}:DEPLOY` : `stage.completed.v1:${p}:${s}`);
    add("engine: release request -> CODE_CHECK requested", req("CODE_CHECK")! - sentEpoch.get(it)!);
    for (const s of stages) add(`stage work: ${s} requested -> result`, res(s)! - req(s)!);
    if (opsMode)
      add(
        "  of which DEPLOY requested -> deployment started",
        at.get(`ops.deployment_started.v1:${p}:DEPLOY`)! - req("DEPLOY")!,
      );
    for (let k = 1; k < stages.length; k++)
      add(
        `engine: ${stages[k - 1]} result -> ${stages[k]} requested`,
        req(stages[k]!)! - res(stages[k - 1]!)!,
      );
    add("engine: DEPLOY result -> RELEASED published", at.get(`released:${it}`)! - res("DEPLOY")!);
    add("NATS: RELEASED published -> bench received", releasedEpoch.get(it)! - at.get(`released:${it}`)!);
  }
  log(`  where a single release's time goes (median of ${iterationIds.length}, ms; stream timestamps):`);
  for (const [name, v] of seg) log(`    ${name.padEnd(58)} ${percentile(v, 50).toFixed(1).padStart(6)}`);
}
if (latencySamples > 0) {
  await sleep(2000);
  latencyStart = Date.now();
  const lat: number[] = [];
  for (let i = N; i < N + latencySamples; i++) {
    await releaseOne(i);
    const it = iterationOf(i);
    while (!releasedAt.has(it)) await sleep(1);
    lat.push(releasedAt.get(it)! - sentAt.get(it)!);
    await sleep(20);
  }
  log(
    `single release -> RELEASED on an idle platform (${lat.length} one after another): P50 ${percentile(lat, 50).toFixed(0)} ms, P99 ${percentile(lat, 99).toFixed(0)} ms, min ${Math.min(...lat).toFixed(0)} ms`,
  );
  await hopBreakdown(
    Array.from({ length: latencySamples }, (_, k) => iterationOf(N + k)),
    new Date(latencyStart - 1000).toISOString(),
  );
}

// --- restart phase: SIGKILL the engine with pipelines in flight -----------------------------
if (restartCount > 0) {
  const from = N + latencySamples;
  const to = from + restartCount;
  const releasing2 = releaseRange(from, to, 32);
  while (doneCount(from, to) < restartCount / 2) await sleep(2);
  const atKill = await count(`select count(*) as n from pipeline.transition`);
  const released = doneCount(from, to);
  await engine.kill("SIGKILL");
  engine.start();
  let first = 0;
  const listening = engine.waitListening();
  for (;;) {
    if ((await count(`select count(*) as n from pipeline.transition`)) > atKill) {
      first = performance.now() - engine.startedAt;
      break;
    }
    await sleep(5);
  }
  const listeningMs = await listening;
  await releasing2;
  while (doneCount(from, to) < restartCount) await sleep(20);
  log(
    `restart: SIGKILL with ${released}/${restartCount} released; the new engine process listened ${listeningMs.toFixed(0)} ms and made its first transition ${first.toFixed(0)} ms after it was started; all ${restartCount} released`,
  );
}

sampling = false;
await sampler;
clearInterval(loadSampler);
await stack.stop();
await nc.close();
await dbc.end();
if (!values.keep) await removeBenchTarget({ adminUrl, natsUrl, dbName, envNames: [envName] });
process.exit(0);
