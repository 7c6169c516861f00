import { describe, expect, it } from "vitest";
import { queriesOf } from "../src/live/live";

describe("the live layer", () => {
  it("makes stale only the queries of the things an event names", () => {
    expect(queriesOf({ type: "pipeline.stage_changed", data: { pipelineId: 7, appId: 3 } })).toEqual([
      ["pipeline", 7],
      ["iterations", 3],
      ["releases", 3],
      ["repo", 3],
    ]);
    expect(queriesOf({ type: "iteration.phase_changed", data: { iterationId: 4 } })).toEqual([
      ["iteration", 4],
    ]);
  });

  it("ignores what is not an event of ours", () => {
    expect(queriesOf(null)).toEqual([]);
    expect(queriesOf({ data: { pipelineId: "7" } })).toEqual([]);
    expect(queriesOf("heartbeat")).toEqual([]);
  });
});
