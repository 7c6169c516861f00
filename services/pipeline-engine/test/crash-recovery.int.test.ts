import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, sql } from "@procode/test-kit";
import { Fleet } from "./fleet.js";

const fleet = new Fleet();

beforeAll(() => fleet.setUp("engine_crash"));
afterEach((ctx) => fleet.stopEngines(ctx.task.result?.state === "fail"));
afterAll(() => fleet.tearDown());

describe("crash safety", () => {
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
    await new Promise((r) => setTimeout(r, 2500)); // the retry falls due while no engine runs
    expect(harness.requests.some((q) => q.pipelineId === id && q.attempt === 2)).toBe(false);
    await fleet.engine({ RETRY_BASE_MS: "2000" }).start();
    await fleet.expectAllReleased([id!], 20000);
    expect(
      harness.requests.some((q) => q.pipelineId === id && q.stage === "CODE_CHECK" && q.attempt === 2),
    ).toBe(true);
    await fleet.expectSoundLog([id!]);
  }, 60_000);

  it("SIGKILL in the middle of 100 running pipelines: after a restart all 100 finish and the log is sound", async () => {
    const { harness } = fleet;
    harness.behaviour = (req) => {
      if (req.stage === "BUILD" && req.attempt === 1 && req.pipelineId % 4 === 0)
        return { outcome: "FAILED", error: "flaky" };
      return req.stage === "DEPLOY"
        ? { deploy: "SUCCESS", startedFirst: req.pipelineId % 2 === 0 }
        : { outcome: "SUCCESS" };
    };
    // Each stage "works" 0.3-0.7 s, so a pipeline takes a few seconds and many are in flight.
    harness.delayMs = () => 300 + Math.floor(Math.random() * 400);
    const e1 = fleet.engine();
    await e1.start();
    const phaseIds = await fleet.releaseMany(100);
    // ~7-8 transitions per pipeline; kill when about a third are done.
    await eventually(
      async () => (await fleet.transitionsOf(phaseIds)) >= 250,
      "a third of the transitions",
      30000,
      20,
    );
    await e1.kill();
    expect(await fleet.transitionsOf(phaseIds)).toBeLessThan(650);
    await fleet.engine().start();
    await fleet.expectAllReleased(phaseIds, 45000);
    await fleet.expectSoundLog(phaseIds);
    harness.delayMs = () => 0;
  }, 120_000);
});
