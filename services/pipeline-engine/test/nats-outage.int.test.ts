import { afterAll, beforeAll, expect, it } from "vitest";
import { streamName } from "@procode/contracts";
import type { ServiceRuntime } from "@procode/service-kit";
import {
  eventually,
  outboxDrained,
  sql,
  streamMessages,
  type TcpProxy,
  type TestInfra,
} from "@procode/test-kit";
import type { Config } from "../src/config.js";
import type { StageHarness } from "./harness.js";
import { type Api, type EngineFlow, startEngineFlow, startRelease } from "./helpers.js";

/**
 * pipeline-engine's outbox cut from NATS: a cancel commits while NATS is unreachable, and its
 * events are published once NATS is back, each exactly once.
 */

let flow: EngineFlow;
let infra: TestInfra;
let natsProxy: TcpProxy;
let runtime: ServiceRuntime<Config>;
let harness: StageHarness;
let api: Api;

beforeAll(async () => {
  // The engine reaches NATS through a proxy the test cuts; the runners' side connects directly.
  flow = await startEngineFlow("engine_nats_outage", { natsProxy: true });
  ({ infra, runtime, harness, api } = flow);
  natsProxy = flow.natsProxy!;
});

afterAll(() => flow?.close());

it("cancels a pipeline while NATS is unreachable; its status event is published once NATS is back, once", async () => {
  harness.behaviour = (req) => (req.stage === "BUILD" ? "silent" : { outcome: "SUCCESS" });
  const r = await startRelease(harness, api, infra);
  await api.until(r.phaseId, (x) => x.currentStage === "BUILD", "at BUILD");
  const statusEvents = async () =>
    (
      await streamMessages(
        infra.natsUrl,
        streamName(infra.envName, "PIPELINE"),
        `${infra.envName}.pipeline.phase_pipeline_status_changed`,
      )
    ).filter((m) => m.message.data["pipelineId"] === r.phaseId && m.message.data["status"] === "CANCELLED");

  natsProxy.cut();
  try {
    await eventually(
      async () => (await runtime.deps.app.inject({ url: "/readyz" })).statusCode === 503,
      "readyz to notice NATS is gone",
    );
    const res = await api.call("POST", `/pipelines/${r.phaseId}/cancel`, { body: { reason: "offline" } });
    expect(res.body).toMatchObject({ code: 0, data: { status: "CANCELLED", previousState: "BUILD" } });
    expect((await api.pipeline(r.phaseId)).status).toBe("CANCELLED");
    const held = await sql<{ type: string }>(
      infra.databaseUrl,
      `select type from pipeline.outbox where published_at is null and payload->'data'->>'pipelineId' = $1`,
      [String(r.phaseId)],
    );
    expect(held.map((h) => h.type)).toContain("pipeline.phase_pipeline_status_changed.v1");
    expect(await statusEvents()).toEqual([]);
  } finally {
    natsProxy.restore();
  }

  await eventually(async () => (await statusEvents()).length > 0, "the CANCELLED status published", 20_000);
  await outboxDrained(infra.databaseUrl, "pipeline");
  expect(await statusEvents()).toHaveLength(1);
});
