import { describe, expect, it } from "vitest";
import { PHASE_STAGE_DEFAULTS } from "@procode/contracts";
import {
  applyProcodeChange,
  appNameProblem,
  changedSettings,
  mergePatch,
  type ChangeableSettings,
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

describe("a configuration change keeps what it leaves out", () => {
  const base: ChangeableSettings = {
    scaffoldTemplate: "python-agent",
    credentialId: "cred-1",
    stageConfigs: { PACKAGE: { driveMode: "MANUAL", maxRetries: 2 }, BUILD: { maxRetries: 5 } },
    phases: ["DEVELOPING", "RELEASE"],
    concurrency: "REJECT",
    deployConfig: { env: { MODE: "prod", DEBUG: "1" }, resources: { cpu: "500m", memory: "1Gi" } },
  };
  const apply = (body: Parameters<typeof applyProcodeChange>[1], gitType: "GITLAB" | "LOCAL" = "GITLAB") =>
    applyProcodeChange(base, body, gitType);

  it("merges JSON Merge Patch style: left out keeps, null removes, empty objects go", () => {
    expect(mergePatch({ a: { x: 1, y: 2 }, b: 3 }, { a: { y: null, z: 4 } })).toEqual({
      a: { x: 1, z: 4 },
      b: 3,
    });
    expect(mergePatch({ a: { x: 1 } }, { a: { x: null } })).toEqual({});
    expect(mergePatch({ a: 1 }, { a: null, b: [1] })).toEqual({ b: [1] });
  });

  it("keeps every field an empty change leaves out", () => {
    expect(apply({})).toEqual({ ok: true, value: base });
  });

  it("changes one stage setting and keeps the stage's other settings and the other stages", () => {
    const r = apply({ stageConfigs: { PACKAGE: { retryMode: "AUTO" } } });
    expect(r.ok && r.value.stageConfigs).toEqual({
      PACKAGE: { driveMode: "MANUAL", maxRetries: 2, retryMode: "AUTO" },
      BUILD: { maxRetries: 5 },
    });
  });

  it("returns a setting, a stage or every stage to the defaults with null", () => {
    const one = apply({ stageConfigs: { PACKAGE: { driveMode: null } } });
    expect(one.ok && one.value.stageConfigs).toEqual({
      PACKAGE: { maxRetries: 2 },
      BUILD: { maxRetries: 5 },
    });
    const stage = apply({ stageConfigs: { BUILD: null } });
    expect(stage.ok && stage.value.stageConfigs).toEqual({ PACKAGE: { driveMode: "MANUAL", maxRetries: 2 } });
    const all = apply({ stageConfigs: null });
    expect(all.ok && all.value.stageConfigs).toEqual({});
  });

  it("merges the deploy config the same way", () => {
    const r = apply({ deployConfig: { env: { DEBUG: null, NEW: "x" }, resources: { memory: "4Gi" } } });
    expect(r.ok && r.value.deployConfig).toEqual({
      env: { MODE: "prod", NEW: "x" },
      resources: { cpu: "500m", memory: "4Gi" },
    });
    const reset = apply({ deployConfig: { resources: { cpu: null } } });
    expect(reset.ok && reset.value.deployConfig.resources).toEqual({ cpu: "1", memory: "1Gi" });
  });

  it("checks the merged stages: DEPLOY stays ASYNC", () => {
    expect(apply({ stageConfigs: { DEPLOY: { driveMode: "MANUAL" } } })).toEqual({
      ok: false,
      problems: [
        {
          field: "stageConfigs.DEPLOY.driveMode",
          message: "DEPLOY is finished by the ops module and must stay ASYNC",
        },
      ],
    });
  });

  it("needs a credential for a hosted repository only", () => {
    expect(apply({ credentialId: null })).toEqual({
      ok: false,
      problems: [
        {
          field: "credentialId",
          message: "is required for a GITLAB repository (create one with POST /credentials)",
        },
      ],
    });
    const local = apply({ credentialId: null }, "LOCAL");
    expect(local.ok && local.value.credentialId).toBeNull();
  });
});
