import { describe, expect, it } from "vitest";
import { queriesOf } from "../src/live/live";

describe("the live layer", () => {
  it("makes stale only the queries of the things an event names", () => {
    expect(queriesOf({ type: "pipeline.stage_changed", data: { pipelineId: 7, appId: 3 } })).toEqual([
      ["pipeline", 7],
      ["iterations", 3],
      ["releases", 3],
      ["repo", 3],
      ["quality", 3],
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

  it("makes stale only the apps and that app on an app event", () => {
    expect(
      queriesOf({ type: "live.app.v1", data: { appId: 3, name: "a", devMode: "pro-code", revision: 2 } }),
    ).toEqual([["apps"], ["app", 3]]);
  });

  it("makes stale only an app's webhook deliveries, or one subscription's deliveries, on a delivery event", () => {
    expect(
      queriesOf({
        type: "live.webhook_delivery.v1",
        data: { appId: 3, deliveryId: "d-1", status: "PROCESSED", reason: "branch main" },
      }),
    ).toEqual([["repo", 3, "webhook-deliveries"]]);
    expect(
      queriesOf({
        type: "live.notification_delivery.v1",
        data: { appId: 3, subscriptionId: 4, deliveryId: "msg_1", status: "DELIVERED", attempts: 1 },
      }),
    ).toEqual([["notifications", 3, 4, "deliveries"]]);
    expect(queriesOf({ type: "live.notification_delivery.v1", data: { appId: 3 } })).toEqual([]);
  });

  it("ignores what is not an event of ours", () => {
    expect(queriesOf(null)).toEqual([]);
    expect(queriesOf({ data: { pipelineId: "7" } })).toEqual([]);
    expect(queriesOf("heartbeat")).toEqual([]);
  });
});
