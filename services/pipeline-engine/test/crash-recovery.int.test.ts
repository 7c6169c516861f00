import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@procode/test-kit";
import { Fleet } from "./fleet.js";

const fleet = new Fleet();

beforeAll(() => fleet.setUp("engine_crash"));
afterEach((ctx) => fleet.stopEngines(ctx.task.result?.state === "fail"));
afterAll(() => fleet.tearDown());

describe("crash safety", () => {
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
    // The kill landed mid-flight: many pipelines were not finished yet.
    const unfinished = await fleet.count(
      `select count(*) from pipeline.pipeline where id = any($1) and status not in ('SUCCESS', 'FAILED', 'CANCELLED')`,
      [phaseIds],
    );
    expect(unfinished).toBeGreaterThanOrEqual(10);
    await fleet.engine().start();
    await fleet.expectAllReleased(phaseIds, 45000);
    await fleet.expectSoundLog(phaseIds);
    harness.delayMs = () => 0;
  }, 120_000);
});
