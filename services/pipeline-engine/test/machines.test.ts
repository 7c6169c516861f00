import "robot3/debug";
import { describe, expect, it } from "vitest";
import { IterationMachineState, PhaseMachineState, PhaseStage } from "@procode/contracts";
import {
  decideIteration,
  iterationEventFor,
  iterationStates,
  type IterationEvent,
} from "../src/domain/iteration.machine.js";
import { eventsOf, InvalidTransitionError } from "../src/domain/machine.js";
import { decidePhase, phaseStates, type PhaseEvent } from "../src/domain/phase.machine.js";

/** Every edge of the iteration machine (the phase order, the skipping edges and CANCEL); anything else is refused. */
const ITERATION_EDGES: Record<string, string> = {
  "PENDING START": "DEVELOPING",
  "PENDING CANCEL": "CANCELLED",
  "DEVELOPING ENTER_TESTING": "TESTING",
  "DEVELOPING ENTER_STAGING": "STAGING",
  "DEVELOPING ENTER_RELEASE": "RELEASE",
  "DEVELOPING CANCEL": "CANCELLED",
  "TESTING TESTING_SUCCESS": "STAGING",
  "TESTING ENTER_RELEASE": "RELEASE",
  "TESTING CANCEL": "CANCELLED",
  "STAGING STAGING_SUCCESS": "RELEASE",
  "STAGING CANCEL": "CANCELLED",
  "RELEASE RELEASE_SUCCESS": "RELEASED",
  "RELEASE CANCEL": "CANCELLED",
};

describe("iteration machine", () => {
  const events = eventsOf(iterationStates);
  it("knows exactly the seed's events plus the skipping edges and CANCEL", () => {
    expect(events.sort()).toEqual(
      [
        "CANCEL",
        "ENTER_RELEASE",
        "ENTER_STAGING",
        "ENTER_TESTING",
        "RELEASE_SUCCESS",
        "STAGING_SUCCESS",
        "START",
        "TESTING_SUCCESS",
      ].sort(),
    );
  });
  for (const state of IterationMachineState.options) {
    for (const event of events) {
      const expected = ITERATION_EDGES[`${state} ${event}`];
      it(`${state} + ${event} -> ${expected ?? "refused"}`, () => {
        const decide = () => decideIteration(state, { type: event } as IterationEvent);
        if (expected) expect(decide()).toBe(expected);
        else expect(decide).toThrow(InvalidTransitionError);
      });
    }
  }
  it("names the event between consecutive phases", () => {
    expect(iterationEventFor("DEVELOPING", "TESTING")).toBe("ENTER_TESTING");
    expect(iterationEventFor("STAGING", "RELEASE")).toBe("STAGING_SUCCESS");
    expect(iterationEventFor("DEVELOPING", "RELEASE")).toBe("ENTER_RELEASE");
    expect(iterationEventFor("RELEASE", "TESTING")).toBeNull();
  });
  it("refuses an unknown state instead of throwing a TypeError", () => {
    expect(() => decideIteration("NOPE" as IterationMachineState, { type: "START" })).toThrow(
      InvalidTransitionError,
    );
  });
});

/** Every edge of the phase machine; RETRY/RESUME edges exist only for the stage they name. */
function phaseEdge(state: PhaseMachineState, event: PhaseEvent): string | undefined {
  const plain: Record<string, string> = {
    "PENDING START": "RUNNING",
    "RUNNING ENTER_CODE_CHECK": "CODE_CHECK",
    "CODE_CHECK CODE_CHECK_SUCCESS": "BUILD",
    "CODE_CHECK CODE_CHECK_FAILED": "FAILED",
    "BUILD BUILD_SUCCESS": "PACKAGE",
    "BUILD BUILD_FAILED": "FAILED",
    "PACKAGE PACKAGE_SUCCESS": "DEPLOY",
    "PACKAGE PACKAGE_SUCCESS+gate": "QUALITY_GATE",
    "PACKAGE PACKAGE_FAILED": "FAILED",
    "QUALITY_GATE QUALITY_GATE_SUCCESS": "DEPLOY",
    "QUALITY_GATE QUALITY_GATE_FAILED": "FAILED",
    "FAILED WAIVE": "DEPLOY",
    "DEPLOY DEPLOY_START": "DEPLOYING",
    "DEPLOY DEPLOY_FAILED": "FAILED",
    "DEPLOYING DEPLOY_SUCCESS": "SUCCESS",
    "DEPLOYING DEPLOY_FAILED": "FAILED",
  };
  if (event.type === "CANCEL") return state === "SUCCESS" || state === "CANCELLED" ? undefined : "CANCELLED";
  if (event.type === "RETRY" || event.type === "RESUME") {
    const runsStage: Partial<Record<PhaseMachineState, PhaseStage>> = {
      CODE_CHECK: "CODE_CHECK",
      BUILD: "BUILD",
      PACKAGE: "PACKAGE",
      QUALITY_GATE: "QUALITY_GATE",
      DEPLOY: "DEPLOY",
      DEPLOYING: "DEPLOY",
    };
    if (state === "FAILED") return event.stage;
    return runsStage[state] === event.stage ? event.stage : undefined;
  }
  const gate = event.type === "PACKAGE_SUCCESS" && event.gate ? "+gate" : "";
  return plain[`${state} ${event.type}${gate}`];
}

describe("phase machine", () => {
  const events: PhaseEvent[] = eventsOf(phaseStates).flatMap((type) =>
    type === "RETRY" || type === "RESUME"
      ? PhaseStage.options.map((stage) => ({ type, stage }))
      : type === "PACKAGE_SUCCESS"
        ? [
            { type, gate: false },
            { type, gate: true },
          ]
        : [{ type } as PhaseEvent],
  );
  it("has 17 event types", () => {
    expect(eventsOf(phaseStates)).toHaveLength(17);
  });
  for (const state of PhaseMachineState.options) {
    for (const event of events) {
      const expected = phaseEdge(state, event);
      const label =
        "stage" in event
          ? `${event.type}(${event.stage})`
          : "gate" in event
            ? `${event.type}(gate ${event.gate ? "on" : "off"})`
            : event.type;
      it(`${state} + ${label} -> ${expected ?? "refused"}`, () => {
        const decide = () => decidePhase(state, event);
        if (expected) expect(decide()).toBe(expected);
        else expect(decide).toThrow(InvalidTransitionError);
      });
    }
  }
});
