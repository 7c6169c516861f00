/**
 * Event stream latency: from a pipeline's state change to its `pipeline` event at a client of
 * `GET /events` through the gateway (docs/performance.md, "Event stream").
 *
 * On a fresh database it starts, as real processes, app-svc, dev-svc, the engine, ops-gateway with
 * the reference ops module (ZERO_DELAY), the zero-delay stage runner and the gateway, and keeps one
 * SSE client on the gateway's `/events` for the bench team. Then:
 *   1. idle: releases pipelines one at a time, each after the previous one ended;
 *   2. loaded: releases pipelines at a steady rate (default 10/s, about 100 transitions/s) for a
 *      while, and measures the same events meanwhile.
 * Each event received is matched to the transition it reports (same pipeline, the first later
 * transition into the event's state). The latency runs from the transition's time, which the engine
 * takes just before it writes the transition and commits, to the moment the client parsed the event:
 * it includes the commit, the outbox publish, JetStream, the gateway and the socket, and so is an
 * upper bound of commit -> event. Everything runs on one machine and one clock.
 *
 *   pnpm --filter @procode/bench events [--idle 30] [--rate 10] [--duration 20] [--bundle] [--keep]
 *   DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222
 */
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { AppCreated } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  benchAppSnapshot,
  benchTarget,
  loadAverage,
  percentile,
  publishEvent,
  removeBenchTarget,
  requestRelease,
  sleep,
  startApiStack,
} from "../pipelines/lib.js";

const { values } = parseArgs({
  options: {
    idle: { type: "string", default: "30" },
    rate: { type: "string", default: "10" },
    duration: { type: "string", default: "20" },
    bundle: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const idleReleases = Number(values.idle);
const rate = Number(values.rate);
const duration = Number(values.duration);
const { adminUrl, natsUrl, suffix, dbName, databaseUrl, jwtSecret } = benchTarget("events");
const envName = `bench-evt-${suffix}`;
const devEnvName = `bench-evt-dev-${suffix}`;
const TEAM = "bench";
const APPS = 200;
const log = (msg: string) => process.stdout.write(`${msg}\n`);
const fmt = (x: number) => `${x.toFixed(1)} ms`;

interface Received {
  pipelineId: number;
  state: string;
  at: number;
}

/** One SSE client on the gateway: every `pipeline` event of the team, with the wall time it was parsed. */
async function follow(url: string, token: string, into: Received[]): Promise<AbortController> {
  const abort = new AbortController();
  const res = await fetch(`${url}/events?types=pipeline`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`GET /events answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const now = Date.now();
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (!block.split("\n").includes("event: pipeline") || !data) continue;
          // The message as the engine published it: its envelope, the summary in `data`.
          const d = (JSON.parse(data) as { data: { pipelineId: number; state: string } }).data;
          into.push({ pipelineId: d.pipelineId, state: d.state, at: now });
        }
      }
    } catch {
      // aborted at the end
    }
  })();
  return abort;
}

const stack = await startApiStack(
  "events",
  { adminUrl, natsUrl, dbName, databaseUrl, jwtSecret },
  { envName, devEnvName, fromBundles: values.bundle },
);
const { gateway } = stack;
const nc = await connect({ servers: natsUrl, name: "bench-events" });
const js = jetstream(nc);
const db = new pg.Client({ connectionString: databaseUrl });
db.on("error", () => {});

try {
  await db.connect();
  const countOf = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
  const appIds = Array.from({ length: APPS }, (_, i) => 1_000_000 + i);
  await Promise.all(
    appIds.map((appId) => publishEvent(js, envName, AppCreated, benchAppSnapshot(appId, TEAM))),
  );
  while ((await countOf(`select count(*) as n from pipeline.app_settings`)) < APPS) await sleep(100);
  const unfinished = () =>
    countOf(
      `select count(*) as n from pipeline.pipeline where type = 'PHASE' and status not in ('SUCCESS', 'FAILED', 'CANCELLED')`,
    );

  const token = await signToken({ sub: "bench", team: TEAM }, jwtSecret);
  const received: Received[] = [];
  const stream = await follow(gateway.url!, token, received);
  let seq = 0;
  const release = async () => {
    const i = seq++;
    const reply = await requestRelease(nc, envName, { i, appId: appIds[i % APPS]!, team: TEAM });
    if (!reply.ok) throw new Error(`release ${i} refused: ${JSON.stringify(reply.error)}`);
  };

  // Warm-up: a few releases whose events are not counted.
  for (let i = 0; i < 3; i++) await release();
  while ((await unfinished()) > 0) await sleep(50);
  await sleep(500);
  received.length = 0;

  // 1. Idle: one pipeline at a time.
  const idleFrom = Date.now();
  for (let i = 0; i < idleReleases; i++) {
    await release();
    while ((await unfinished()) > 0) await sleep(20);
    await sleep(200);
  }
  const idleEvents = received.splice(0);

  // 2. Loaded: a steady release rate.
  const loadFrom = Date.now();
  const inflight: Promise<void>[] = [];
  for (let sent = 0; Date.now() - loadFrom < duration * 1000;) {
    const due = Math.floor(((Date.now() - loadFrom) / 1000) * rate);
    while (sent < due) {
      sent++;
      inflight.push(release());
    }
    await sleep(5);
  }
  const loadTo = Date.now();
  await Promise.all(inflight);
  while ((await unfinished()) > 0) await sleep(100);
  await sleep(1000);
  const loadEvents = received.splice(0);
  stream.abort();

  // The transitions, by pipeline, in order.
  const { rows } = await db.query<{ pipeline_id: string; seq: number; to_state: string; at: Date }>(
    `select pipeline_id, seq, to_state, at from pipeline.transition where at >= $1 order by pipeline_id, seq`,
    [new Date(idleFrom - 1000)],
  );
  const byPipeline = new Map<number, { state: string; at: number; used: boolean }[]>();
  for (const r of rows) {
    const list = byPipeline.get(Number(r.pipeline_id)) ?? [];
    list.push({ state: r.to_state, at: r.at.getTime(), used: false });
    byPipeline.set(Number(r.pipeline_id), list);
  }
  const transitionsIn = (from: number, to: number) =>
    rows.filter((r) => r.at.getTime() >= from && r.at.getTime() < to).length;
  const match = (events: Received[]) => {
    const lags: number[] = [];
    let unmatched = 0;
    for (const e of events) {
      const t = byPipeline.get(e.pipelineId)?.find((x) => !x.used && x.state === e.state);
      if (!t) {
        unmatched++;
        continue;
      }
      // A commit of several transitions is one event: the earlier ones of the same commit are passed.
      for (const x of byPipeline.get(e.pipelineId)!) {
        if (x === t) break;
        x.used = true;
      }
      t.used = true;
      lags.push(e.at - t.at);
    }
    return { lags, unmatched };
  };
  const report = (label: string, events: Received[], extra: string) => {
    const { lags, unmatched } = match(events);
    log(
      `| ${label} | ${lags.length} | ${fmt(percentile(lags, 50))} | ${fmt(percentile(lags, 99))} | ${fmt(Math.max(...lags))} | ${unmatched} | ${extra} |`,
    );
  };
  log("");
  log("| run | events matched | P50 | P99 | max | unmatched | load |");
  log("|---|---|---|---|---|---|---|");
  report("idle, one pipeline at a time", idleEvents, `${idleReleases} releases`);
  const tps = transitionsIn(loadFrom, loadTo) / ((loadTo - loadFrom) / 1000);
  report(
    `${rate} releases/s`,
    loadEvents,
    `${tps.toFixed(0)} transitions/s over ${duration} s, load average ${loadAverage().toFixed(2)}`,
  );
  log("");
  log("target: P99 <= 100 ms idle");
} finally {
  await db.end().catch(() => {});
  await stack.stop();
  await nc.close();
  if (!values.keep) {
    await removeBenchTarget({ adminUrl, natsUrl, dbName, envNames: [envName, devEnvName] });
  } else {
    log(`kept database ${dbName}`);
  }
}
process.exit(0);
