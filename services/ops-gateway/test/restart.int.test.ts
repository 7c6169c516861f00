import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestInfra, eventually, serviceEnv, sql, type TestInfra } from "@procode/test-kit";
import { EngineSide } from "./support/engine.js";
import { OpsModuleProcess } from "./support/ops-module.js";
import { startGatewayProcess, type ChildService } from "./support/processes.js";

/**
 * Polling is durable: ops-gateway killed with SIGKILL while 50 deployments are DEPLOYING, then
 * started again, brings every one of them to its outcome, each exactly once.
 */

const SECRET = "ops-callback-secret-for-tests-0003";
const COUNT = 50;
let infra: TestInfra;
let ops: OpsModuleProcess;
let engine: EngineSide | undefined;
const gateways: ChildService[] = [];

beforeAll(async () => {
  [infra, ops] = await Promise.all([
    createTestInfra("ops_restart"),
    OpsModuleProcess.start({ CALLBACK_SECRET: SECRET, CALLBACK_URL: "http://127.0.0.1:9/deploy/callback" }),
  ]);
});

afterAll(async () => {
  await engine?.close();
  for (const g of gateways) await g.stop("SIGKILL");
  await ops?.stop();
  await infra?.cleanup();
});

const gatewayEnv = () =>
  serviceEnv(infra, {
    OPS_BASE_URL: ops.url,
    OPS_CALLBACK_SECRET: SECRET,
    OPS_SCAN_INTERVAL_MS: "100",
    OPS_RETRY_BASE_MS: "200",
    OPS_RETRY_MAX_MS: "1000",
    OPS_TIMEOUT_MS: "3000",
    OPS_LEASE_MS: "4500",
  });

/** The replica id a gateway process logged at start. */
const replicaOf = (g: ChildService) =>
  g.output
    .map((l) => {
      try {
        return (JSON.parse(l) as { replica?: string }).replica;
      } catch {
        return undefined;
      }
    })
    .find(Boolean)!;

it("SIGKILL with 50 deployments DEPLOYING: after a restart all 50 reach their outcome once", async () => {
  // Half finish only by polling (SUCCESS), half call back (FAILED); slow status answers keep
  // polls in flight (and leased) at the moment of the kill. They run until told to finish, so
  // that a slow machine cannot let any of them end before the kill.
  await ops.forApp(301, { callback: "off", durationMs: 600_000, statusDelayMs: 200 });
  await ops.forApp(302, { callback: "on", durationMs: 600_000, outcome: "FAILED", statusDelayMs: 200 });
  const first = await startGatewayProcess(gatewayEnv());
  gateways.push(first);
  await ops.setCallback(`${first.url}/deploy/callback`);
  engine = await EngineSide.connect(infra);

  const pipelines = Array.from({ length: COUNT }, (_, i) => i + 1);
  for (const p of pipelines) {
    await engine.requestDeploy({
      pipelineId: p,
      appId: p <= COUNT / 2 ? 301 : 302,
      pollInterval: 1,
      pollTimeout: 120,
    });
  }
  await eventually(
    () => pipelines.every((p) => engine!.started(p).length > 0),
    "50 deployments started",
    20_000,
  );
  const [{ deploying }] = (await sql<{ deploying: string }>(
    infra.databaseUrl,
    `select count(*)::text as deploying from ops.deployment where status = 'DEPLOYING'`,
  )) as [{ deploying: string }];
  expect(Number(deploying)).toBe(COUNT);
  expect(pipelines.some((p) => engine!.finished(p).length > 0)).toBe(false);

  const killedReplica = replicaOf(first);
  const leasedBy = async (owner: string) =>
    Number(
      (
        await sql<{ n: string }>(
          infra.databaseUrl,
          `select count(*)::text as n from ops.deployment where lease_owner = $1`,
          [owner],
        )
      )[0]!.n,
    );
  // Kill it in the middle of polls, so that some deployments are left leased by a dead process.
  await eventually(async () => (await leasedBy(killedReplica)) >= 3, "polls in flight", 10_000, 20);
  await first.stop("SIGKILL");
  expect(await leasedBy(killedReplica)).toBeGreaterThan(0);
  // The callers back finish while no ops-gateway runs: their callbacks fail and are retried.
  expect(await ops.change({ appId: 302 }, { durationMs: 0 })).toBe(COUNT / 2);

  const second = await startGatewayProcess(gatewayEnv());
  gateways.push(second);
  await ops.setCallback(`${second.url}/deploy/callback`);
  expect(await ops.change({ appId: 301 }, { durationMs: 0 })).toBe(COUNT / 2);

  await eventually(() => pipelines.every((p) => engine!.finished(p).length > 0), "50 outcomes", 40_000, 200);
  await engine.settle(pipelines, 30_000);

  for (const p of pipelines) {
    const finished = engine.finished(p);
    expect(finished, `pipeline ${p}`).toHaveLength(1);
    expect(finished[0]!.data.outcome).toBe(p <= COUNT / 2 ? "SUCCESS" : "FAILED");
    if (p <= COUNT / 2) expect(finished[0]!.data.via).toBe("POLL");
  }
  const rows = await sql<{ status: string; n: string }>(
    infra.databaseUrl,
    `select status, count(*)::text as n from ops.deployment group by status order by status`,
  );
  expect(rows).toEqual([
    { status: "FAILED", n: String(COUNT / 2) },
    { status: "SUCCESS", n: String(COUNT / 2) },
  ]);
  // The polls that ended the poll-only deployments were made by the restarted process.
  const appliedBy = await sql<{ observer: string }>(
    infra.databaseUrl,
    `select distinct observer from ops.deployment_observation where source = 'POLL' and effect = 'APPLIED'`,
  );
  expect(appliedBy.map((r) => r.observer)).toEqual([replicaOf(second)]);
  expect(replicaOf(second)).not.toBe(killedReplica);
  // Nothing was created twice at ops.
  const atOps = [...(await ops.deploymentsOf(301)), ...(await ops.deploymentsOf(302))];
  expect(atOps).toHaveLength(COUNT);
}, 120_000);
