import { describe, expect, it } from "vitest";
import {
  iterationStatusOf,
  pipelineProceedTarget,
  proceedRefusal,
  releaseRefusal,
  targetPhaseRefusal,
  type IterationMachineState,
  type IterationPhase,
  type LatestRelease,
} from "../src/index.js";

const FULL: IterationPhase[] = ["DEVELOPING", "TESTING", "STAGING", "RELEASE"];
const NO_TESTING: IterationPhase[] = ["DEVELOPING", "STAGING", "RELEASE"];

describe("the iteration's status", () => {
  it.each([
    ["PENDING", null, "DRAFT"],
    ["DEVELOPING", null, "DEVELOPING"],
    ["TESTING", null, "TESTING"],
    ["STAGING", null, "STAGING"],
    ["RELEASE", null, "RELEASING"],
    ["RELEASE", "PENDING", "RELEASING"],
    ["RELEASE", "RUNNING", "RELEASING"],
    ["RELEASE", "FAILED", "FAILED"],
    ["RELEASE", "CANCELLED", "FAILED"],
    ["RELEASED", "SUCCESS", "RELEASED"],
    ["RELEASED", "RUNNING", "RELEASING"],
    ["RELEASED", "FAILED", "FAILED"],
    ["RELEASED", null, "RELEASED"],
    ["CANCELLED", null, "FAILED"],
  ] as const)("%s with its latest release %s is %s", (state, latest, status) => {
    expect(iterationStatusOf(state, latest)).toBe(status);
  });
});

describe("a target phase", () => {
  it("must be a phase, and one of the app's", () => {
    expect(targetPhaseRefusal("PRODUCTION", FULL).refusal?.message).toBe(
      'targetPhase: must be one of TESTING, STAGING, RELEASE (got "PRODUCTION")',
    );
    expect(targetPhaseRefusal("TESTING", NO_TESTING).refusal?.message).toBe(
      "targetPhase: TESTING is not a phase of this app (phases: DEVELOPING, STAGING, RELEASE)",
    );
    expect(targetPhaseRefusal("STAGING", NO_TESTING)).toEqual({ refusal: null, target: "STAGING" });
  });
});

describe("proceeding: the engine asks for the next phase, dev-svc only for a phase ahead", () => {
  type Case = [IterationMachineState, "TESTING" | "STAGING", IterationPhase[], string | null, string | null];
  const cases: Case[] = [
    ["DEVELOPING", "TESTING", FULL, null, null],
    ["PENDING", "TESTING", FULL, null, null],
    ["DEVELOPING", "STAGING", FULL, "INVALID_TARGET_PHASE", null],
    ["DEVELOPING", "STAGING", NO_TESTING, null, null],
    ["STAGING", "TESTING", FULL, "INVALID_TARGET_PHASE", "INVALID_TARGET_PHASE"],
    ["TESTING", "TESTING", FULL, "INVALID_TARGET_PHASE", "INVALID_TARGET_PHASE"],
    ["RELEASE", "STAGING", FULL, "PHASE_CANNOT_PROCEED", "PHASE_CANNOT_PROCEED"],
    ["RELEASED", "TESTING", FULL, "PHASE_CANNOT_PROCEED", "PHASE_CANNOT_PROCEED"],
    ["CANCELLED", "TESTING", FULL, "PHASE_CANNOT_PROCEED", "PHASE_CANNOT_PROCEED"],
  ];
  it.each(cases)("%s -> %s (%s): next %s, ahead %s", (state, target, phases, next, ahead) => {
    const asked = (rule: "next" | "ahead") =>
      proceedRefusal({ iterationId: 7, state, phases, target, rule })?.kind ?? null;
    expect(asked("next")).toBe(next);
    expect(asked("ahead")).toBe(ahead);
  });

  it("names the next phase when a forward target skips it", () => {
    expect(
      proceedRefusal({ iterationId: 7, state: "DEVELOPING", phases: FULL, target: "STAGING", rule: "next" })
        ?.message,
    ).toBe("targetPhase: iteration 7 is in DEVELOPING; the next phase is TESTING, not STAGING");
  });
});

describe("releasing", () => {
  const running: LatestRelease = { tag: "v1.0.0", status: "RUNNING" };
  const failed: LatestRelease = { tag: "v1.0.0", status: "FAILED" };
  const succeeded: LatestRelease = { tag: "v1.0.0", status: "SUCCESS" };
  type Case = [IterationMachineState, IterationPhase[], LatestRelease | null, boolean, string | null];
  const cases: Case[] = [
    ["STAGING", FULL, null, false, null],
    ["TESTING", FULL, null, false, "INVALID_TARGET_PHASE"],
    ["PENDING", ["RELEASE"], null, false, null],
    ["RELEASE", FULL, failed, false, null],
    ["RELEASE", FULL, running, false, "PHASE_CANNOT_PROCEED"],
    ["RELEASE", FULL, succeeded, false, "PHASE_CANNOT_PROCEED"],
    ["RELEASED", FULL, succeeded, false, "PHASE_CANNOT_PROCEED"],
    ["RELEASED", FULL, succeeded, true, null],
    ["RELEASED", FULL, running, true, "PHASE_CANNOT_PROCEED"],
    ["STAGING", FULL, null, true, "PHASE_CANNOT_PROCEED"],
    ["CANCELLED", FULL, null, false, "PHASE_CANNOT_PROCEED"],
  ];
  it.each(cases)("%s, phases %s, latest %o, rollback %s: %s", (state, phases, latest, rollback, expected) => {
    expect(releaseRefusal({ iterationId: 7, state, phases, latest, rollback })?.kind ?? null).toBe(expected);
  });

  it("names the release that is still running", () => {
    expect(
      releaseRefusal({ iterationId: 7, state: "RELEASE", phases: FULL, latest: running, rollback: false })
        ?.message,
    ).toBe("release v1.0.0 of iteration 7 is still RUNNING");
  });
});

describe("proceeding an iteration pipeline (POST /pipelines/{id}/proceed)", () => {
  const all = ["DEVELOPING", "TESTING", "STAGING", "RELEASE"] as const;
  it.each([
    ["DEVELOPING", all, { target: "TESTING" }],
    ["TESTING", all, { target: "STAGING" }],
    ["DEVELOPING", ["DEVELOPING", "STAGING", "RELEASE"], { target: "STAGING" }],
    ["STAGING", all, { refusal: { kind: "PRECONDITION_FAILED" } }],
    ["DEVELOPING", ["RELEASE"], { refusal: { kind: "PRECONDITION_FAILED" } }],
    ["RELEASE", all, { refusal: { kind: "PHASE_CANNOT_PROCEED" } }],
    ["RELEASED", all, { refusal: { kind: "PHASE_CANNOT_PROCEED" } }],
    ["CANCELLED", all, { refusal: { kind: "PHASE_CANNOT_PROCEED" } }],
    ["PENDING", all, { refusal: { kind: "PHASE_CANNOT_PROCEED" } }],
  ] as const)("from %s with phases %j: %j", (from, phases, expected) => {
    expect(pipelineProceedTarget(5, from, phases)).toMatchObject(expected);
  });

  it("names the release operation when RELEASE needs a tag", () => {
    expect(pipelineProceedTarget(5, "STAGING", ["STAGING", "RELEASE"])).toMatchObject({
      refusal: { message: expect.stringContaining("POST /iterations/5/release") },
    });
  });
});
