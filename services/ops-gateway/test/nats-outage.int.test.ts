import { afterAll, beforeAll, expect, it } from "vitest";
import { streamName } from "@procode/contracts";
import type { ServiceRuntime } from "@procode/service-kit";
import { eventually, sql, streamMessages, type TcpProxy, type TestInfra } from "@procode/test-kit";
import type { Config } from "../src/config.js";
import { callbackBody, type EngineSide, signedHeaders } from "./support/engine.js";
import { startOpsFlow, type OpsFlow } from "./support/flow.js";
import type { OpsModuleProcess } from "./support/ops-module.js";

/**
 * ops-gateway's outbox cut from NATS: a callback that ends a deployment commits while NATS is
 * unreachable, and its outcome reaches the engine once NATS is back, exactly once.
 */

const SECRET = "ops-callback-secret-for-tests-0003";
let flow: OpsFlow;
let infra: TestInfra;
let ops: OpsModuleProcess;
let gw: ServiceRuntime<Config>;
let engine: EngineSide;
let natsProxy: TcpProxy;

beforeAll(async () => {
  flow = await startOpsFlow("ops_nats_outage", SECRET, {}, { natsProxy: true });
  ({ infra, ops, gw, engine } = flow);
  natsProxy = flow.natsProxy!;
});

afterAll(() => flow?.close());

it("ends a deployment by callback while NATS is unreachable; its outcome is published once NATS is back", async () => {
  await ops.forApp(601, { callback: "off", durationMs: 600_000 });
  await engine.requestDeploy({ pipelineId: 1, appId: 601, pollInterval: 120 });
  const deployId = await engine.whenStarted(1);

  natsProxy.cut();
  try {
    await eventually(
      async () => (await gw.deps.app.inject({ url: "/readyz" })).statusCode === 503,
      "readyz to notice NATS is gone",
    );
    const raw = callbackBody(deployId, "SUCCESS", "rolled out while NATS was away");
    const res = await fetch(`${gw.url}/deploy/callback`, {
      method: "POST",
      headers: signedHeaders(SECRET, raw),
      body: raw,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { effect: string } }).data.effect).toBe("APPLIED");
    // Committed, with the outcome held in the outbox beside what people are told of it (the DEPLOY
    // log's lines and the live deployment event).
    expect(
      await sql(infra.databaseUrl, `select status, outcome_via from ops.deployment where pipeline_id = 1`),
    ).toEqual([{ status: "SUCCESS", outcome_via: "CALLBACK" }]);
    expect(
      await sql(
        infra.databaseUrl,
        `select distinct type from ops.outbox where published_at is null and payload->'data'->>'pipelineId' = '1' order by type`,
      ),
    ).toEqual([
      { type: "live.deployment.v1" },
      { type: "live.log.v1" },
      { type: "ops.deployment_finished.v1" },
    ]);
    expect(engine.finished(1)).toHaveLength(0);
  } finally {
    natsProxy.restore();
  }

  const finished = await engine.whenFinished(1, 20_000);
  expect(finished.data).toMatchObject({ deployId, outcome: "SUCCESS", via: "CALLBACK" });
  await engine.settle([1]);
  expect(engine.finished(1)).toHaveLength(1);
  const stored = await streamMessages(
    infra.natsUrl,
    streamName(infra.envName, "OPS"),
    `${infra.envName}.ops.deployment_finished`,
  );
  expect(stored.filter((m) => m.message.data["pipelineId"] === 1)).toHaveLength(1);
});
