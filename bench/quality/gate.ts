/**
 * The agent quality gate's figures (docs/quality-gate.md, "Figures"), over the real platform started
 * as the tests start it (the four services, the reference ops module and the gateway, on a fresh
 * database): a LOCAL app with the python-agent scaffold, then
 *   1. `--releases` (default 20) releases of the scaffold, each a commit that changes nothing the
 *      agent does, each compared with the one before: none may be blocked (a false block);
 *   2. the gate's wall time and its parts from each release's report and stage log: unit tests in
 *      the sandbox (its start included), the agent's start to its first answer on the socket, the
 *      cases asked and scored;
 *   3. cases per second with 48 cases at concurrency 1, 4 and 16.
 *
 *   pnpm --filter @procode/bench quality [--releases 20]
 *   DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { signToken } from "@procode/service-kit";
import { git, startPlatform, type TestInfra } from "@procode/test-kit/platform";
import { benchTarget, loadAverage, percentile, removeBenchTarget, sleep } from "../pipelines/lib.js";

const { values } = parseArgs({ options: { releases: { type: "string", default: "20" } } });
const RELEASES = Number(values.releases);
const target = benchTarget("quality");
const log = (msg: string) => process.stdout.write(`${msg}\n`);

const admin = new pg.Client({ connectionString: target.adminUrl });
await admin.connect();
await admin.query(`create database "${target.dbName}"`);
await admin.end();
const infra: TestInfra = {
  adminUrl: target.adminUrl,
  databaseUrl: target.databaseUrl,
  natsUrl: target.natsUrl,
  envName: target.envName,
  jwtSecret: target.jwtSecret,
  cleanup: () => removeBenchTarget({ ...target, envNames: [target.envName] }),
};
const platform = await startPlatform(infra, {
  env: { "dev-svc": { BIND_POLL_MS: "200" }, "ops-module": { DEFAULT_DURATION_MS: "50" } },
});
const token = await signToken({ sub: "bench", team: "bench" }, infra.jwtSecret);
const workdir = mkdtempSync(path.join(tmpdir(), "procode-quality-bench-"));

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${platform.gatewayUrl}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const env = (await res.json()) as { code: number; message: string; data: T };
  if (env.code !== 0) throw new Error(`${method} ${url}: ${env.code} ${env.message}`);
  return env.data;
}

async function until<T>(what: string, read: () => Promise<T | null | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Pipeline {
  id: number;
  status: string;
  checkpoints: { stage: string; output: Record<string, unknown> | null }[];
}
interface Report {
  id: number;
  verdict: string;
  durationMs: number;
  baseline: { tag: string } | null;
  latency: { p50Ms: number; p95Ms: number };
}

/** A new iteration from main, taken to STAGING and released with `tag`; the ended pipeline and its report. */
async function release(appId: number, tag: string) {
  const it0 = await call<{ id: number }>("POST", "/iterations", { appId, name: tag, sourceBranch: "main" });
  await until(
    "DEVELOPING",
    async () => (await call<{ status: string }>("GET", `/iterations/${it0.id}`)).status === "DEVELOPING",
  );
  await call("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
  await call("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "STAGING" });
  const r = await call<{ pipelineId: number }>("POST", `/iterations/${it0.id}/release`, { tag });
  const p = await until(`${tag} to end`, async () => {
    const x = await call<Pipeline>("GET", `/pipelines/${r.pipelineId}`);
    return x.status === "SUCCESS" || x.status === "FAILED" ? x : null;
  });
  const reportId = p.checkpoints.filter((c) => c.stage === "QUALITY_GATE").at(-1)?.output?.["reportId"];
  if (typeof reportId !== "number")
    throw new Error(`${tag}: no gate report (${JSON.stringify(p.checkpoints)})`);
  const report = await call<Report>("GET", `/apps/${appId}/quality/${reportId}`);
  const lines = (
    await call<{ lines: { text: string }[] }>("GET", `/pipelines/${p.id}/logs?stage=QUALITY_GATE&attempt=1`)
  ).lines.map((l) => l.text);
  return { p, report, lines };
}

const msIn = (lines: string[], re: RegExp) => Number(lines.map((l) => re.exec(l)?.[1]).find((x) => x) ?? NaN);
const stat = (xs: number[]) => `P50 ${percentile(xs, 50)} ms, P95 ${percentile(xs, 95)} ms`;

try {
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "graded.git");
  const app = await call<{ id: number }>("POST", "/apps", {
    name: "graded",
    devMode: "pro-code",
    techStack: "python",
    gitRepoUrl: "local://graded",
    scaffoldTemplate: "python-agent",
  });
  await until("the scaffold pushed", async () => {
    const r = await call<{ state: string; scaffold: { state: string } }>("GET", `/apps/${app.id}/repo`);
    return r.state === "BOUND" && r.scaffold.state === "PUSHED";
  });
  git(workdir, "clone", "--quiet", path.join(platform.repoRoot, "graded.git"), "graded");
  const checkout = path.join(workdir, "graded");
  const commit = (file: string, text: string) => {
    writeFileSync(path.join(checkout, file), text);
    git(checkout, "add", file);
    git(checkout, "commit", "--quiet", "-m", `bench: ${file}`);
    git(checkout, "push", "--quiet", "origin", "main");
  };

  log(
    `quality gate bench: ${RELEASES} unchanged releases of the scaffold, then 48 cases at concurrency 1, 4, 16`,
  );
  const rows: { wall: number; tests: number; start: number; cases: number }[] = [];
  let blocked = 0;
  for (let i = 1; i <= RELEASES; i++) {
    commit("README.md", `# agent\n\nrelease ${i}\n`);
    const { p, report, lines } = await release(app.id, `v1.0.${i}`);
    if (p.status !== "SUCCESS" || report.verdict !== "PASS") {
      blocked += 1;
      log(`  v1.0.${i}: ${p.status} ${report.verdict} (a false block)`);
    }
    rows.push({
      wall: report.durationMs,
      tests: msIn(lines, /^unit tests: \d+ ran, none failed \((\d+) ms\)$/),
      start: msIn(lines, /^agent ready on its socket in (\d+) ms/),
      cases: msIn(lines, /over \d+ call\(s\) in (\d+) ms$/),
    });
  }
  log(`  ${RELEASES} releases, ${blocked} blocked (load average ${loadAverage()})`);
  log(`  the gate, reading the tree to the stored report: ${stat(rows.map((r) => r.wall))}`);
  log(`  unit tests in the sandbox (its start included): ${stat(rows.map((r) => r.tests))}`);
  log(`  the agent's start to its first answer:          ${stat(rows.map((r) => r.start))}`);
  log(`  its cases, asked and scored:                    ${stat(rows.map((r) => r.cases))}`);

  const cases = Array.from({ length: 48 }, (_, i) =>
    JSON.stringify({
      id: `echo-${i}`,
      input: `message ${i}`,
      assert: [{ type: "equals", value: `You said: message ${i}` }],
    }),
  ).join("\n");
  commit("evals/cases.jsonl", `${cases}\n`);
  for (const concurrency of [1, 4, 16]) {
    commit("evals/gate.json", JSON.stringify({ concurrency, maxNewlyFailing: 48, maxPassRateDrop: 1 }));
    const { report, lines } = await release(app.id, `v2.${concurrency}.0`);
    const ms = msIn(lines, /over \d+ call\(s\) in (\d+) ms$/);
    log(
      `  concurrency ${concurrency}: ${((48 * 1000) / ms).toFixed(0)} cases/s (48 in ${ms} ms; /invoke P50 ${report.latency.p50Ms} ms, P95 ${report.latency.p95Ms} ms; ${report.verdict})`,
    );
  }
} finally {
  await platform.stop();
  await infra.cleanup();
  rmSync(workdir, { recursive: true, force: true });
}
