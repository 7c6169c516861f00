import { describe, expect, it } from "vitest";
import { isUnavailableStatus } from "@procode/service-kit";
import {
  decideAfterCancel,
  decideAfterCreate,
  FINAL_CREATE_CONFIRM_MS,
  decideAfterPoll,
  decideCallback,
  retryDelayMs,
  terminalOutcome,
  type DeploymentState,
  type DeploymentStatus,
} from "../src/domain/deployment.js";

const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const tuning = { retryBaseMs: 1000, retryMaxMs: 60_000 };

function state(over: Partial<DeploymentState> = {}): DeploymentState {
  return {
    status: "DEPLOYING",
    deployId: "deploy-1",
    pollIntervalMs: 30_000,
    pollTimeoutMs: 1_800_000,
    deadline: at(1_800_000),
    failures: 0,
    waitingSince: null,
    ...over,
  };
}

describe("ops statuses", () => {
  it.each([
    ["SUCCESS", "SUCCESS"],
    ["success", "SUCCESS"],
    [" Failed ", "FAILED"],
    ["cancelled", "CANCELLED"],
    ["RUNNING", null],
    ["PENDING", null],
    ["ROLLING_OUT", null],
    ["", null],
  ])("%j is terminal as %j", (status, expected) => {
    expect(terminalOutcome(status)).toBe(expected);
  });

  it.each([
    ["create", 500, true],
    ["create", 503, true],
    ["create", 429, true],
    ["create", 408, true],
    ["create", 404, true],
    ["create", 401, true],
    ["create", 400, false],
    ["create", 409, false],
    ["create", 422, false],
    ["status", 404, false],
    ["status", 502, true],
    ["status", 400, false],
    ["cancel", 405, false],
    ["cancel", 501, false],
    ["cancel", 503, true],
  ] as const)("%s answered %i: unavailable = %s", (op, status, expected) => {
    expect(isUnavailableStatus(op, status)).toBe(expected);
  });
});

describe("retry delay", () => {
  it("doubles per failure from the base, is capped, and stays within +-20%", () => {
    expect(retryDelayMs(1, 1000, 60_000, 0.5)).toBe(1000);
    expect(retryDelayMs(2, 1000, 60_000, 0.5)).toBe(2000);
    expect(retryDelayMs(5, 1000, 60_000, 0.5)).toBe(16_000);
    expect(retryDelayMs(40, 1000, 60_000, 0.5)).toBe(60_000);
    expect(retryDelayMs(3, 1000, 60_000, 0)).toBe(3200);
    expect(retryDelayMs(3, 1000, 60_000, 1)).toBe(4800);
  });
});

describe("after a create", () => {
  const creating = state({ status: "CREATING", deployId: null, deadline: null });

  it("accepted: starts, with the deadline from now and the first poll one interval later", () => {
    expect(
      decideAfterCreate(
        creating,
        { kind: "ok", data: { deployId: "d-9", status: "PENDING" } },
        T0,
        tuning,
        0.5,
      ),
    ).toEqual({
      kind: "started",
      deployId: "d-9",
      deadline: at(1_800_000),
      nextPollAt: at(30_000),
      recovered: false,
    });
  });

  it("accepted with a final status already: started, confirmed by a poll soon unless a callback ends it first", () => {
    const d = decideAfterCreate(
      creating,
      { kind: "ok", data: { deployId: "d-9", status: "success" } },
      T0,
      tuning,
      0.5,
    );
    expect(d).toMatchObject({ kind: "started", nextPollAt: at(FINAL_CREATE_CONFIRM_MS) });
    // Never later than one poll interval.
    const quick = decideAfterCreate(
      { ...creating, pollIntervalMs: 100 },
      { kind: "ok", data: { deployId: "d-9", status: "FAILED" } },
      T0,
      tuning,
      0.5,
    );
    expect(quick).toMatchObject({ kind: "started", nextPollAt: at(100) });
  });

  it("accepted after a waiting: says it recovered", () => {
    const d = decideAfterCreate(
      { ...creating, waitingSince: at(-5000), failures: 3 },
      { kind: "ok", data: { deployId: "d-9", status: "PENDING" } },
      T0,
      tuning,
      0.5,
    );
    expect(d).toMatchObject({ kind: "started", recovered: true });
  });

  it("refused: fails via CREATE with the ops message", () => {
    expect(
      decideAfterCreate(
        creating,
        { kind: "refused", httpStatus: 400, message: "bad image" },
        T0,
        tuning,
        0.5,
      ),
    ).toEqual({
      kind: "finish",
      outcome: "FAILED",
      via: "CREATE",
      message: "ops module refused the deployment: bad image",
    });
  });

  it("ops down: waits with a growing delay; only the first failure of an outage starts it", () => {
    const first = decideAfterCreate(creating, { kind: "unavailable", reason: "down" }, T0, tuning, 0.5);
    expect(first).toEqual({
      kind: "wait",
      nextPollAt: at(1000),
      startsOutage: true,
      reason: "down",
      failures: 1,
    });
    const third = decideAfterCreate(
      { ...creating, failures: 2, waitingSince: T0 },
      { kind: "unavailable", reason: "down" },
      T0,
      tuning,
      0.5,
    );
    expect(third).toEqual({
      kind: "wait",
      nextPollAt: at(4000),
      startsOutage: false,
      reason: "down",
      failures: 3,
    });
  });

  it.each<DeploymentStatus>(["DEPLOYING", "CANCELLED", "SUPERSEDED", "SUCCESS"])(
    "changes nothing once the deployment is %s",
    (status) => {
      expect(
        decideAfterCreate({ ...creating, status }, { kind: "unavailable", reason: "x" }, T0, tuning, 0.5),
      ).toEqual({ kind: "noop" });
    },
  );
});

describe("after a poll", () => {
  it.each([
    ["SUCCESS", "SUCCESS"],
    ["failed", "FAILED"],
    ["CANCELLED", "CANCELLED"],
  ] as const)("a final status %s ends it via POLL", (status, outcome) => {
    expect(decideAfterPoll(state(), { kind: "ok", data: { status, message: "m" } }, T0, tuning, 0.5)).toEqual(
      { kind: "finish", outcome, via: "POLL", message: "m" },
    );
  });

  it("a final status past the deadline still wins over the timeout", () => {
    expect(
      decideAfterPoll(
        state({ deadline: at(-1) }),
        { kind: "ok", data: { status: "SUCCESS", message: "" } },
        T0,
        tuning,
        0.5,
      ),
    ).toMatchObject({ kind: "finish", outcome: "SUCCESS", via: "POLL" });
  });

  it("still running: polls again one interval later, never after the deadline", () => {
    expect(
      decideAfterPoll(state(), { kind: "ok", data: { status: "RUNNING", message: "2/3" } }, T0, tuning, 0.5),
    ).toEqual({
      kind: "continue",
      nextPollAt: at(30_000),
      recovered: false,
      opsStatus: "RUNNING",
      message: "2/3",
    });
    expect(
      decideAfterPoll(
        state({ deadline: at(10_000) }),
        { kind: "ok", data: { status: "X", message: "" } },
        T0,
        tuning,
        0.5,
      ),
    ).toMatchObject({ kind: "continue", nextPollAt: at(10_000) });
  });

  it("still running at the deadline (the last check): TIMEOUT", () => {
    const d = decideAfterPoll(
      state({ deadline: T0, pollTimeoutMs: 1_800_000 }),
      { kind: "ok", data: { status: "RUNNING", message: "slow" } },
      T0,
      tuning,
      0.5,
    );
    expect(d).toEqual({
      kind: "finish",
      outcome: "TIMEOUT",
      via: "TIMEOUT",
      message: "deployment deploy-1 did not finish within 1800 s (last status RUNNING: slow)",
    });
  });

  it("ops down at or past the deadline: waits, never times out for that", () => {
    const d = decideAfterPoll(
      state({ deadline: at(-60_000) }),
      { kind: "unavailable", reason: "down" },
      T0,
      tuning,
      0.5,
    );
    expect(d).toMatchObject({ kind: "wait", startsOutage: true });
  });

  it("ops answers again after a waiting: continues and says it recovered", () => {
    const d = decideAfterPoll(
      state({ waitingSince: at(-5000), failures: 4 }),
      { kind: "ok", data: { status: "RUNNING", message: "" } },
      T0,
      tuning,
      0.5,
    );
    expect(d).toMatchObject({ kind: "continue", recovered: true });
  });

  it("ops no longer knows the deployment (404): created again under the same key; at the deadline TIMEOUT naming the answer", () => {
    const refused = { kind: "refused", httpStatus: 404, message: "deployment deploy-1 not found" } as const;
    expect(decideAfterPoll(state(), refused, T0, tuning, 0.5)).toMatchObject({
      kind: "recreate",
      message: expect.stringMatching(/no longer knows deployment deploy-1/),
    });
    const other = { kind: "refused", httpStatus: 403, message: "forbidden" } as const;
    expect(decideAfterPoll(state(), other, T0, tuning, 0.5)).toMatchObject({
      kind: "continue",
      opsStatus: "HTTP 403",
    });
    expect(decideAfterPoll(state({ deadline: T0 }), refused, T0, tuning, 0.5)).toMatchObject({
      kind: "finish",
      outcome: "TIMEOUT",
      message: expect.stringMatching(/answered HTTP 404: deployment deploy-1 not found/),
    });
  });

  it.each<DeploymentStatus>(["CREATING", "SUCCESS", "FAILED", "TIMEOUT", "CANCELLED", "SUPERSEDED"])(
    "changes nothing once the deployment is %s",
    (status) => {
      expect(
        decideAfterPoll(
          state({ status }),
          { kind: "ok", data: { status: "SUCCESS", message: "" } },
          T0,
          tuning,
          0.5,
        ),
      ).toEqual({ kind: "noop" });
    },
  );
});

describe("a callback", () => {
  it.each<[DeploymentStatus, string, string]>([
    ["DEPLOYING", "SUCCESS", "APPLIED"],
    ["DEPLOYING", "failed", "APPLIED"],
    ["DEPLOYING", "RUNNING", "RECORDED"],
    ["SUCCESS", "SUCCESS", "RECORDED"],
    ["TIMEOUT", "SUCCESS", "RECORDED"],
    ["CANCELLED", "FAILED", "RECORDED"],
    ["SUPERSEDED", "SUCCESS", "RECORDED"],
    ["CREATING", "SUCCESS", "RECORDED"],
  ])("for a %s deployment saying %s is %s", (status, opsStatus, effect) => {
    expect(decideCallback({ status }, opsStatus).effect).toBe(effect);
  });
});

describe("after a cancel at ops", () => {
  it("done when ops answers; not supported on 404/405/501; retried while ops is down, then given up", () => {
    expect(decideAfterCancel(1, 10, { kind: "ok", data: {} })).toEqual({ state: "DONE", retry: false });
    for (const httpStatus of [404, 405, 501]) {
      expect(decideAfterCancel(1, 10, { kind: "refused", httpStatus, message: "" })).toEqual({
        state: "NOT_SUPPORTED",
        retry: false,
      });
    }
    expect(decideAfterCancel(1, 10, { kind: "refused", httpStatus: 409, message: "finished" })).toEqual({
      state: "DONE",
      retry: false,
    });
    expect(decideAfterCancel(3, 10, { kind: "unavailable", reason: "down" })).toEqual({
      state: "PENDING",
      retry: true,
    });
    expect(decideAfterCancel(10, 10, { kind: "unavailable", reason: "down" })).toEqual({
      state: "GAVE_UP",
      retry: false,
    });
  });
});
