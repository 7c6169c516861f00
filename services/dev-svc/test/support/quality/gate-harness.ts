import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import {
  CodeCheckOutput,
  messageSubject,
  PhasePipelineStatusChanged,
  QualityReport,
  type MessageData,
} from "@procode/contracts";
import { Outbox } from "@procode/service-kit";
import { createTestInfra, eventually, sql, type TestInfra } from "@procode/test-kit";
import { resolveTemplatesDir, TemplateCatalog } from "../../../src/scaffold/templates.js";
import { insertIteration } from "../../../src/store/iteration.repository.js";
import { findPhase, insertRelease } from "../../../src/store/iteration-phase.repository.js";
import { bearer, newKeys, startDevSvc, type DevSvc } from "../dev-svc.js";
import { newPipelineId, StageEngine } from "../runners/engine.js";
import { commitFiles, createApp, localRepo, tag, type Files } from "../runners/repos.js";

export interface GateApp {
  appId: number;
  repo: Awaited<ReturnType<typeof localRepo>>["repo"];
  iterationId: number;
}

export interface Release {
  tag: string;
  pipelineId: number;
  iterationPhaseId: number;
  commitId: string;
  result: Awaited<ReturnType<StageEngine["result"]>>;
}

export const reportIdOf = (r: Release) =>
  (r.result.outcome === "SUCCESS"
    ? r.result.output!["reportId"]
    : r.result.error!.details!["reportId"]) as number;

/**
 * dev-svc on the test's database and NATS with LOCAL repositories, the engine's side of the stage
 * runners, and the steps of a release up to the quality gate.
 */
export class GateHarness {
  private constructor(
    readonly infra: TestInfra,
    readonly svc: DevSvc,
    readonly engine: StageEngine,
    private readonly dir: string,
    private readonly keys: string,
    /** The python-agent scaffold's files, as a new repository gets them. */
    readonly scaffold: Files,
  ) {}

  static async start(name: string): Promise<GateHarness> {
    const infra = await createTestInfra(name);
    const dir = await mkdtemp(path.join(tmpdir(), "quality-"));
    const keys = newKeys();
    const svc = await startDevSvc(infra, keys, {
      LOCAL_GIT_ROOT: path.join(dir, "local"),
      STAGE_LEASE_MS: "5000",
      // The tests' own judge listens on this machine.
      QUALITY_JUDGE_ALLOW_HTTP: "true",
      QUALITY_JUDGE_ALLOWED_HOSTS: "127.0.0.1",
    });
    const engine = await StageEngine.connect(infra);
    const template = (await TemplateCatalog.load(resolveTemplatesDir(undefined))).get("python-agent")!;
    const scaffold = Object.fromEntries(template.files.map((f) => [f.path, f.content.toString("utf8")]));
    return new GateHarness(infra, svc, engine, dir, keys, scaffold);
  }

  async close(): Promise<void> {
    await this.engine.close();
    await this.svc.close();
    await this.infra.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** A LOCAL repository holding `files` (not tagged yet), a pro-code app bound to it, an iteration. */
  async gateApp(files: Files): Promise<GateApp> {
    const name = `gate-${Math.random().toString(36).slice(2, 10)}`;
    const { repo } = await localRepo(path.join(this.dir, "local"), name);
    await commitFiles(repo, files, "Initial commit");
    const app = await createApp(this.svc, this.infra, this.keys, {
      gitType: "LOCAL",
      gitRepoUrl: `local://${name}`,
    });
    const iterationId = await insertIteration(this.svc.deps.db.sql, {
      appId: app.appId,
      team: "team-a",
      name: "main line",
      sourceBranch: "main",
      headCommit: null,
      createdBy: "alice",
    });
    return { appId: app.appId, repo, iterationId };
  }

  /**
   * A release as the platform runs it up to the gate: `changes` committed, the tag set, the release
   * recorded, CODE_CHECK run, then QUALITY_GATE with CODE_CHECK's output.
   */
  async release(
    app: GateApp,
    tagName: string,
    changes: Files = {},
    stageConfig: Record<string, unknown> = {},
  ): Promise<Release> {
    if (Object.keys(changes).length) await commitFiles(app.repo, changes, `changes for ${tagName}`);
    const head = (await app.repo.resolveCommit("refs/heads/main"))!;
    await tag(app.repo, tagName, head);
    const phase = await insertRelease(this.svc.deps.db.sql, {
      iterationId: app.iterationId,
      appId: app.appId,
      branch: "main",
      tag: tagName,
      commitId: head,
      rollback: false,
      createdBy: "alice",
    });
    const pipelineId = newPipelineId();
    const check = await this.engine.run({ pipelineId, stage: "CODE_CHECK", appId: app.appId, tag: tagName });
    expect(check.outcome, JSON.stringify(check.error)).toBe("SUCCESS");
    const codeCheck = CodeCheckOutput.parse(check.output);
    // Every repository here has evaluation cases: CODE_CHECK says so, which turns the gate on.
    expect(codeCheck.evals).toBe(true);
    const result = await this.engine.run(
      {
        pipelineId,
        stage: "QUALITY_GATE",
        appId: app.appId,
        tag: tagName,
        iterationPhaseId: phase.id,
        inputs: { CODE_CHECK: codeCheck },
        stageConfig,
      },
      60_000,
    );
    return { tag: tagName, pipelineId, iterationPhaseId: phase.id, commitId: head, result };
  }

  /** The release's phase pipeline succeeded, as pipeline-engine tells dev-svc. */
  async markReleased(app: GateApp, r: Release): Promise<void> {
    const data: MessageData<typeof PhasePipelineStatusChanged> = {
      pipelineId: r.pipelineId,
      parentId: r.pipelineId,
      iterationId: app.iterationId,
      iterationPhaseId: r.iterationPhaseId,
      appId: app.appId,
      status: "SUCCESS",
      state: "SUCCESS",
      failedStage: null,
      error: null,
      rollback: false,
      sequence: 10,
    };
    const message = Outbox.envelope(PhasePipelineStatusChanged, data, `released-${r.pipelineId}`);
    await this.svc.deps.nats.js.publish(
      messageSubject(this.svc.deps.nats.env, PhasePipelineStatusChanged.type),
      JSON.stringify(message),
      { msgID: message.id },
    );
    await eventually(
      async () => (await findPhase(this.svc.deps.db.sql, r.iterationPhaseId))?.status === "SUCCESS",
      `release ${r.tag} recorded as released`,
    );
  }

  async api(url: string, team = "team-a") {
    const res = await this.svc.deps.app.inject({
      url,
      headers: { authorization: await bearer(this.infra, team) },
    });
    return { status: res.statusCode, body: res.json<{ code: number; message: string; data: unknown }>() };
  }

  async report(appId: number, reportId: number): Promise<QualityReport> {
    const res = await this.api(`/apps/${appId}/quality/${reportId}`);
    expect(res.status, res.body.message).toBe(200);
    return QualityReport.parse(res.body.data);
  }

  /** The QUALITY_GATE attempt's log, `LEVEL text` a line. */
  async logOf(pipelineId: number): Promise<string[]> {
    const rows = await sql<{ level: string; text: string }>(
      this.infra.databaseUrl,
      `select level, text from dev.stage_log_line where pipeline_id = $1 and stage = 'QUALITY_GATE' order by seq`,
      [pipelineId],
    );
    return rows.map((r) => `${r.level} ${r.text}`);
  }
}
