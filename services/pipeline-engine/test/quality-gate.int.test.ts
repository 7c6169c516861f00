import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messageSubject, type Pipeline } from "@procode/contracts";
import type { Subscription } from "@nats-io/transport-node";
import type { TestInfra } from "@procode/test-kit";
import { type Api, type EngineFlow, startEngineFlow, startRelease, transitionsOf } from "./helpers.js";
import type { Answer, StageHarness } from "./harness.js";

/**
 * The QUALITY_GATE stage in the engine (docs/quality-gate.md): where it runs (its setting, else
 * CODE_CHECK's `evals`), its drive and retry modes, and the waiver of a blocked gate. The runner's
 * side is played by the harness; dev-svc's runner has its own tests.
 */

let flow: EngineFlow;
let infra: TestInfra;
let harness: StageHarness;
let api: Api;
let waived: Subscription;
const waivers: Record<string, unknown>[] = [];

beforeAll(async () => {
  flow = await startEngineFlow("engine_quality");
  ({ infra, harness, api } = flow);
  waived = harness.nc.subscribe(messageSubject(infra.envName, "pipeline.quality_waived.v1"));
  void (async () => {
    for await (const m of waived) waivers.push(m.json<{ data: Record<string, unknown> }>().data);
  })();
});

afterAll(async () => {
  waived?.unsubscribe();
  await flow?.close();
});

const release = (opts: Parameters<typeof startRelease>[3] = {}) => startRelease(harness, api, infra, opts);
const stagesRun = (p: Pipeline) => p.checkpoints.map((c) => `${c.stage}#${c.attempt}:${c.status}`);
const requestsOf = (id: number, stage: string) =>
  harness.requests.filter((q) => q.pipelineId === id && q.stage === stage);

const CHECKED = { commitId: "abc123", checks: [], evals: true };
const PASS = { reportId: 7, verdict: "PASS", passRate: 1, cases: 6, passed: 6, newlyFailing: [] };
const BLOCK = {
  reportId: 8,
  verdict: "BLOCK",
  reasons: ["2 cases newly fail (at most 0): greets, capital"],
  newlyFailing: ["greets", "capital"],
};

/** The runners: CODE_CHECK finds evals (or not), the gate answers `gate`, DEPLOY succeeds. */
function runners(evals: boolean, gate: () => Answer | "PASS") {
  harness.behaviour = (req) => {
    if (req.stage === "DEPLOY") return { deploy: "SUCCESS" };
    if (req.stage === "CODE_CHECK")
      return { outcome: "SUCCESS", output: evals ? CHECKED : { commitId: "abc123", checks: [] } };
    if (req.stage === "QUALITY_GATE") {
      const g = gate();
      return g === "PASS" ? { outcome: "SUCCESS", output: PASS } : g;
    }
    return { outcome: "SUCCESS" };
  };
}

describe("where the quality gate runs", () => {
  it("nowhere for a commit without evals and no setting: PACKAGE goes to DEPLOY as before", async () => {
    runners(false, () => "PASS");
    const r = await release();
    const p = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(stagesRun(p)).toEqual([
      "CODE_CHECK#1:SUCCESS",
      "BUILD#1:SUCCESS",
      "PACKAGE#1:SUCCESS",
      "DEPLOY#1:SUCCESS",
    ]);
    expect(requestsOf(r.phaseId, "QUALITY_GATE")).toEqual([]);
    expect(p.stageConfigs["QUALITY_GATE"]).toMatchObject({ driveMode: "AUTO", retryMode: "MANUAL" });
  });

  it("between PACKAGE and DEPLOY when CODE_CHECK found evals, with the earlier outputs as inputs", async () => {
    runners(true, () => "PASS");
    const r = await release({ procode: { stageConfigs: { QUALITY_GATE: { gate: { minPassRate: 0.9 } } } } });
    const p = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(stagesRun(p)).toEqual([
      "CODE_CHECK#1:SUCCESS",
      "BUILD#1:SUCCESS",
      "PACKAGE#1:SUCCESS",
      "QUALITY_GATE#1:SUCCESS",
      "DEPLOY#1:SUCCESS",
    ]);
    expect(p.checkpoints[3]!.output).toMatchObject({ verdict: "PASS", reportId: 7 });
    const [gate] = requestsOf(r.phaseId, "QUALITY_GATE");
    expect(gate).toMatchObject({
      attempt: 1,
      stageConfig: { driveMode: "AUTO", gate: { minPassRate: 0.9 } },
      inputs: { CODE_CHECK: { commitId: "abc123", evals: true }, PACKAGE: { image: expect.any(String) } },
    });
    expect((await transitionsOf(infra, r.phaseId)).map((t) => `${t.from_state}->${t.to_state}`)).toContain(
      "PACKAGE->QUALITY_GATE",
    );
  });

  it("when its setting turns it on without evals, and never when its setting turns it off", async () => {
    runners(false, () => "PASS");
    const on = await release({ procode: { stageConfigs: { QUALITY_GATE: { enabled: true } } } });
    const p1 = await api.until(on.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(stagesRun(p1)).toContain("QUALITY_GATE#1:SUCCESS");
    runners(true, () => "PASS");
    const off = await release({ procode: { stageConfigs: { QUALITY_GATE: { enabled: false } } } });
    const p2 = await api.until(off.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(p2.checkpoints.some((c) => c.stage === "QUALITY_GATE")).toBe(false);
  });
});

describe("a blocked gate", () => {
  it("fails the release at QUALITY_GATE with its reasons; DEPLOY does not run", async () => {
    runners(true, () => ({ outcome: "FAILED", error: BLOCK.reasons[0], output: BLOCK }));
    const r = await release();
    const p = await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    expect(p).toMatchObject({
      currentStage: "QUALITY_GATE",
      awaiting: { action: "RETRY_OR_RESUME", stage: "QUALITY_GATE" },
    });
    expect(p.awaiting!.hint).toMatch(/proceed with a reason/);
    expect(p.checkpoints.at(-1)).toMatchObject({
      stage: "QUALITY_GATE",
      status: "FAILED",
      error: BLOCK.reasons[0],
      output: BLOCK,
    });
    expect(requestsOf(r.phaseId, "DEPLOY")).toEqual([]);
  });

  it("is let through by proceed with a reason: the waiver is kept on the checkpoint and announced, and DEPLOY runs", async () => {
    runners(true, () => ({ outcome: "FAILED", error: BLOCK.reasons[0], output: BLOCK }));
    const r = await release();
    await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    const bare = await api.call("POST", `/pipelines/${r.phaseId}/proceed`, { sub: "dora" });
    expect(bare).toMatchObject({
      status: 400,
      body: { code: 1001, message: expect.stringMatching(/^reason: .*needs a reason/) },
    });
    const blank = await api.call("POST", `/pipelines/${r.phaseId}/proceed`, {
      sub: "dora",
      body: { reason: "  " },
    });
    expect(blank).toMatchObject({ status: 400, body: { code: 1001 } });
    const res = await api.call("POST", `/pipelines/${r.phaseId}/proceed`, {
      sub: "dora",
      body: { reason: "the greeting was dropped on purpose" },
    });
    expect(res).toMatchObject({
      status: 200,
      body: {
        code: 0,
        data: { pipelineId: r.phaseId, previousStage: "QUALITY_GATE", currentStage: "DEPLOY" },
      },
    });
    const p = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    const gate = p.checkpoints.find((c) => c.stage === "QUALITY_GATE")!;
    expect(gate).toMatchObject({
      status: "FAILED",
      waiver: { by: "dora", reason: "the greeting was dropped on purpose" },
    });
    expect(stagesRun(p).at(-1)).toBe("DEPLOY#1:SUCCESS");
    const log = await transitionsOf(infra, r.phaseId);
    expect(log.find((t) => t.event === "WAIVE")).toMatchObject({
      from_state: "FAILED",
      to_state: "DEPLOY",
      actor: "dora",
    });
    await expect
      .poll(() => waivers.find((w) => w["pipelineId"] === r.phaseId))
      .toMatchObject({
        appId: r.appId,
        iterationPhaseId: r.iterationPhaseId,
        reportId: 8,
        by: "dora",
        reason: "the greeting was dropped on purpose",
      });
    // Waived once: the pipeline no longer waits for it.
    const again = await api.call("POST", `/pipelines/${r.phaseId}/proceed`, { body: { reason: "again" } });
    expect(again).toMatchObject({ status: 409, body: { code: 3001 } });
  });

  it("with a configuration error cannot be waived; resume runs the gate again", async () => {
    let attempt = 0;
    runners(true, () => {
      attempt += 1;
      return attempt === 1
        ? {
            outcome: "FAILED",
            error: "configuration error: evals/a.jsonl:4: assert.0.value: contains needs a text",
            output: {
              reportId: 9,
              verdict: "CONFIGURATION_ERROR",
              problems: ["evals/a.jsonl:4: assert.0.value: contains needs a text"],
            },
          }
        : "PASS";
    });
    const r = await release();
    await api.until(r.phaseId, (x) => x.status === "FAILED", "FAILED");
    const refused = await api.call("POST", `/pipelines/${r.phaseId}/proceed`, {
      body: { reason: "ship it" },
    });
    expect(refused).toMatchObject({
      status: 409,
      body: { code: 3001, message: expect.stringMatching(/configuration error .* cannot be waived/) },
    });
    expect(await api.call("POST", `/pipelines/${r.phaseId}/resume`)).toMatchObject({ status: 200 });
    const p = await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
    expect(stagesRun(p)).toEqual([
      "CODE_CHECK#1:SUCCESS",
      "BUILD#1:SUCCESS",
      "PACKAGE#1:SUCCESS",
      "QUALITY_GATE#1:FAILED",
      "QUALITY_GATE#2:SUCCESS",
      "DEPLOY#1:SUCCESS",
    ]);
  });
});

describe("the gate's drive mode", () => {
  it("MANUAL: a passed gate waits for proceed before DEPLOY", async () => {
    runners(true, () => "PASS");
    const r = await release({ procode: { stageConfigs: { QUALITY_GATE: { driveMode: "MANUAL" } } } });
    const waiting = await api.until(r.phaseId, (x) => x.awaiting?.action === "PROCEED", "awaiting proceed");
    expect(waiting).toMatchObject({ state: "QUALITY_GATE", awaiting: { stage: "QUALITY_GATE" } });
    expect(requestsOf(r.phaseId, "DEPLOY")).toEqual([]);
    const res = await api.call("POST", `/pipelines/${r.phaseId}/proceed`);
    expect(res).toMatchObject({
      status: 200,
      body: { data: { previousStage: "QUALITY_GATE", currentStage: "DEPLOY" } },
    });
    await api.until(r.phaseId, (x) => x.status === "SUCCESS", "SUCCESS");
  });
});
