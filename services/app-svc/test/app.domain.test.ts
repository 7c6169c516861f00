import { describe, expect, it } from "vitest";
import { PHASE_STAGE_DEFAULTS } from "@procode/contracts";
import {
  appNameProblem,
  changedSettings,
  toAppView,
  toSnapshot,
  type AppState,
  type ProcodeSettings,
  type ProcodeState,
} from "../src/domain/app.js";

const at = new Date("2026-03-01T10:00:00.000Z");
const app: AppState = {
  id: 5,
  name: "agent",
  devMode: "pro-code",
  techStack: "python",
  team: "t1",
  createdBy: "alice",
  revision: 3,
  createdAt: at,
  updatedAt: at,
};
const config: ProcodeState = {
  appId: 5,
  gitRepoUrl: "https://gitlab.example.com/a/b.git",
  gitType: "GITLAB",
  scaffoldTemplate: null,
  credentialId: "c1",
  credentialRequired: true,
  webhookSecret: { keyId: "k1", ciphertext: "c2VhbGVk" },
  stageConfigs: { BUILD: { maxRetries: 4 } },
  phases: ["RELEASE"],
  concurrency: "QUEUE",
  deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
  updatedAt: at,
};

describe("app views and snapshots", () => {
  it("shows the effective stage configs and never the secret", () => {
    const view = toAppView(app, config, "https://p.example/webhooks/gitlab/5");
    expect(view.procodeConfig?.effectiveStageConfigs.BUILD).toEqual({
      ...PHASE_STAGE_DEFAULTS.BUILD,
      maxRetries: 4,
    });
    expect(JSON.stringify(view)).not.toContain("c2VhbGVk");
    expect(view.createdAt).toBe("2026-03-01T10:00:00.000Z");
  });

  it("carries the sealed secret and the revision in the snapshot", () => {
    const snap = toSnapshot(app, config, "https://p.example/webhooks/gitlab/5");
    expect(snap.revision).toBe(3);
    expect(snap.procode?.webhookSecret).toEqual({ keyId: "k1", ciphertext: "c2VhbGVk" });
    expect(toSnapshot({ ...app, devMode: "low-code" }, null, null).procode).toBeNull();
  });
});

describe("changedSettings", () => {
  const settings: ProcodeSettings = { ...config };
  it("finds nothing when only key order differs", () => {
    const reordered: ProcodeSettings = {
      ...settings,
      deployConfig: { resources: { memory: "2Gi", cpu: "1" }, env: {} },
    };
    expect(changedSettings(settings, reordered)).toEqual([]);
  });

  it("names each changed field", () => {
    expect(
      changedSettings(settings, {
        ...settings,
        credentialId: "c2",
        phases: ["DEVELOPING", "RELEASE"],
        stageConfigs: {},
      }),
    ).toEqual(["credentialId", "stageConfigs", "phases"]);
  });
});

describe("appNameProblem", () => {
  it.each(["my-agent", "智能体 1", "😀 agent", "a.b_c-d"])("accepts %j", (name) => {
    expect(appNameProblem(name)).toBeNull();
  });
  it.each(["a\nb", "tab\there", "bell\u0007", "del\u007f", "c1\u0085"])("refuses %j", (name) => {
    expect(appNameProblem(name)).toBe("must not contain control characters");
  });
});
