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

  it("makes stale only an app's repository reads on a repository event", () => {
    expect(
      queriesOf({
        type: "live.repository.v1",
        data: { appId: 3, state: "BOUND", lastError: null, scaffoldState: "PUSHED" },
      }),
    ).toEqual([["repo", 3]]);
  });

  it("ignores what is not an event of ours", () => {
    expect(queriesOf(null)).toEqual([]);
    expect(queriesOf({ data: { pipelineId: "7" } })).toEqual([]);
    expect(queriesOf("heartbeat")).toEqual([]);
  });
});
