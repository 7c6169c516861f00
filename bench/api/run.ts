/**
 * REST API benchmark while pipelines run. On a fresh database it starts, as real processes, app-svc,
 * dev-svc, the engine, ops-gateway with the reference ops module (ZERO_DELAY), the zero-delay stage
 * runner and the gateway in front of them; seeds 100,000 iterations of one app into dev-svc's tables;
 * releases pipelines in the background at a steady rate for the whole run (so the engine answers
 * reads while it drives pipelines); then loads with autocannon, through the gateway and directly
 * against the owning service:
 *   - GET /pipelines/{id}          (random ids among the pipelines released so far)
 *   - GET /apps/{id}/iterations    (first page of 100,000)
 *   - POST /apps                   (a low-code app with a unique name: validation, insert, outbox)
 * each at a fixed rate (an open model: requests evenly spaced, latency from the moment each was due,
 * see open-load.ts) and at maximum throughput with autocannon, and prints P50/P99/P99.9/max and requests/s per run, with the
 * background transitions/s, the serving process's event-loop delay and the load average. Each run
 * starts once the background pipelines have caught up; under the table, for each open-model run,
 * the CPU pressure over it and its worst seconds (P99, CPU pressure, every process's event-loop
 * delay), and how late the generator itself sent: where the tail came from.
 *
 *   pnpm --filter @procode/bench api [--rate 1000] [--post-rate 200] [--duration 20] [--connections 10]
 *     [--pipeline-rate 10] [--iterations 100000] [--only pipeline,iterations,apps] [--slow-uploads N]
 *     [--bundle] [--keep] [--cpu-prof DIR]
 *   DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222
 *
 * `--slow-uploads N` keeps N uploads at one byte every 2 s open on the gateway's `/webhooks/` route
 * for the whole measurement (slow-uploads.ts): the rows then say what they cost other callers.
 *
 * dev-svc runs with its own subject prefix: it serves the seeded iterations and stays out of the
 * bench's stage work (its runners would otherwise race the zero-delay runner for every stage).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { AppCreated } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  backendsCpu,
  benchAppSnapshot,
  benchTarget,
  cpuSeconds,
  loadAverage,
  metric,
  ownCpuSeconds,
  percentile,
  publishEvent,
  removeBenchTarget,
  requestRelease,
  sleep,
  startApiStack,
  type Proc,
} from "../pipelines/lib.js";
import { openLoad } from "./open-load.js";
import { seedIterations } from "./seed.js";
import { holdSlowUploads } from "./slow-uploads.js";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "1000" },
    "post-rate": { type: "string", default: "200" },
    duration: { type: "string", default: "20" },
    connections: { type: "string", default: "10" },
    "rate-connections": { type: "string", default: "64" },
    "pipeline-rate": { type: "string", default: "10" },
    iterations: { type: "string", default: "100000" },
    only: { type: "string", default: "pipeline,iterations,apps" },
    "slow-uploads": { type: "string", default: "0" },
    bundle: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    /** A V8 CPU profile per service in DIR/<service>/ (see profile-summary). */
    "cpu-prof": { type: "string" },
  },
});
const rate = Number(values.rate);
const postRate = Number(values["post-rate"]);
const duration = Number(values.duration);
const connections = Number(values.connections);
const rateConnections = Number(values["rate-connections"]);
const pipelineRate = Number(values["pipeline-rate"]);
const only = new Set(values.only.split(","));
const { adminUrl, natsUrl, suffix, dbName, databaseUrl, jwtSecret } = benchTarget("api");
const envName = `bench-api-${suffix}`;
const devEnvName = `bench-api-dev-${suffix}`;
const APP = 424242;
const TEAM = "bench";
const BACKGROUND_APPS = 300;
const log = (msg: string) => process.stdout.write(`${msg}\n`);

const stack = await startApiStack(
  "api",
  { adminUrl, natsUrl, dbName, databaseUrl, jwtSecret },
  { envName, devEnvName, fromBundles: values.bundle, cpuProfileDir: values["cpu-prof"] },
);
const { engine, gateway, appSvc, devSvc } = stack;
// For samples taken outside the bench (perf-summary --names).
log(`processes: ${stack.all.map((p) => `${p.name} ${p.child.pid}`).join(", ")}`);
const nc = await connect({ servers: natsUrl, name: "bench-api" });
const js = jetstream(nc);

try {
  // --- 100,000 iterations ------------------------------------------------------------------
  const seedStarted = performance.now();
  const counts = await seedIterations(databaseUrl, { app: APP, team: TEAM, n: Number(values.iterations) });
  log(
    `seeded ${values.iterations} iterations in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s (app ${APP}: ${counts.join(", ")})`,
  );

  // --- pipelines in the background ---------------------------------------------------------
  const appIds = Array.from({ length: BACKGROUND_APPS }, (_, i) => 1_000_000 + i);
  await Promise.all(
    appIds.map((appId) => publishEvent(js, envName, AppCreated, benchAppSnapshot(appId, TEAM))),
  );
  const dbc = new pg.Client({ connectionString: databaseUrl });
  // The database is dropped at the end (also after a failure): this connection must not crash then.
  dbc.on("error", () => {});
  await dbc.connect();
  const countOf = async (sql: string) => Number((await dbc.query<{ n: string }>(sql)).rows[0]!.n);
  while ((await countOf(`select count(*) as n from pipeline.app_settings`)) < BACKGROUND_APPS)
    await sleep(100);

  let released = 0;
  let refused = 0;
  let seq = 0;
  const release = async () => {
    const i = seq++;
    try {
      const reply = await requestRelease(nc, envName, { i, appId: appIds[i % BACKGROUND_APPS]!, team: TEAM });
      if (reply.ok) released++;
      else refused++;
    } catch {
      refused++;
    }
  };
  // A first 1,000 so that GET /pipelines/{id} has rows to read, then a steady background rate.
  for (let k = 0; k < 1000; k += 50) await Promise.all(Array.from({ length: 50 }, release));
  /**
   * Waits until no release older than `minAgeS` seconds is still running (at most `capMs`); returns
   * the seconds waited.
   */
  const caughtUp = async (minAgeS: number, capMs = Infinity) => {
    const t0 = performance.now();
    while (
      performance.now() - t0 < capMs &&
      (await countOf(
        `select count(*) as n from pipeline.pipeline where type = 'PHASE'
           and status not in ('SUCCESS', 'FAILED', 'CANCELLED')
           and created_at <= now() - ${minAgeS} * interval '1 second'`,
      )) > 0
    )
      await sleep(200);
    return (performance.now() - t0) / 1000;
  };
  // Those first 1,000 run to the end before anything is measured (the backlog would be measured too).
  await caughtUp(0);
  // Then statistics and cleaned tables, as autovacuum would leave them (pipelines bench, "history").
  await dbc.query(`vacuum analyze`);
  let background = true;
  const driver = (async () => {
    const start = performance.now();
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    while (background) {
      const due = Math.floor(((performance.now() - start) / 1000) * pipelineRate);
      while (sent < due) {
        sent++;
        const p = release();
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await sleep(5);
    }
    await Promise.all([...inflight]);
  })();
  const pipelineCount = () => countOf(`select count(*) as n from pipeline.pipeline`);
  // The ids that exist (the sequence has gaps: a creation that lost a race used a number).
  const pipelineIds = (await dbc.query<{ id: string }>(`select id::text from pipeline.pipeline`)).rows.map(
    (r) => r.id,
  );
  log(
    `${await pipelineCount()} pipelines so far (${released} releases accepted); releasing ${pipelineRate}/s in the background from now on`,
  );

  // --- the runs ------------------------------------------------------------------------------
  const token = await signToken({ sub: "bench", team: TEAM }, jwtSecret);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const randomPipeline = () => `/pipelines/${pipelineIds[Math.floor(Math.random() * pipelineIds.length)]}`;
  type Target = { name: string; proc: Proc; url: string };
  interface Endpoint {
    key: string;
    label: string;
    method: "GET" | "POST";
    owner: Proc;
    path: () => string;
    body?: string;
    fixedRate: number;
  }
  const endpoints: Endpoint[] = [
    {
      key: "pipeline",
      label: "GET /pipelines/{id}",
      method: "GET",
      owner: engine,
      path: randomPipeline,
      fixedRate: rate,
    },
    {
      key: "iterations",
      label: "GET /apps/{id}/iterations (1st page of 100k)",
      method: "GET",
      owner: devSvc,
      path: () => `/apps/${APP}/iterations`,
      fixedRate: rate,
    },
    {
      key: "apps",
      label: "POST /apps (low-code)",
      method: "POST",
      owner: appSvc,
      path: () => "/apps",
      body: JSON.stringify({ name: "bench app [<id>]", devMode: "low-code" }),
      fixedRate: postRate,
    },
  ];

  // Every answer is what it should be before anything is measured.
  for (const e of endpoints) {
    for (const base of [gateway.url!, e.owner.url!]) {
      const res = await fetch(`${base}${e.path()}`, {
        method: e.method,
        headers,
        ...(e.body ? { body: e.body.replace("[<id>]", randomUUID()) } : {}),
      });
      const body = (await res.json()) as { code: number };
      if (res.status >= 300 || body.code !== 0)
        throw new Error(
          `${e.method} ${base}${e.path()} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`,
        );
    }
  }

  const transitionsNow = async () =>
    metric(await (await fetch(`${engine.url}/metrics`)).text(), "pipeline_transitions_total");
  const rows: string[] = [];
  /** Where the open runs' tails were, printed under the table. */
  const tails: string[] = [];
  /** autocannon, closed model: `connections` connections as fast as the server answers. */
  const cannon = (e: Endpoint, url: string, seconds: number) =>
    autocannon({
      url,
      duration: seconds,
      connections,
      headers,
      timeout: 10,
      requests: [
        {
          method: e.method,
          ...(e.body ? { body: e.body } : {}),
          setupRequest: (req) => ({
            ...req,
            path: e.path(),
            ...(e.body ? { body: e.body.replace("[<id>]", randomUUID()) } : {}),
          }),
        },
      ],
    });
  /**
   * The kernel's CPU pressure (/proc/pressure/cpu, "some": the share of time in which at least one
   * runnable task waited for a CPU), sampled each second: a request that waits while every event
   * loop is idle enough waited for a CPU.
   */
  const pressure: { at: number; totalUs: number }[] = [];
  const samplePressure = () => {
    try {
      const m = /^some .* total=(\d+)/m.exec(readFileSync("/proc/pressure/cpu", "utf8"));
      if (m) pressure.push({ at: performance.now(), totalUs: Number(m[1]) });
    } catch {
      // No pressure stall information on this kernel: the figure is left out.
    }
  };
  const pressureTimer = setInterval(samplePressure, 1000);
  samplePressure();
  /** CPU pressure (%) between two instants (performance.now()), or null without samples. */
  const pressureIn = (from: number, to: number): number | null => {
    const a = pressure.findLast((p) => p.at <= from);
    const b = pressure.find((p) => p.at >= to) ?? pressure.at(-1);
    if (!a || !b || b.at === a.at) return null;
    return (100 * (b.totalUs - a.totalUs)) / 1000 / (b.at - a.at);
  };
  /** CPU seconds used so far by each process of the stack, this database's backends and the bench itself. */
  const cpuNow = async (): Promise<Map<string, number>> =>
    new Map([
      ...stack.all.map((p) => [p.name, cpuSeconds(p.child.pid)] as const),
      ["postgres", await backendsCpu(dbc, dbName)],
      ["bench", ownCpuSeconds()],
    ]);
  /** Cores each part used between two readings (a backend that came or went in between is missed). */
  const coresUsed = (a: Map<string, number>, b: Map<string, number>, seconds: number) =>
    [...b]
      .map(([name, v]) => [name, Math.max(0, v - (a.get(name) ?? 0)) / seconds] as const)
      .filter(([, cores]) => cores >= 0.005)
      .map(([name, cores]) => `${name} ${cores.toFixed(2)}`)
      .join(", ");

  const run = async (e: Endpoint, target: Target, mode: "rate" | "max") => {
    // A max run starves the background pipelines: their catching up would otherwise be measured as
    // this run's first seconds.
    const waited = await caughtUp(2, 60_000);
    if (waited > 1) log(`  (the background pipelines caught up for ${waited.toFixed(1)} s first)`);
    const tr0 = await transitionsNow();
    const la0 = loadAverage();
    const cpu0 = await cpuNow();
    const t0 = performance.now();
    let r: { p50: number; p99: number; p999: number; max: number; throughput: number; failed: number };
    let tail = "";
    if (mode === "rate") {
      // Open model at a fixed rate: latency from the moment each request was due.
      const o = await openLoad({
        url: target.url,
        rate: e.fixedRate,
        durationS: duration,
        connections: rateConnections,
        method: e.method,
        path: e.path,
        ...(e.body ? { body: () => e.body!.replace("[<id>]", randomUUID()) } : {}),
        headers,
      });
      r = o;
      // When in the run the tail happened, and what each process's event loop did in that second.
      const loops = (second: number) =>
        stack.all
          .map(
            (p) =>
              `${p.name} ${p.probeStats(t0 + second * 1000, t0 + (second + 2) * 1000).lagMax.toFixed(0)}`,
          )
          .join(", ");
      const cpuWait = (from: number, to: number) => {
        const p = pressureIn(from, to);
        return p === null ? "n/a" : `${p.toFixed(0)}%`;
      };
      tail = ` CPU pressure ${cpuWait(t0, performance.now())} over the run; worst seconds: ${o.worstSeconds
        .map(
          (w) =>
            `${w.second} s P99 ${w.p99} ms (CPU pressure ${cpuWait(t0 + w.second * 1000, t0 + (w.second + 1) * 1000)}; event-loop delay max: ${loops(w.second)})`,
        )
        .join("; ")}; the generator sent at worst ${o.sendLateMax} ms late`;
    } else {
      // Closed model at full speed: autocannon with a few connections.
      const a = await cannon(e, target.url, duration);
      r = {
        p50: a.latency.p50,
        p99: a.latency.p99,
        p999: a.latency.p99_9,
        max: a.latency.max,
        throughput: a.requests.average,
        failed: a.non2xx + a.errors + a.timeouts,
      };
    }
    const t1 = performance.now();
    const cores = coresUsed(cpu0, await cpuNow(), (t1 - t0) / 1000);
    const tr1 = await transitionsNow();
    const bg = ((tr1 - tr0) * 1000) / (t1 - t0);
    const served = target.proc.probeStats(t0, t1);
    const gw = target.name === "gateway" ? e.owner.probeStats(t0, t1) : null;
    const lagText = `${target.proc.name} ${served.lagP99Max.toFixed(0)}${gw ? `, ${e.owner.name} ${gw.lagP99Max.toFixed(0)}` : ""}`;
    rows.push(
      `| ${e.label} | ${target.name} | ${mode === "rate" ? `${e.fixedRate}/s open` : `max, ${connections} conn`} | ${r.p50} | ${r.p99} | ${r.p999} | ${r.max} | ${Math.round(r.throughput)} | ${r.failed} | ${bg.toFixed(0)} | ${lagText} | ${la0.toFixed(1)}-${loadAverage().toFixed(1)} |`,
    );
    log(rows.at(-1)!);
    tails.push(
      `${e.label} ${target.name} ${mode === "rate" ? `${e.fixedRate}/s` : "max"}: cores used: ${cores}.${tail}`,
    );
  };

  const slowUploads = Number(values["slow-uploads"]);
  const abuse = slowUploads > 0 ? holdSlowUploads(gateway.url!, slowUploads) : null;
  if (abuse) {
    await sleep(1000);
    log(
      `${slowUploads} uploads at one byte every 2 s held open on the gateway's /webhooks/ route throughout`,
    );
  }
  log("");
  log(
    `${duration} s per run; fixed-rate runs: open model, requests evenly spaced, up to ${rateConnections} connections, latency from the moment each was due (ms, 0.1 ms resolution); max runs: autocannon, ${connections} connections (ms, 1 ms resolution)`,
  );
  log("");
  const header =
    "| request | via | load | P50 | P99 | P99.9 | max | req/s | errors/non-2xx | background transitions/s | event-loop delay P99 max (ms) | load average |";
  log(header);
  log("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const e of endpoints) {
    if (!only.has(e.key)) continue;
    const targets: Target[] = [
      { name: "direct", proc: e.owner, url: e.owner.url! },
      { name: "gateway", proc: gateway, url: gateway.url! },
    ];
    for (const t of targets) {
      await cannon(e, t.url, 3); // warm-up
      await run(e, t, "rate");
      await run(e, t, "max");
    }
  }
  log("");
  for (const t of tails) log(t);
  if (abuse) {
    const { cutOff, answers } = abuse.stop();
    log(
      `slow uploads: ${cutOff} cut off by the gateway's body deadline and replaced; answers ${JSON.stringify(Object.fromEntries(answers))}`,
    );
  }
  background = false;
  clearInterval(pressureTimer);
  await driver;
  log("");
  log(
    `background: ${released} releases accepted, ${refused} refused or unanswered; ${await pipelineCount()} pipelines in all`,
  );
  for (const p of stack.all) {
    const s = p.probeStats();
    log(
      `  ${p.name.padEnd(12)} RSS max ${(s.rssMax / 2 ** 20).toFixed(0)} MiB, event-loop delay P99 (1 s windows) median ${percentile(
        p.probes.map((x) => x.p99),
        50,
      ).toFixed(1)} ms, max ${s.lagP99Max.toFixed(1)} ms`,
    );
  }
  await dbc.end();
} finally {
  await stack.stop();
  await nc.close();
  if (!values.keep) {
    await removeBenchTarget({ adminUrl, natsUrl, dbName, envNames: [envName, devEnvName] });
  } else {
    log(`kept database ${dbName}`);
  }
}
process.exit(0);
