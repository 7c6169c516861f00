/**
 * The gateway's own cost per proxied request, apart from any service: the gateway (from its bundle)
 * in front of a plain HTTP server that answers every request at once with the same JSON envelope (the
 * size of a `GET /pipelines/{id}` answer). It prints, per run, the gateway's CPU per request (from
 * /proc), requests/s and latency: at maximum throughput (autocannon, 10 connections), and at fixed
 * open-model rates (open-load.ts). Run it on a quiet machine; the load average is printed.
 *   pnpm --filter @procode/bench gateway [--duration 10] [--rates 1000,2000] [--cpu-prof DIR]
 */
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { openLoad } from "./open-load.js";
import {
  bundle,
  cpuReferenceLine,
  cpuSeconds,
  freePort,
  loadAverage,
  Proc,
  repoRoot,
} from "../pipelines/lib.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rates: { type: "string", default: "1000,2000" },
    "cpu-prof": { type: "string" },
  },
});
const durationS = Number(values.duration);
// Before anything else runs (see cpuReference).
const reference = cpuReferenceLine();

// An answer as large as a pipeline's (about 1.6 KB of JSON).
const answer = JSON.stringify({
  code: 0,
  message: "success",
  data: {
    id: 1,
    type: "PHASE",
    status: "SUCCESS",
    state: "SUCCESS",
    checkpoints: Array.from({ length: 5 }, (_, i) => ({
      stage: `STAGE_${i}`,
      status: "SUCCESS",
      attempt: 1,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      output: { artifactUrl: `https://artifacts.example/${"x".repeat(120)}` },
    })),
  },
});
const upstream = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(answer);
  });
});
const upstreamPort = await freePort();
await new Promise<void>((r) => upstream.listen(upstreamPort, "127.0.0.1", r));
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;

bundle("tools/gateway");
const port = await freePort();
const gateway = new Proc(
  "gateway",
  path.join(repoRoot, "tools/gateway"),
  "dist/main.js",
  {
    GATEWAY_PORT: String(port),
    APP_SVC_URL: upstreamUrl,
    DEV_SVC_URL: upstreamUrl,
    PIPELINE_ENGINE_URL: upstreamUrl,
    OPS_GATEWAY_URL: upstreamUrl,
    // info: its "listening" line says where it listens (it logs no line per request).
    LOG_LEVEL: "info",
    AUTH_JWT_SECRET: "bench-secret-of-the-gateway",
  },
  values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(values["cpu-prof"], "gateway")] : [],
  false,
);
gateway.start();
await gateway.waitListening();
const base = `http://127.0.0.1:${port}`;

const headers = { authorization: "Bearer bench" };
const rows: string[] = [];
async function measure(what: string, run: () => Promise<{ requests: number; line: string }>) {
  const load0 = loadAverage();
  const cpu0 = cpuSeconds(gateway.child.pid);
  const { requests, line } = await run();
  const cpu = cpuSeconds(gateway.child.pid) - cpu0;
  rows.push(
    `| ${what} | ${line} | ${((cpu * 1e6) / Math.max(requests, 1)).toFixed(0)} | ${load0.toFixed(1)}-${loadAverage().toFixed(1)} |`,
  );
}

// Warm-up: the JIT, the upstream connections.
await autocannon({ url: `${base}/pipelines/1`, connections: 10, duration: 3, headers });

await measure("max, 10 connections", async () => {
  const r = await autocannon({ url: `${base}/pipelines/1`, connections: 10, duration: durationS, headers });
  return {
    requests: r.requests.total,
    line: `${r.latency.p50} | ${r.latency.p99} | ${r.requests.average.toFixed(0)}`,
  };
});
for (const rate of values.rates.split(",").map(Number)) {
  await measure(`${rate}/s open`, async () => {
    const r = await openLoad({
      url: base,
      rate,
      durationS,
      connections: 64,
      method: "GET",
      path: () => "/pipelines/1",
      headers,
    });
    return {
      requests: r.sent,
      line: `${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.throughput.toFixed(0)}`,
    };
  });
}

console.log(
  `bench gateway: the gateway (bundle) in front of a server that answers at once (${answer.length} bytes); ${durationS} s per run; ${reference}`,
);
console.log("| load | P50 ms | P99 ms | req/s | gateway CPU µs/request | load average |");
console.log("|---|---|---|---|---|---|");
for (const row of rows) console.log(row);
await gateway.kill("SIGTERM");
upstream.close();
process.exit(0);
