/**
 * Iteration query benchmark (the idx_app_id index; iteration queries under 100 ms). On a fresh
 * database it starts dev-svc as a real process (from source through tsx, as `npm start` runs it; its
 * migrations create the tables), seeds 100,000 iterations of one app straight into PostgreSQL (one
 * INSERT ... SELECT; the releases' iteration_phase rows likewise) beside 20,000 of 20 other apps,
 * interleaved, then loads `GET /apps/{id}/iterations` with autocannon and prints latency P50, P90,
 * P99, P99.9, throughput, the CPU per page of dev-svc, of PostgreSQL and of the load generator, and
 * the load average for: the first page, the first page of one status, deep pages by offset (`page`)
 * and the same depths by cursor (`cursor`, from the `nextCursor` of the page before).
 *
 *   pnpm --filter @procode/bench iterations [--connections 10] [--duration 20] [--keep] [--cpu-prof DIR]
 *   DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222
 */
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { KeyRing, signToken } from "@procode/service-kit";
import {
  backendsCpu,
  benchTarget,
  cpuReferenceLine,
  cpuSeconds,
  loadAverage,
  ownCpuSeconds,
  Proc,
  removeBenchTarget,
  repoRoot,
  withClient,
} from "../pipelines/lib.js";
import { seedIterations } from "./seed.js";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "10" },
    duration: { type: "string", default: "20" },
    iterations: { type: "string", default: "100000" },
    keep: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
  },
});
const connections = Number(values.connections);
const duration = Number(values.duration);
const N = Number(values.iterations);
const { adminUrl, natsUrl, dbName, envName, jwtSecret, databaseUrl } = benchTarget("iterations");
const APP = 424242;
const TEAM = "bench";

const log = (msg: string) => process.stdout.write(`${msg}\n`);

await withClient(adminUrl, (c) => c.query(`create database "${dbName}"`));

const svc = new Proc(
  "dev-svc",
  path.join(repoRoot, "services", "dev-svc"),
  "src/main.ts",
  {
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    ENV_NAME: envName,
    AUTH_JWT_SECRET: jwtSecret,
    ENCRYPTION_KEYS: KeyRing.generateSpec("bench"),
    DB_POOL_MAX: "10",
  },
  values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(values["cpu-prof"], "dev-svc")] : [],
);

// Before anything else runs, as in the other benches.
const reference = cpuReferenceLine();
try {
  svc.start();
  await svc.waitListening();
  log(`dev-svc listening at ${svc.url} (database ${dbName}); ${reference}`);

  const seedStarted = performance.now();
  const counts = await seedIterations(databaseUrl, { app: APP, team: TEAM, n: N });
  log(
    `seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s: app ${APP}: ${counts.join(", ")}; 20 other apps: ${Math.round(N / 5)} iterations`,
  );

  const token = await signToken({ sub: "bench", team: TEAM }, jwtSecret);
  const headers = { authorization: `Bearer ${token}` };
  const base = `${svc.url}/apps/${APP}/iterations`;

  // The answers are what they should be before anything is measured.
  for (const [q, expectTotal] of [
    ["", N],
    ["?status=DEVELOPING", null],
  ] as const) {
    const res = await fetch(`${base}${q}`, { headers });
    const body = (await res.json()) as { code: number; data: { total: number; items: { id: number }[] } };
    if (res.status !== 200 || body.code !== 0 || body.data.items.length !== 20)
      throw new Error(`GET ${base}${q} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    if (expectTotal !== null && body.data.total !== expectTotal)
      throw new Error(`total ${body.data.total}, expected ${expectTotal}`);
    log(`GET /apps/${APP}/iterations${q}: total ${body.data.total}, first id ${body.data.items[0]!.id}`);
  }

  /** CPU used so far by this database's PostgreSQL backends (dev-svc's pool; the bench's own are idle). */
  const postgresCpu = () => withClient(adminUrl, (c) => backendsCpu(c, dbName));

  const indexScans = () =>
    withClient(databaseUrl, async (c) =>
      Object.fromEntries(
        (
          await c.query<{ indexrelname: string; idx_scan: string }>(
            `select indexrelname, idx_scan from pg_stat_user_indexes where schemaname = 'dev'
             and indexrelname in ('idx_app_id', 'idx_app_status', 'iteration_pkey', 'idx_iteration_id')`,
          )
        ).rows.map((r) => [r.indexrelname, Number(r.idx_scan)]),
      ),
    );

  /** The cursor that continues after the page at `query` (its `nextCursor`), or null without one. */
  const cursorAfter = async (query: string): Promise<string | null> => {
    const res = await fetch(`${base}?${query}`, { headers });
    const body = (await res.json()) as { data: { items: { id: number }[]; nextCursor?: string | null } };
    return body.data.nextCursor ?? null;
  };
  // The same depths as the offset pages below: the page after page 1999 of RELEASED and after 3999
  // of all (the service answers a cursor beside every page, so the bench starts there).
  const releasedCursor = await cursorAfter("status=RELEASED&page=1999");
  const allCursor = await cursorAfter("page=3999");

  await autocannon({ url: base, connections, duration: 3, headers }); // warm-up
  const rows: string[] = [];
  const scenarios: [string, string, number, number][] = [
    ["first page (20 of 100,000)", base, connections, duration],
    ["first page, status=DEVELOPING", `${base}?status=DEVELOPING`, connections, duration],
    ["page 2000 of RELEASED (offset 39,980)", `${base}?status=RELEASED&page=2000`, connections, duration / 2],
    ["page 4000 of all (offset 79,980)", `${base}?page=4000`, connections, duration / 2],
  ];
  if (releasedCursor)
    scenarios.push([
      "RELEASED after 39,980 by cursor",
      `${base}?status=RELEASED&cursor=${encodeURIComponent(releasedCursor)}`,
      connections,
      duration / 2,
    ]);
  if (allCursor)
    scenarios.push([
      "all after 79,980 by cursor",
      `${base}?cursor=${encodeURIComponent(allCursor)}`,
      connections,
      duration / 2,
    ]);
  if (!releasedCursor && !allCursor) log("no nextCursor in the answers: the cursor scenarios are skipped");
  scenarios.push(["first page, one connection", base, 1, duration / 2]);
  for (const [name, url, conns, secs] of scenarios) {
    const before = await indexScans();
    const cpuBefore = cpuSeconds(svc.child.pid);
    const pgBefore = await postgresCpu();
    const ownBefore = ownCpuSeconds();
    const loadBefore = loadAverage();
    const r = await autocannon({ url, connections: conns, duration: secs, headers });
    const perPage = (seconds: number) => ((seconds * 1000) / Math.max(1, r.requests.total)).toFixed(2);
    const cpuPerPage = `${perPage(cpuSeconds(svc.child.pid) - cpuBefore)} | ${perPage((await postgresCpu()) - pgBefore)} | ${perPage(ownCpuSeconds() - ownBefore)}`;
    const load = `${loadBefore.toFixed(1)}-${loadAverage().toFixed(1)}`;
    const after = await indexScans();
    const used = Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, d]) => d > 0)
      .map(([k, d]) => `${k} ${d}`)
      .join(", ");
    rows.push(
      `| ${name} | ${conns} | ${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.p99_9} | ${r.latency.max} | ${Math.round(r.requests.average)} | ${r.requests.total} | ${r.non2xx + r.errors + r.timeouts} | ${cpuPerPage} | ${load} |`,
    );
    log(`${name}: index scans during the run: ${used}`);
  }
  log("");
  log(`GET /apps/{id}/iterations, autocannon ${duration} s per run (ms; autocannon's resolution is 1 ms):`);
  log("");
  log(
    "| query | connections | P50 | P90 | P99 | P99.9 | max | req/s | requests | errors/non-2xx | CPU ms/page: dev-svc | PostgreSQL | load generator | load average |",
  );
  log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) log(row);
} finally {
  await svc.kill("SIGTERM");
  if (!values.keep) {
    await removeBenchTarget({ adminUrl, natsUrl, dbName, envNames: [envName] });
  } else {
    log(`kept database ${dbName}`);
  }
}
