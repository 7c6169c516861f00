import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Fleet } from "./fleet.js";

const fleet = new Fleet();

beforeAll(() => fleet.setUp("engine_two"));
afterEach((ctx) => fleet.stopEngines(ctx.task.result?.state === "fail"));
afterAll(() => fleet.tearDown());

describe("two engines", () => {
  it("two engine processes at once on one database and stream: all 100 finish, no transition applied twice", async () => {
    const { harness } = fleet;
    harness.behaviour = (req) => {
      if (req.stage === "CODE_CHECK" && req.attempt === 1 && req.pipelineId % 5 === 0)
        return { outcome: "FAILED" };
      return req.stage === "DEPLOY"
        ? { deploy: "SUCCESS", startedFirst: req.pipelineId % 3 !== 0 }
        : { outcome: "SUCCESS" };
    };
    harness.delayMs = () => Math.floor(Math.random() * 30);
    const a = fleet.engine({}, "engine-a");
    const b = fleet.engine({}, "engine-b");
    await Promise.all([a.start(), b.start()]);
    const phaseIds = await fleet.releaseMany(100);
    await fleet.expectAllReleased(phaseIds, 45000);
    await fleet.expectSoundLog(phaseIds);
    // Both did part of the work.
    expect(await a.metric("pipeline_transitions_total")).toBeGreaterThan(0);
    expect(await b.metric("pipeline_transitions_total")).toBeGreaterThan(0);
  }, 120_000);
});
