import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, sql } from "@procode/test-kit";
import { Fleet } from "./fleet.js";

const fleet = new Fleet();

beforeAll(() => fleet.setUp("engine_timer"));
afterEach((ctx) => fleet.stopEngines(ctx.task.result?.state === "fail"));
afterAll(() => fleet.tearDown());

describe("durable timers", () => {
  it("an AUTO retry that fell due while the engine was down runs after it restarts", async () => {
    const { harness, infra } = fleet;
    const e1 = fleet.engine({ RETRY_BASE_MS: "2000" });
    await e1.start();
    harness.behaviour = (req) => {
      if (req.stage === "CODE_CHECK" && req.attempt === 1) return { outcome: "FAILED", error: "flaky" };
      return req.stage === "DEPLOY" ? { deploy: "SUCCESS" } : { outcome: "SUCCESS" };
    };
    const [id] = await fleet.releaseMany(1);
    await eventually(
      async () =>
        (
          await sql<{ step: string }>(infra.databaseUrl, `select step from pipeline.pipeline where id = $1`, [
            id,
          ])
        )[0]?.step === "RETRY_WAIT",
      "retry scheduled",
    );
    await e1.kill();
    // The retry falls due while no engine runs.
    await eventually(
      async () =>
        (
          await sql<{ due: boolean }>(
            infra.databaseUrl,
            `select wake_at <= now() as due from pipeline.timer where pipeline_id = $1`,
            [id],
          )
        )[0]?.due,
      "the retry timer due",
      10_000,
    );
    expect(harness.requests.some((q) => q.pipelineId === id && q.attempt === 2)).toBe(false);
    await fleet.engine({ RETRY_BASE_MS: "2000" }).start();
    await fleet.expectAllReleased([id!], 20000);
    expect(
      harness.requests.some((q) => q.pipelineId === id && q.stage === "CODE_CHECK" && q.attempt === 2),
    ).toBe(true);
    await fleet.expectSoundLog([id!]);
  }, 60_000);
});
