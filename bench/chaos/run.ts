/**
 * Chaos bench: N release pipelines through the whole platform (four services, the reference ops
 * module and the gateway as real processes, on a PostgreSQL and a NATS that this script starts and
 * owns) while faults are injected, then the invariants are checked from the databases and printed
 * as a pass/fail table. One flag per variant; several flags, or --all, run them in turn:
 *
 *   --kill        SIGKILL a random service every few seconds (--kill-every), restart it at once
 *   --pg-restart  restart PostgreSQL a few times (--pg-restarts), alternately fast and immediate
 *   --nats-stop   stop nats-server for --nats-down-s seconds (30), twice
 *   --js-wipe     kill nats-server and delete its JetStream store mid-run, while the engine and
 *                 dev-svc are down (their unread messages are lost with it)
 *   --ops-outage  the ops module's deploy API unreachable for --ops-outage-s seconds (180)
 *
 *   pnpm --filter @procode/bench chaos 1000 --kill
 *   pnpm --filter @procode/bench chaos 200 --all
 *
 * --with-kills adds the random kills to the other variants. The exit code is 1 when an invariant
 * fails. Progress goes to stderr, the table to stdout.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { signToken } from "@procode/service-kit";
import {
  startPlatform,
  type Platform,
  type PlatformProcess,
  type TestInfra,
} from "@procode/test-kit/platform";
import { Api, callStats } from "./api.js";
import { releaseAll, setUpApps, type DriverState } from "./driver.js";
import { freePort, ScratchNats, ScratchPostgres, sleep } from "./infra.js";
import { checkInvariants, UNSETTLED_SQL, type Check } from "./invariants.js";
import { printReport } from "./report.js";

const VARIANTS = ["kill", "pg-restart", "nats-stop", "js-wipe", "ops-outage"] as const;
type Variant = (typeof VARIANTS)[number];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kill: { type: "boolean", default: false },
    "pg-restart": { type: "boolean", default: false },
    "nats-stop": { type: "boolean", default: false },
    "js-wipe": { type: "boolean", default: false },
    "ops-outage": { type: "boolean", default: false },
    all: { type: "boolean", default: false },
    "with-kills": { type: "boolean", default: false },
    apps: { type: "string", default: "40" },
    "in-flight": { type: "string", default: "120" },
    "kill-every": { type: "string", default: "5" },
    targets: { type: "string", default: "app-svc,dev-svc,pipeline-engine,ops-gateway" },
    "pg-restarts": { type: "string", default: "3" },
    "pg-down-s": { type: "string", default: "5" },
    "nats-down-s": { type: "string", default: "30" },
    "ops-outage-s": { type: "string", default: "180" },
    "ops-duration-ms": { type: "string", default: "1000" },
    "settle-timeout-s": { type: "string", default: "900" },
    keep: { type: "boolean", default: false },
  },
});

const N = Number(positionals[0] ?? 1000);
const variants: Variant[] = values.all ? [...VARIANTS] : VARIANTS.filter((v) => values[v]);
if (!variants.length) {
  process.stderr.write(`choose a variant: ${VARIANTS.map((v) => `--${v}`).join(" ")} or --all\n`);
  process.exit(2);
}
const targets = values.targets.split(",").map((t) => t.trim()) as PlatformProcess[];

const t0 = Date.now();
const say = (msg: string) =>
  process.stderr.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

/** Timings shortened so that recovery shows within a run (each is a documented setting). */
function processEnv(ports: Record<string, number>, opsDurationMs: number) {
  const common = { OUTBOX_POLL_MS: "500", SHUTDOWN_TIMEOUT_MS: "3000" };
  return {
    "ops-module": { PORT: String(ports["ops-module"]), DEFAULT_DURATION_MS: String(opsDurationMs) },
    "app-svc": { ...common, PORT: String(ports["app-svc"]) },
    "dev-svc": {
      ...common,
      PORT: String(ports["dev-svc"]),
      STAGE_LEASE_MS: "10000",
      BUILD_POLL_MS: "250",
      BIND_POLL_MS: "200",
      BIND_RETRY_BASE_MS: "500",
    },
    "pipeline-engine": {
      ...common,
      PORT: String(ports["pipeline-engine"]),
      STAGE_REPUBLISH_MS: "3000",
      STAGE_REPUBLISH_MAX_MS: "10000",
      RETRY_BASE_MS: "500",
      RETRY_MAX_MS: "5000",
      STARTUP_REDRIVE_SPREAD_MS: "1000",
    },
    "ops-gateway": {
      ...common,
      PORT: String(ports["ops-gateway"]),
      OPS_POLL_INTERVAL_MS: "1000",
      OPS_TIMEOUT_MS: "3000",
      OPS_LEASE_MS: "5000",
      OPS_RETRY_BASE_MS: "500",
      OPS_RETRY_MAX_MS: "5000",
    },
  } satisfies Partial<Record<PlatformProcess, Record<string, string>>>;
}

/** What the monitor sees, once a second, straight from the engine's table. */
interface Progress {
  byStatus: Record<string, number>;
  finished: number;
  unsettled: number;
  waitingOps: number;
}

interface RunContext {
  variant: Variant;
  platform: Platform;
  pgsql: ScratchPostgres;
  nats: ScratchNats;
  progress: Progress;
  stopFaults: boolean;
  kills: Record<string, number>;
  /** Processes the bench itself has brought down, or is starting again after a crash. */
  downOnPurpose: Set<PlatformProcess>;
  /** Processes that ended on their own (a crash), as the watcher found them. */
  exits: string[];
  faults: string[];
  extraChecks: Check[];
}

/** Starts a killed process again, retrying while it cannot start (e.g. PostgreSQL is down). */
async function revive(ctx: RunContext, name: PlatformProcess): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await ctx.platform.restart(name);
      return;
    } catch (err) {
      say(`${name} did not start (try ${i}): ${(err as Error).message.split("\n")[0]}`);
      await sleep(2000);
    }
  }
}

async function killLoop(ctx: RunContext, everyS: number): Promise<void> {
  while (!ctx.stopFaults) {
    await sleep(everyS * 1000 * (0.5 + Math.random()));
    if (ctx.stopFaults) break;
    const name = targets[Math.floor(Math.random() * targets.length)]!;
    // One being started again after a crash (watchExits) is left to that.
    if (ctx.downOnPurpose.has(name)) continue;
    ctx.downOnPurpose.add(name);
    await ctx.platform.processes[name].kill();
    ctx.kills[name] = (ctx.kills[name] ?? 0) + 1;
    await revive(ctx, name);
    ctx.downOnPurpose.delete(name);
  }
}

/** Waits until `fraction` of the pipelines have finished (a fault lands mid-run whatever the pace). */
async function atProgress(ctx: RunContext, fraction: number): Promise<void> {
  while (ctx.progress.finished < N * fraction && !ctx.stopFaults) await sleep(500);
}

async function pgRestarts(ctx: RunContext): Promise<void> {
  const count = Number(values["pg-restarts"]);
  const downMs = Number(values["pg-down-s"]) * 1000;
  for (let i = 0; i < count; i++) {
    await atProgress(ctx, (i + 1) / (count + 1));
    const mode = i % 2 === 0 ? "fast" : "immediate";
    say(`PostgreSQL: ${mode} stop, down ${downMs / 1000} s`);
    await ctx.pgsql.restart(mode, downMs);
    ctx.faults.push(`PostgreSQL ${mode} stop + start at ${ctx.progress.finished}/${N} finished`);
    say("PostgreSQL is back");
  }
}

async function natsStops(ctx: RunContext): Promise<void> {
  const downMs = Number(values["nats-down-s"]) * 1000;
  for (const fraction of [0.3, 0.65]) {
    await atProgress(ctx, fraction);
    say(`NATS: stopped for ${downMs / 1000} s`);
    await ctx.nats.stop("SIGTERM");
    await sleep(downMs);
    await ctx.nats.start();
    ctx.faults.push(`NATS stopped ${downMs / 1000} s at ${ctx.progress.finished}/${N} finished`);
    say("NATS is back");
  }
}

/**
 * The JetStream store is lost while consumers lag behind: pipeline-engine and dev-svc are killed,
 * their unread messages pile up for a few seconds (stage results, pipeline events), then
 * nats-server dies with its store and starts empty, and the two services start again.
 */
async function jsWipe(ctx: RunContext): Promise<void> {
  await atProgress(ctx, 0.4);
  const lagging: PlatformProcess[] = ["dev-svc"];
  say(`JetStream: ${lagging.join(" and ")} killed; their messages pile up for 5 s`);
  for (const name of lagging) {
    ctx.downOnPurpose.add(name);
    await ctx.platform.processes[name].kill();
  }
  await sleep(5000);
  say("JetStream: nats-server killed, store deleted, started empty");
  await ctx.nats.wipe();
  for (const name of lagging) {
    await revive(ctx, name);
    ctx.downOnPurpose.delete(name);
  }
  ctx.faults.push(
    `JetStream store wiped at ${ctx.progress.finished}/${N} finished, with ${lagging.join(" and ")} down 5 s before it`,
  );
}

async function opsOutage(ctx: RunContext): Promise<void> {
  const outageMs = Number(values["ops-outage-s"]) * 1000;
  await atProgress(ctx, 0.25);
  const failedBefore = ctx.progress.byStatus["FAILED"] ?? 0;
  const finishedBefore = ctx.progress.finished;
  say(`ops module: deploy API unreachable for ${outageMs / 1000} s`);
  const res = await fetch(`${ctx.platform.opsModuleUrl}/_control/outage`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ mode: "unreachable", durationMs: outageMs, scope: "deploy" }),
  });
  if (!res.ok) throw new Error(`ops module outage refused: ${res.status} ${await res.text()}`);
  const until = Date.now() + outageMs;
  let maxWaiting = 0;
  let failedDuring = 0;
  while (Date.now() < until) {
    maxWaiting = Math.max(maxWaiting, ctx.progress.waitingOps);
    failedDuring = (ctx.progress.byStatus["FAILED"] ?? 0) - failedBefore;
    await sleep(500);
  }
  const finishedDuring = ctx.progress.finished - finishedBefore;
  ctx.faults.push(`ops deploy API unreachable ${outageMs / 1000} s from ${finishedBefore}/${N} finished`);
  say(`ops module answers again (${maxWaiting} pipelines were waiting for it at most)`);
  ctx.extraChecks.push({
    name: "ops down: pipelines wait at DEPLOY, none fails for it",
    ok: failedDuring === 0 && maxWaiting > 0,
    counts: `up to ${maxWaiting} pipelines WAITING_OPS at once, ${failedDuring} failed and ${finishedDuring} finished during the outage`,
    problems: maxWaiting > 0 ? [] : ["no pipeline was seen waiting for ops (the outage hit nothing)"],
  });
}

/**
 * A process that ends while nobody brought it down has crashed of a fault it should have survived
 * (a service waits for PostgreSQL and NATS; it does not exit). Each such exit is noted with what the
 * process printed last, and the process is started again, as a supervisor would, so that the run
 * goes on; the invariant "no process ended on its own" then fails.
 */
async function watchExits(ctx: RunContext, done: () => boolean): Promise<void> {
  while (!done()) {
    for (const name of Object.keys(ctx.platform.processes) as PlatformProcess[]) {
      const proc = ctx.platform.processes[name];
      // Killed by the bench through the process (test-kit), it did not end on its own.
      if (proc.endedOnItsOwn === undefined || ctx.downOnPurpose.has(name)) continue;
      const last = proc.output.slice(-60);
      const error = last.find((l) => /^\w*(error|Error)\b.*:/.test(l)) ?? last.at(-1) ?? "(no output)";
      const exit = proc.endedOnItsOwn;
      ctx.exits.push(`${name} exited (${exit}) at ${ctx.progress.finished}/${N} finished: ${error}`);
      say(`${name} exited on its own (${exit}): ${error}; starting it again`);
      ctx.downOnPurpose.add(name);
      await revive(ctx, name);
      ctx.downOnPurpose.delete(name);
    }
    await sleep(1000);
  }
}

async function monitor(databaseUrl: string, ctx: RunContext, done: () => boolean): Promise<void> {
  let lastPrint = 0;
  let db: pg.Client | undefined;
  while (!done()) {
    try {
      if (!db) {
        db = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 });
        db.on("error", () => {});
        await db.connect();
      }
      const { rows } = await db.query<{ status: string; n: number; waiting: number }>(
        `select status, count(*)::int as n, count(*) filter (where deploy_status = 'WAITING_OPS')::int as waiting
         from pipeline.pipeline where type = 'PHASE' group by status`,
      );
      const unsettled = (await db.query<{ n: number }>(UNSETTLED_SQL)).rows[0]!.n;
      const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      ctx.progress = {
        byStatus,
        finished: (byStatus["SUCCESS"] ?? 0) + (byStatus["FAILED"] ?? 0) + (byStatus["CANCELLED"] ?? 0),
        unsettled,
        waitingOps: rows.reduce((s, r) => s + r.waiting, 0),
      };
    } catch {
      // PostgreSQL is restarting: try again with a new connection
      await db?.end().catch(() => {});
      db = undefined;
    }
    if (Date.now() - lastPrint > 15_000) {
      lastPrint = Date.now();
      const kills = Object.values(ctx.kills).reduce((a, b) => a + b, 0);
      say(
        `phase pipelines ${JSON.stringify(ctx.progress.byStatus)}; unsettled ${ctx.progress.unsettled}; ` +
          `waiting for ops ${ctx.progress.waitingOps}; kills ${kills}; load ${os.loadavg()[0]!.toFixed(1)}`,
      );
    }
    await sleep(1000);
  }
  await db?.end().catch(() => {});
}

/** Waits until every release's status in dev-svc is its pipeline's (at most `capMs`); how many still differ. */
async function projectionCaughtUp(
  databaseUrl: string,
  capMs: number,
): Promise<{ count: number; waitedMs: number }> {
  const started = Date.now();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    for (;;) {
      const { rows } = await db.query<{ n: number }>(
        `select count(*)::int as n from dev.iteration_phase r
         join pipeline.pipeline p on p.type = 'PHASE' and p.ref_id = r.id
         where r.status is distinct from p.status`,
      );
      const count = rows[0]!.n;
      // At least 5 s, as before: events of the last moments are still on their way.
      if ((count === 0 && Date.now() - started >= 5000) || Date.now() - started >= capMs)
        return { count, waitedMs: Date.now() - started };
      await sleep(1000);
    }
  } finally {
    await db.end();
  }
}

async function runVariant(variant: Variant): Promise<boolean> {
  const started = Date.now();
  say(`variant ${variant}: ${N} pipelines; starting PostgreSQL and NATS of its own`);
  const pgsql = await ScratchPostgres.create();
  const nats = await ScratchNats.create();
  const admin = new pg.Client({ connectionString: pgsql.url() });
  await admin.connect();
  await admin.query(`create database procode`);
  await admin.end();
  const infra: TestInfra = {
    adminUrl: pgsql.url(),
    databaseUrl: pgsql.url("procode"),
    natsUrl: nats.url,
    envName: "chaos",
    jwtSecret: randomBytes(24).toString("hex"),
    cleanup: async () => {},
  };
  const ports: Record<string, number> = {};
  for (const name of ["ops-module", "app-svc", "dev-svc", "pipeline-engine", "ops-gateway"])
    ports[name] = await freePort();
  let platform: Platform | undefined;
  let ok = false;
  try {
    platform = await startPlatform(infra, { env: processEnv(ports, Number(values["ops-duration-ms"])) });
    say(`platform up at ${platform.gatewayUrl}`);
    const api = new Api(
      platform.gatewayUrl,
      await signToken({ sub: "chaos", team: "chaos" }, infra.jwtSecret),
    );
    const appCount = Math.min(Number(values.apps), N);
    const appIds = await setUpApps(api, {
      count: appCount,
      repoRoot: platform.repoRoot,
      databaseUrl: infra.databaseUrl,
    });
    say(`${appIds.length} apps bound, scaffolded, phases RELEASE`);

    const ctx: RunContext = {
      variant,
      platform,
      pgsql,
      nats,
      progress: { byStatus: {}, finished: 0, unsettled: 0, waitingOps: 0 },
      stopFaults: false,
      kills: {},
      downOnPurpose: new Set(),
      exits: [],
      faults: [],
      extraChecks: [],
    };
    const state: DriverState = { submitted: 0, released: [], refused: [], done: false };
    let monitoring = true;
    const watcher = monitor(infra.databaseUrl, ctx, () => !monitoring);
    const exitWatcher = watchExits(ctx, () => !monitoring);
    const runStart = Date.now();
    const kills =
      variant === "kill" || values["with-kills"] ? killLoop(ctx, Number(values["kill-every"])) : null;
    const oneOff =
      variant === "pg-restart"
        ? pgRestarts(ctx)
        : variant === "nats-stop"
          ? natsStops(ctx)
          : variant === "js-wipe"
            ? jsWipe(ctx)
            : variant === "ops-outage"
              ? opsOutage(ctx)
              : Promise.resolve();
    let oneOffDone = false;
    const oneOffEnded = oneOff.finally(() => (oneOffDone = true));

    await releaseAll(api, {
      appIds,
      total: N,
      inFlight: Number(values["in-flight"]),
      concurrency: 8,
      finished: () => ctx.progress.finished,
      state,
    });
    say(`all ${N} releases asked for (${state.refused.length} refused)`);

    // Faults go on until every pipeline has come to rest and the one-off fault has happened.
    const settleDeadline = Date.now() + Number(values["settle-timeout-s"]) * 1000;
    const settled = async () => {
      await sleep(2000);
      return ctx.progress.unsettled === 0 && ctx.progress.finished + state.refused.length >= N;
    };
    while (Date.now() < settleDeadline && !((await settled()) && oneOffDone));
    ctx.stopFaults = true;
    await Promise.all([kills, oneOffEnded]);
    // A process that crashed meanwhile has been started again by watchExits.
    // After the last fault, everything must still come to rest.
    while (Date.now() < settleDeadline && !(await settled()));
    const runMs = Date.now() - runStart;
    // dev-svc follows the releases by the engine's events: one killed near the end gets the events it
    // had not acknowledged again after the consumers' ack wait (30 s). Compare once it has caught up,
    // or after 90 s (then the invariant below names what it still lacks).
    const behind = await projectionCaughtUp(infra.databaseUrl, 90_000);
    say(
      behind.count === 0
        ? `dev-svc's releases agree with the engine's pipelines after ${(behind.waitedMs / 1000).toFixed(0)} s`
        : `dev-svc's releases still disagree with ${behind.count} pipelines after ${(behind.waitedMs / 1000).toFixed(0)} s`,
    );
    monitoring = false;
    await Promise.all([watcher, exitWatcher]);

    const report = await checkInvariants(infra.databaseUrl, platform.opsModuleUrl);
    const checks: Check[] = [
      {
        name: "every release asked for was accepted",
        ok: state.refused.length === 0,
        counts: `${state.submitted} asked, ${state.released.length} accepted; ${callStats.calls} REST calls, ${callStats.retried} retried`,
        problems: state.refused.slice(0, 5),
      },
      ...report.checks,
      ...ctx.extraChecks,
      {
        name: "no process ended on its own",
        ok: ctx.exits.length === 0,
        counts: ctx.exits.length
          ? `${ctx.exits.length} exits, each started again`
          : "every exit was a kill of the bench's",
        problems: ctx.exits.slice(0, 5),
      },
    ];
    const killCount = Object.values(ctx.kills).reduce((a, b) => a + b, 0);
    ok = printReport({
      title: `chaos ${variant}: ${N} pipelines`,
      checks,
      figures: {
        variant,
        pipelines: N,
        apps: appCount,
        kills: killCount
          ? `${killCount} (${Object.entries(ctx.kills)
              .map(([k, v]) => `${k} ${v}`)
              .join(", ")})`
          : 0,
        faults: ctx.faults.join("; ") || "-",
        ...report.figures,
        "run (first release to settled)": `${(runMs / 1000).toFixed(0)} s`,
        "whole variant": `${((Date.now() - started) / 1000).toFixed(0)} s`,
        machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")}`,
      },
    });
  } finally {
    await platform?.stop().catch(() => {});
    await nats.destroy(values.keep);
    await pgsql.destroy(values.keep);
    if (values.keep) say(`kept: PostgreSQL data in ${pgsql.dir}, NATS store in ${nats.dir}`);
  }
  return ok;
}

let allOk = true;
for (const v of variants) {
  Object.assign(callStats, { calls: 0, retried: 0, networkErrors: 0, unavailable: 0 });
  allOk = (await runVariant(v)) && allOk;
}
process.exit(allOk ? 0 : 1);
