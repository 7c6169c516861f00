import { describe, expect, it } from "vitest";
import {
  DESCRIPTION_MAX,
  isLater,
  providerState,
  statusesForPhase,
  statusesForStageRequest,
  type StageStatus,
} from "../src/domain/commit-status.js";

/** Applies states in the order given, keeping per stage only the later one (what the table does). */
function apply(events: StageStatus[][]): Record<string, string> {
  const current = new Map<string, StageStatus>();
  for (const s of events.flat()) {
    const now = current.get(s.stage);
    if (!now ? !s.ifRun : isLater(s, now)) current.set(s.stage, s);
  }
  return Object.fromEntries([...current].map(([stage, s]) => [stage, s.state]));
}

const created = statusesForPhase({
  status: "PENDING",
  stage: null,
  attempt: 0,
  failedStage: null,
  error: null,
});
const started = statusesForPhase({
  status: "RUNNING",
  stage: "CODE_CHECK",
  attempt: 1,
  failedStage: null,
  error: null,
});
const succeeded = statusesForPhase({
  status: "SUCCESS",
  stage: "DEPLOY",
  attempt: 1,
  failedStage: null,
  error: null,
});
const failedAt = (attempt: number) =>
  statusesForPhase({
    status: "FAILED",
    stage: "CODE_CHECK",
    attempt,
    failedStage: "CODE_CHECK",
    error: "python-syntax: app/main.py line 3: invalid syntax",
  });

describe("commit status of each stage", () => {
  it("a release that succeeds: pending, then running stage by stage, then success everywhere", () => {
    expect(apply([created])).toEqual({
      CODE_CHECK: "pending",
      BUILD: "pending",
      PACKAGE: "pending",
      DEPLOY: "pending",
    });
    expect(apply([created, started, statusesForStageRequest("BUILD", 1)])).toEqual({
      CODE_CHECK: "success",
      BUILD: "running",
      PACKAGE: "pending",
      DEPLOY: "pending",
    });
    expect(apply([created, started, succeeded])).toEqual({
      CODE_CHECK: "success",
      BUILD: "success",
      PACKAGE: "success",
      DEPLOY: "success",
    });
  });

  it("any arrival order ends in the same state: a late pending or running never overwrites success", () => {
    const all = [
      created,
      started,
      statusesForStageRequest("BUILD", 1),
      statusesForStageRequest("PACKAGE", 1),
      statusesForStageRequest("DEPLOY", 1),
      succeeded,
    ];
    const reversed = [...all].reverse();
    const final = { CODE_CHECK: "success", BUILD: "success", PACKAGE: "success", DEPLOY: "success" };
    expect(apply(all)).toEqual(final);
    expect(apply(reversed)).toEqual(final);
  });

  it("a failed CODE_CHECK is failed with the error, the stages after it not run; a resume moves it on", () => {
    const failed = failedAt(4);
    expect(apply([created, started, statusesForStageRequest("CODE_CHECK", 4), failed])).toEqual({
      CODE_CHECK: "failed",
      BUILD: "canceled",
      PACKAGE: "canceled",
      DEPLOY: "canceled",
    });
    expect(failed.find((s) => s.stage === "CODE_CHECK")!.description).toBe(
      "python-syntax: app/main.py line 3: invalid syntax",
    );
    // The failure arriving before the request of the attempt it ends changes nothing.
    expect(apply([failed, statusesForStageRequest("CODE_CHECK", 4)])).toMatchObject({ CODE_CHECK: "failed" });
    // Resume: attempt 5 runs, then BUILD.
    const resumed = statusesForPhase({
      status: "RUNNING",
      stage: "CODE_CHECK",
      attempt: 5,
      failedStage: null,
      error: null,
    });
    expect(apply([created, failed, resumed])).toMatchObject({ CODE_CHECK: "running", BUILD: "canceled" });
    expect(apply([created, failed, resumed, statusesForStageRequest("BUILD", 1)])).toMatchObject({
      CODE_CHECK: "success",
      BUILD: "running",
    });
  });

  it("QUALITY_GATE has a context only in a pipeline that runs it: made by its request, then moved on", () => {
    const FOUR = { CODE_CHECK: "success", BUILD: "success", PACKAGE: "success", DEPLOY: "success" };
    // Without the gate: the four contexts it always had, in any order.
    const without = [created, started, statusesForStageRequest("DEPLOY", 1), succeeded];
    expect(apply(without)).toEqual(FOUR);
    expect(apply([...without].reverse())).toEqual(FOUR);
    // With it: running from its request, success once DEPLOY is asked for or the pipeline succeeds.
    const gate = statusesForStageRequest("QUALITY_GATE", 1);
    expect(apply([created, started, gate])).toEqual({
      CODE_CHECK: "success",
      BUILD: "success",
      PACKAGE: "success",
      QUALITY_GATE: "running",
      DEPLOY: "pending",
    });
    expect(apply([created, gate, statusesForStageRequest("DEPLOY", 1)])).toMatchObject({
      QUALITY_GATE: "success",
      DEPLOY: "running",
    });
    expect(apply([created, gate, succeeded])).toEqual({ ...FOUR, QUALITY_GATE: "success" });
    // A blocked gate: failed with its reasons, DEPLOY not run.
    const blocked = statusesForPhase({
      status: "FAILED",
      stage: "QUALITY_GATE",
      attempt: 1,
      failedStage: "QUALITY_GATE",
      error: "2 case(s) passed in v1.0.0 and fail now",
    });
    expect(apply([created, gate, blocked])).toMatchObject({ QUALITY_GATE: "failed", DEPLOY: "canceled" });
  });

  it("a cancelled pipeline cancels the stage it was at and the ones after", () => {
    const cancelled = statusesForPhase({
      status: "CANCELLED",
      stage: "PACKAGE",
      attempt: 1,
      failedStage: null,
      error: "by a person",
    });
    expect(apply([created, started, statusesForStageRequest("PACKAGE", 1), cancelled])).toEqual({
      CODE_CHECK: "success",
      BUILD: "success",
      PACKAGE: "canceled",
      DEPLOY: "canceled",
    });
  });

  it("speaks each provider's words and keeps descriptions to one short line", () => {
    expect(
      ["pending", "running", "success", "failed", "canceled"].map((s) => providerState("GITLAB", s as never)),
    ).toEqual(["pending", "running", "success", "failed", "canceled"]);
    for (const p of ["GITHUB", "GITEE"] as const) {
      expect(
        ["pending", "running", "success", "failed", "canceled"].map((s) => providerState(p, s as never)),
      ).toEqual(["pending", "pending", "success", "failure", "error"]);
    }
    const long = statusesForPhase({
      status: "FAILED",
      stage: "BUILD",
      attempt: 1,
      failedStage: "BUILD",
      error: `line one\nline two ${"x".repeat(300)}`,
    }).find((s) => s.stage === "BUILD")!;
    expect(long.description.length).toBe(DESCRIPTION_MAX);
    expect(long.description).toMatch(/^line one line two x+…$/);
  });
});
