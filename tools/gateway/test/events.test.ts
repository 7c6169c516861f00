import { describe, expect, it } from "vitest";
import { liveTeamFilter, liveTeamToken } from "@procode/contracts";
import { admit, parseEventQuery, startOf } from "../src/events.js";

describe("GET /events query", () => {
  it("reads the filters, and the Last-Event-ID header over the lastEventId parameter", () => {
    expect(parseEventQuery({ appId: "7", types: "pipeline, iteration", lastEventId: "3" }, "9")).toEqual({
      appId: 7,
      pipelineId: null,
      types: ["pipeline", "iteration"],
      lastEventId: 9,
    });
    expect(parseEventQuery({}, undefined)).toEqual({
      appId: null,
      pipelineId: null,
      types: null,
      lastEventId: null,
    });
  });

  it.each([
    [{ types: "pipeline,gossip" }, /^types: unknown event type gossip/],
    [{ appId: "0" }, /^appId: must be an integer >= 1/],
    [{ pipelineId: "1.5" }, /^pipelineId:/],
    [{ lastEventId: "-1" }, /^Last-Event-ID: must be an integer >= 0/],
    [{ appId: ["1", "2"] }, /^appId: give it once/],
  ])("refuses %j naming the field", (query, message) => {
    expect(() => parseEventQuery(query, undefined)).toThrow(message);
  });
});

describe("where a client starts in the stream", () => {
  const stream = { firstSeq: 100, lastSeq: 250 };
  it("starts after the last event it has, when the stream still holds the next one", () => {
    expect(startOf(120, stream)).toEqual({ startSeq: 121, reset: null });
    expect(startOf(99, stream)).toEqual({ startSeq: 100, reset: null });
    expect(startOf(250, stream)).toEqual({ startSeq: 251, reset: null });
  });
  it("starts with what comes next when it has none", () => {
    expect(startOf(null, stream)).toEqual({ startSeq: 251, reset: null });
  });
  it("tells it to reload when events after its last are gone or the stream was started anew", () => {
    expect(startOf(50, stream)).toMatchObject({
      startSeq: 251,
      reset: expect.stringMatching(/no longer kept/),
    });
    expect(startOf(900, stream)).toMatchObject({ startSeq: 251, reset: expect.stringMatching(/anew/) });
  });
});

describe("which events a client's filters let through", () => {
  const pipeline = { pipelineId: 5, appId: 7 };
  const iteration = { iterationId: 3, appId: 7, phasePipelineId: 5 };
  const none = { types: null, appId: null, pipelineId: null, lastEventId: null };
  it("names an event by its type", () => {
    expect(admit(none, "live.pipeline.v1", pipeline)).toBe("pipeline");
    expect(admit(none, "live.iteration.v1", iteration)).toBe("iteration");
    expect(admit(none, "live.gossip.v1", pipeline)).toBeNull();
  });
  it("filters by type, app and pipeline (an iteration by its release's pipeline)", () => {
    expect(admit({ ...none, types: ["iteration"] }, "live.pipeline.v1", pipeline)).toBeNull();
    expect(admit({ ...none, appId: 8 }, "live.pipeline.v1", pipeline)).toBeNull();
    expect(admit({ ...none, pipelineId: 5 }, "live.iteration.v1", iteration)).toBe("iteration");
    expect(admit({ ...none, pipelineId: 6 }, "live.pipeline.v1", pipeline)).toBeNull();
  });
  it("lets a stage log line through by its pipeline and app, and by the type log", () => {
    const line = { pipelineId: 5, appId: 7, stage: "BUILD", attempt: 1, seq: 3, level: "INFO", text: "x" };
    expect(admit({ ...none, pipelineId: 5 }, "live.log.v1", line)).toBe("log");
    expect(admit({ ...none, pipelineId: 6 }, "live.log.v1", line)).toBeNull();
    expect(admit({ ...none, appId: 7, types: ["log"] }, "live.log.v1", line)).toBe("log");
    expect(admit({ ...none, types: ["pipeline"] }, "live.log.v1", line)).toBeNull();
  });
  it("lets an app's repository event through by its app and the type repository, never by a pipeline", () => {
    const repo = { appId: 7, state: "BOUND", lastError: null, scaffoldState: "PUSHED" };
    expect(admit(none, "live.repository.v1", repo)).toBe("repository");
    expect(admit({ ...none, appId: 7, types: ["repository"] }, "live.repository.v1", repo)).toBe(
      "repository",
    );
    expect(admit({ ...none, appId: 8 }, "live.repository.v1", repo)).toBeNull();
    expect(admit({ ...none, pipelineId: 5 }, "live.repository.v1", repo)).toBeNull();
    expect(admit({ ...none, types: ["pipeline"] }, "live.repository.v1", repo)).toBeNull();
  });
  it("lets app, webhook and notification events through by their app and their names, never by a pipeline", () => {
    const app = { appId: 7, name: "agent", devMode: "pro-code", revision: 2 };
    const webhook = { appId: 7, deliveryId: "d-1", status: "PROCESSED", reason: "branch main" };
    const notification = { appId: 7, subscriptionId: 3, deliveryId: "msg_1", status: "PENDING", attempts: 0 };
    const cases = [
      ["live.app.v1", app, "app"],
      ["live.webhook_delivery.v1", webhook, "webhook"],
      ["live.notification_delivery.v1", notification, "notification"],
    ] as const;
    for (const [type, data, name] of cases) {
      expect(admit(none, type, data)).toBe(name);
      expect(admit({ ...none, appId: 7, types: [name] }, type, data)).toBe(name);
      expect(admit({ ...none, appId: 8 }, type, data)).toBeNull();
      expect(admit({ ...none, pipelineId: 5 }, type, data)).toBeNull();
      expect(admit({ ...none, types: ["repository"] }, type, data)).toBeNull();
    }
    // The subject's token is not the name: `webhook_delivery` is no event name of the stream.
    expect(() => parseEventQuery({ types: "webhook_delivery" }, undefined)).toThrow(/types: unknown/);
  });
});

describe("a team as a subject token", () => {
  it("holds any team name in one valid token", () => {
    for (const team of ["default", "live.team*>", "a team with spaces", "团队"]) {
      expect(liveTeamToken(team)).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(liveTeamToken(team), "base64url").toString("utf8")).toBe(team);
    }
    expect(liveTeamFilter("procode", "x.y")).toBe(`procode.live.*.*.${liveTeamToken("x.y")}`);
    expect(liveTeamFilter("procode", "x", "pipeline")).toBe(`procode.live.pipeline.*.${liveTeamToken("x")}`);
  });
});
