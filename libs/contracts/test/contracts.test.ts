import { describe, expect, it } from "vitest";
import {
  CreateAppRequest,
  IterationPhases,
  MESSAGES,
  messageSubject,
  nextPhase,
  normalizePhases,
  PHASE_STAGE_DEFAULTS,
  phaseOverrideProblems,
  ReleaseTag,
  resolvePhaseStageConfigs,
  streamName,
  streamOfType,
} from "../src/index.js";

describe("stage configs", () => {
  it("has the seed's phase defaults", () => {
    expect(PHASE_STAGE_DEFAULTS).toEqual({
      CODE_CHECK: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 3 },
      BUILD: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 2 },
      PACKAGE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 },
      // The agent quality gate: runs where it is on (its `enabled`, else the commit's evals/).
      QUALITY_GATE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 },
      DEPLOY: { driveMode: "ASYNC", retryMode: "MANUAL", maxRetries: 0, pollInterval: 30, pollTimeout: 1800 },
    });
  });

  it("takes enabled, gate and judgeUrl on QUALITY_GATE only", () => {
    expect(
      phaseOverrideProblems({
        QUALITY_GATE: { enabled: true, gate: { minPassRate: 0.9 }, judgeUrl: "https://judge.example/v1" },
      }),
    ).toEqual([]);
    expect(
      phaseOverrideProblems({ BUILD: { enabled: false }, PACKAGE: { judgeUrl: "https://j.example" } }),
    ).toEqual([
      "stageConfigs.BUILD.enabled: only QUALITY_GATE has enabled",
      "stageConfigs.PACKAGE.judgeUrl: only QUALITY_GATE has judgeUrl",
    ]);
  });

  it("layers overrides over the defaults without touching them", () => {
    const resolved = resolvePhaseStageConfigs(
      { PACKAGE: { driveMode: "MANUAL" } },
      { DEPLOY: { pollTimeout: 60 } },
    );
    expect(resolved.PACKAGE).toEqual({ driveMode: "MANUAL", retryMode: "MANUAL", maxRetries: 0 });
    expect(resolved.DEPLOY.pollTimeout).toBe(60);
    expect(PHASE_STAGE_DEFAULTS.PACKAGE.driveMode).toBe("AUTO");
  });

  it("refuses an ASYNC stage other than DEPLOY and a DEPLOY that is not ASYNC", () => {
    expect(phaseOverrideProblems({ BUILD: { driveMode: "ASYNC" } })[0]).toMatch(
      /stageConfigs.BUILD.driveMode/,
    );
    expect(phaseOverrideProblems({ DEPLOY: { driveMode: "AUTO" } })[0]).toMatch(
      /stageConfigs.DEPLOY.driveMode/,
    );
    expect(phaseOverrideProblems({ PACKAGE: { driveMode: "MANUAL" } })).toEqual([]);
  });
});

describe("iteration phases", () => {
  it("accepts the full list and the seed's RELEASE-only mode", () => {
    expect(IterationPhases.safeParse(["DEVELOPING", "TESTING", "STAGING", "RELEASE"]).success).toBe(true);
    expect(IterationPhases.safeParse(["RELEASE"]).success).toBe(true);
  });
  it("refuses lists without RELEASE, out of order or repeated", () => {
    expect(IterationPhases.safeParse(["TESTING"]).success).toBe(false);
    expect(IterationPhases.safeParse(["STAGING", "TESTING", "RELEASE"]).success).toBe(false);
    expect(IterationPhases.safeParse(["RELEASE", "RELEASE"]).success).toBe(false);
  });
  it("finds the next phase of an app's list", () => {
    expect(normalizePhases(["RELEASE"])).toEqual(["DEVELOPING", "RELEASE"]);
    expect(nextPhase(["RELEASE"], "DEVELOPING")).toBe("RELEASE");
    expect(nextPhase(["DEVELOPING", "TESTING", "STAGING", "RELEASE"], "TESTING")).toBe("STAGING");
    expect(nextPhase(["TESTING", "RELEASE"], "TESTING")).toBe("RELEASE");
    expect(nextPhase(["RELEASE"], "RELEASE")).toBeNull();
  });
});

describe("REST bodies", () => {
  it("names techStack and gitRepoUrl when a pro-code app lacks them", () => {
    const r = CreateAppRequest.safeParse({ name: "a", devMode: "pro-code" });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join("."))).toEqual(["techStack", "gitRepoUrl"]);
  });
  it("accepts release tags that are v + a semantic version only", () => {
    for (const ok of ["v1.0.0", "v10.2.3", "v1.0.0-rc.1"])
      expect(ReleaseTag.safeParse(ok).success).toBe(true);
    for (const bad of ["1.0.0", "v1", "v1.0", "release-1", "v1.0.0 x", "v01.0.0"]) {
      expect(ReleaseTag.safeParse(bad).success).toBe(false);
    }
  });
});

describe("message catalog", () => {
  it("has unique types whose subjects fall in their stream", () => {
    const types = MESSAGES.map((m) => m.type);
    expect(new Set(types).size).toBe(types.length);
    for (const m of MESSAGES) {
      expect(m.version).toBeGreaterThanOrEqual(1);
      expect(messageSubject("procode", m.type).startsWith(`procode.${m.type.split(".")[0]}.`)).toBe(true);
      expect(streamOfType(m.type)).toBe(m.stream);
      expect(m.consumers.length).toBeGreaterThan(0);
    }
  });
  it("names streams after the environment", () => {
    expect(streamName("procode", "PIPELINE")).toBe("PROCODE_PIPELINE");
    expect(() => streamName("Bad Env", "APP")).toThrow(/invalid environment name/);
  });
});

describe("docs/messages.md", () => {
  it("is the catalog rendered (run `pnpm docs:messages` after changing a message)", async () => {
    const { readFile } = await import("node:fs/promises");
    const { renderMessagesDoc } = await import("../src/docs.js");
    const committed = await readFile(new URL("../../../docs/messages.md", import.meta.url), "utf8");
    expect(committed).toBe(renderMessagesDoc());
  });

  it("docs/errors.md is the error table rendered", async () => {
    const { readFile } = await import("node:fs/promises");
    const { renderErrorsDoc } = await import("../src/docs.js");
    const committed = await readFile(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    expect(committed).toBe(renderErrorsDoc());
  });
});

describe("validation messages", () => {
  it("says a missing field is required", () => {
    const r = CreateAppRequest.safeParse({ devMode: "pro-code" });
    expect(r.error!.issues[0]).toMatchObject({ path: ["name"], message: "is required" });
  });
});
