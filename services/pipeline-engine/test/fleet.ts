import { expect } from "vitest";
import { createTestInfra, eventually, serviceEnv, sql, type TestInfra } from "@procode/test-kit";
import { EngineProcess } from "./engine-process.js";
import { StageHarness } from "./harness.js";
import { FAST_ENV, nextId, transitionsOf } from "./helpers.js";
import { transitionLogProblems } from "../src/domain/transition-log.js";

/**
 * Engines as real processes on one test database and NATS environment, the stage harness, and the
 * checks the crash tests share: release many pipelines, wait for all of them, check the log.
 */
export class Fleet {
  infra!: TestInfra;
  harness!: StageHarness;
  readonly engines: EngineProcess[] = [];

  async setUp(label: string): Promise<void> {
    this.infra = await createTestInfra(label);
    // The first engine creates the schema and streams before the harness subscribes.
    const first = this.engine();
    await first.start();
    this.harness = new StageHarness(this.infra.natsUrl, this.infra.envName);
    await this.harness.start();
    await first.stop();
    this.engines.length = 0;
  }

  engine(extra: Record<string, string> = {}, name = "engine"): EngineProcess {
    const e = new EngineProcess(
      serviceEnv(this.infra, {
        ...FAST_ENV,
        STAGE_REPUBLISH_MS: "1000",
        STAGE_REPUBLISH_MAX_MS: "2000",
        DB_POOL_MAX: "6",
        ...extra,
      }),
      name,
    );
    this.engines.push(e);
    return e;
  }

  /** Stops every engine; prints their last lines when the test failed. */
  async stopEngines(failed: boolean): Promise<void> {
    if (failed) {
      for (const e of this.engines) process.stderr.write(`--- ${e.name}\n${e.lines.slice(-15).join("\n")}\n`);
    }
    for (const e of this.engines.splice(0)) await e.stop();
  }

  async tearDown(): Promise<void> {
    await this.stopEngines(false);
    await this.harness?.stop();
    await this.infra?.cleanup();
  }

  async count(text: string, params: unknown[] = []): Promise<number> {
    const rows = await sql<{ count: string }>(this.infra.databaseUrl, text, params);
    return Number(rows[0]!.count);
  }

  /** n apps (phases: RELEASE only) with one iteration each, released by RPC; the phase pipeline ids. */
  async releaseMany(n: number): Promise<number[]> {
    const apps = Array.from({ length: n }, () => nextId());
    await Promise.all(apps.map((a) => this.harness.appCreated(a, { phases: ["RELEASE"] })));
    await eventually(
      async () =>
        (await this.count(`select count(*) from pipeline.app_settings where app_id = any($1)`, [apps])) === n,
      "app settings projected",
      20000,
    );
    const phaseIds: number[] = [];
    for (let i = 0; i < apps.length; i += 10) {
      await Promise.all(
        apps.slice(i, i + 10).map(async (appId) => {
          const reply = await this.harness.proceed(
            {
              iterationId: nextId(),
              appId,
              targetPhase: "RELEASE",
              release: {
                iterationPhaseId: nextId(),
                tag: "v1.0.0",
                branch: "main",
                commitId: null,
                rollback: false,
              },
              actor: { sub: "alice", team: "t1" },
            },
            10000,
          );
          if (!reply.ok) throw new Error(JSON.stringify(reply.error));
          phaseIds.push(reply.data.phasePipelineId!);
        }),
      );
    }
    return phaseIds;
  }

  transitionsOf(phaseIds: number[]): Promise<number> {
    return this.count(`select count(*) from pipeline.transition where pipeline_id = any($1)`, [phaseIds]);
  }

  async expectAllReleased(phaseIds: number[], timeoutMs: number): Promise<void> {
    await eventually(
      async () =>
        (await this.count(
          `select count(*) from pipeline.pipeline where id = any($1) and status = 'SUCCESS'`,
          [phaseIds],
        )) === phaseIds.length,
      `all ${phaseIds.length} phase pipelines SUCCESS`,
      timeoutMs,
      200,
    );
    await eventually(
      async () =>
        (await this.count(
          `select count(*) from pipeline.pipeline where id in (select parent_id from pipeline.pipeline where id = any($1)) and state = 'RELEASED'`,
          [phaseIds],
        )) === phaseIds.length,
      "all iterations RELEASED",
      timeoutMs,
      200,
    );
  }

  /** The log of these pipelines and their parents: no gap, no duplicate, only legal edges. */
  async expectSoundLog(phaseIds: number[]): Promise<void> {
    const rows = await sql<{ id: string; type: "ITERATION" | "PHASE" }>(
      this.infra.databaseUrl,
      `select id::text, type from pipeline.pipeline where id = any($1) or id in (select parent_id from pipeline.pipeline where id = any($1))`,
      [phaseIds],
    );
    const types = new Map(rows.map((r) => [r.id, r.type]));
    const log = (await transitionsOf(this.infra)).filter((t) => types.has(t.pipeline_id));
    expect(transitionLogProblems(log, types)).toEqual([]);
    // Every phase pipeline reached SUCCESS exactly once; each stage attempt was recorded once.
    expect(log.filter((t) => t.to_state === "SUCCESS")).toHaveLength(phaseIds.length);
    const dupes = await sql(
      this.infra.databaseUrl,
      `select p.id, c->>'stage' as stage, c->>'attempt' as attempt, count(*) from pipeline.pipeline p,
         jsonb_array_elements(p.checkpoints) c where p.id = any($1) group by 1, 2, 3 having count(*) > 1`,
      [phaseIds],
    );
    expect(dupes).toEqual([]);
  }
}
