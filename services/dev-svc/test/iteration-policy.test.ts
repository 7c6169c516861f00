import { describe, expect, it } from "vitest";
import type { IterationMachineState, IterationPhase } from "@procode/contracts";
import {
  isAhead,
  isNotBehind,
  isRollback,
  latestRelease,
  proceedRefusal,
  releaseRefusal,
  repeatedRelease,
  type ReleaseRow,
} from "../src/domain/iteration.policy.js";

const FULL: IterationPhase[] = ["DEVELOPING", "TESTING", "STAGING", "RELEASE"];
const RELEASE_ONLY: IterationPhase[] = ["RELEASE"];
const NO_TESTING: IterationPhase[] = ["DEVELOPING", "STAGING", "RELEASE"];

const row = (over: Partial<ReleaseRow>): ReleaseRow => ({
  id: 1,
  iterationId: 7,
  tag: "v1.0.0",
  status: "RUNNING",
  pipelineId: 100,
  ...over,
});

describe("proceedRefusal", () => {
  type Case = [
    string,
    IterationMachineState | null,
    IterationPhase[],
    string,
    boolean,
    "PHASE_CANNOT_PROCEED" | "INVALID_TARGET_PHASE" | "PRECONDITION_FAILED" | null,
  ];
  const cases: Case[] = [
    ["next phase", "DEVELOPING", FULL, "TESTING", false, null],
    ["DRAFT counts as DEVELOPING", null, FULL, "TESTING", false, null],
    ["a forward skip is the engine's to judge", "DEVELOPING", FULL, "STAGING", false, null],
    ["unknown target", "DEVELOPING", FULL, "PRODUCTION", false, "INVALID_TARGET_PHASE"],
    ["DEVELOPING is not a target", "TESTING", FULL, "DEVELOPING", false, "INVALID_TARGET_PHASE"],
    ["lower case is unknown", "DEVELOPING", FULL, "testing", false, "INVALID_TARGET_PHASE"],
    ["backwards", "STAGING", FULL, "TESTING", false, "INVALID_TARGET_PHASE"],
    ["the current phase", "TESTING", FULL, "TESTING", false, "INVALID_TARGET_PHASE"],
    ["not a phase of the app", "DEVELOPING", RELEASE_ONLY, "TESTING", false, "INVALID_TARGET_PHASE"],
    ["TESTING left out", "DEVELOPING", NO_TESTING, "TESTING", false, "INVALID_TARGET_PHASE"],
    ["RELEASE without a tag", "STAGING", FULL, "RELEASE", false, "PRECONDITION_FAILED"],
    ["RELEASE with a tag", "STAGING", FULL, "RELEASE", true, null],
    ["RELEASE with a tag, release-only app", "DEVELOPING", RELEASE_ONLY, "RELEASE", true, null],
    ["in RELEASE", "RELEASE", FULL, "STAGING", false, "PHASE_CANNOT_PROCEED"],
    ["RELEASED", "RELEASED", FULL, "TESTING", false, "PHASE_CANNOT_PROCEED"],
    ["CANCELLED", "CANCELLED", FULL, "TESTING", false, "PHASE_CANNOT_PROCEED"],
  ];
  it.each(cases)("%s", (_name, phase, phases, targetPhase, hasTag, expected) => {
    const r = proceedRefusal({ iterationId: 7, phase, phases, targetPhase, hasTag });
    expect(r?.kind ?? null).toBe(expected);
    if (r) expect(r.message).toMatch(/^(targetPhase|tag): |^iteration 7 /);
  });

  it("names the app's phases when the target is not one of them", () => {
    expect(
      proceedRefusal({
        iterationId: 7,
        phase: "DEVELOPING",
        phases: RELEASE_ONLY,
        targetPhase: "STAGING",
        hasTag: false,
      })?.message,
    ).toBe("targetPhase: STAGING is not a phase of this app (phases: DEVELOPING, RELEASE)");
  });
});

describe("releaseRefusal", () => {
  type Case = [
    string,
    IterationMachineState | null,
    IterationPhase[],
    ReleaseRow | null,
    boolean,
    "PHASE_CANNOT_PROCEED" | "INVALID_TARGET_PHASE" | null,
  ];
  const cases: Case[] = [
    ["from STAGING", "STAGING", FULL, null, false, null],
    ["from DEVELOPING, release-only app", "DEVELOPING", RELEASE_ONLY, null, false, null],
    ["from DRAFT, release-only app", null, RELEASE_ONLY, null, false, null],
    ["from TESTING without STAGING", "TESTING", ["DEVELOPING", "TESTING", "RELEASE"], null, false, null],
    ["from DEVELOPING, full phases", "DEVELOPING", FULL, null, false, "INVALID_TARGET_PHASE"],
    ["from TESTING, full phases", "TESTING", FULL, null, false, "INVALID_TARGET_PHASE"],
    ["again after a failed release", "RELEASE", FULL, row({ status: "FAILED" }), false, null],
    ["again after a cancelled release", "RELEASE", FULL, row({ status: "CANCELLED" }), false, null],
    ["while a release runs", "RELEASE", FULL, row({ status: "RUNNING" }), false, "PHASE_CANNOT_PROCEED"],
    [
      "while a release waits for the engine",
      "RELEASE",
      FULL,
      row({ status: "PENDING", pipelineId: null }),
      false,
      "PHASE_CANNOT_PROCEED",
    ],
    ["after success", "RELEASE", FULL, row({ status: "SUCCESS" }), false, "PHASE_CANNOT_PROCEED"],
    ["RELEASED", "RELEASED", FULL, row({ status: "SUCCESS" }), false, "PHASE_CANNOT_PROCEED"],
    ["cancelled iteration", "CANCELLED", FULL, null, false, "PHASE_CANNOT_PROCEED"],
    ["rollback when RELEASED", "RELEASED", FULL, row({ status: "SUCCESS" }), true, null],
    ["rollback in RELEASE after a failure", "RELEASE", FULL, row({ status: "FAILED" }), true, null],
    [
      "rollback while a release runs",
      "RELEASED",
      FULL,
      row({ status: "RUNNING" }),
      true,
      "PHASE_CANNOT_PROCEED",
    ],
    ["rollback before anything was released", "STAGING", FULL, null, true, "PHASE_CANNOT_PROCEED"],
  ];
  it.each(cases)("%s", (_name, phase, phases, latest, rollback, expected) => {
    expect(releaseRefusal({ iterationId: 7, phase, phases, latest, rollback })?.kind ?? null).toBe(expected);
  });

  it("says which phase comes next when RELEASE is not it", () => {
    expect(
      releaseRefusal({ iterationId: 7, phase: "TESTING", phases: FULL, latest: null, rollback: false })
        ?.message,
    ).toBe(
      "targetPhase: iteration 7 is in TESTING; the next phase is STAGING, not RELEASE (proceed to STAGING first)",
    );
  });
});

describe("releases of an iteration", () => {
  it("repeats a pending, running or succeeded release of the same tag, never a failed, cancelled or refused one", () => {
    const own = [
      row({ id: 1, tag: "v1.0.0", status: "FAILED" }),
      row({ id: 2, tag: "v1.0.1", status: "RUNNING" }),
      row({ id: 3, tag: "v1.0.2", status: "CANCELLED", pipelineId: null }),
    ];
    expect(repeatedRelease(own, "v1.0.1")?.id).toBe(2);
    expect(repeatedRelease(own, "v1.0.0")).toBeNull();
    expect(repeatedRelease(own, "v1.0.2")).toBeNull();
    expect(repeatedRelease(own, "v9.0.0")).toBeNull();
    expect(repeatedRelease([row({ status: "PENDING", pipelineId: null })], "v1.0.0")?.id).toBe(1);
    expect(repeatedRelease([row({ status: "SUCCESS" })], "v1.0.0")?.id).toBe(1);
  });

  it("takes the latest release the engine did not refuse as the iteration's latest", () => {
    const own = [row({ id: 1, status: "FAILED" }), row({ id: 2, status: "CANCELLED", pipelineId: null })];
    expect(latestRelease(own)?.id).toBe(1);
    expect(latestRelease([])).toBeNull();
    expect(latestRelease([row({ id: 5, status: "CANCELLED", pipelineId: 9 })])?.id).toBe(5);
  });

  it("is a rollback when another iteration released the tag, or this one did and is RELEASED", () => {
    const other = [row({ iterationId: 3, status: "SUCCESS" })];
    const own = [row({ iterationId: 7, status: "FAILED" })];
    const refused = [row({ iterationId: 3, status: "CANCELLED", pipelineId: null })];
    expect(isRollback("RELEASED", 7, other)).toBe(true);
    expect(isRollback("RELEASE", 7, other)).toBe(true);
    expect(isRollback("STAGING", 7, other)).toBe(false);
    expect(isRollback(null, 7, other)).toBe(false);
    expect(isRollback("RELEASE", 7, own)).toBe(false);
    expect(isRollback("RELEASED", 7, own)).toBe(true);
    expect(isRollback("RELEASED", 7, refused)).toBe(false);
    expect(isRollback("RELEASED", 7, [])).toBe(false);
  });
});

describe("merging what the engine says", () => {
  it("orders progress by phase, then by the latest phase pipeline", () => {
    const p = (phase: IterationMachineState | null, phasePipelineId: number | null = null) => ({
      phase,
      phasePipelineId,
    });
    expect(isNotBehind(p(null), p("DEVELOPING"))).toBe(true);
    expect(isNotBehind(p("TESTING"), p("DEVELOPING"))).toBe(false);
    expect(isNotBehind(p("TESTING"), p("TESTING"))).toBe(true);
    expect(isAhead(p("TESTING"), p("TESTING"))).toBe(false);
    expect(isAhead(p("TESTING"), p("STAGING"))).toBe(true);
    expect(isAhead(p("RELEASE", 10), p("RELEASE", 12))).toBe(true);
    expect(isNotBehind(p("RELEASE", 12), p("RELEASE", 10))).toBe(false);
    // The event of entering RELEASE has no phase pipeline yet: behind an answer that has one.
    expect(isNotBehind(p("RELEASE", 10), p("RELEASE", null))).toBe(false);
    expect(isAhead(p("RELEASE", 10), p("RELEASED", 10))).toBe(true);
    expect(isAhead(p("RELEASED", 10), p("RELEASED", 11))).toBe(true);
  });
});
