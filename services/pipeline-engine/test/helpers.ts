import type { Pipeline } from "@procode/contracts";
import { signToken, startRuntime, type ServiceRuntime } from "@procode/service-kit";
import { createTestInfra, eventually, serviceEnv, sql, TcpProxy, type TestInfra } from "@procode/test-kit";
import { service } from "../src/app.js";
import type { Config } from "../src/config.js";
import { StageHarness } from "./harness.js";
import type { TransitionRow } from "../src/domain/transition-log.js";

/** Timings short enough for tests (seconds become milliseconds). */
export const FAST_ENV = {
  STAGE_REPUBLISH_MS: "1500",
  STAGE_REPUBLISH_MAX_MS: "3000",
  RETRY_BASE_MS: "50",
  RETRY_MAX_MS: "200",
  SWEEP_INTERVAL_MS: "50",
  QUEUE_RECHECK_MS: "2000",
  STARTUP_REDRIVE_SPREAD_MS: "200",
  OUTBOX_POLL_MS: "200",
};

export class Api {
  private tokens = new Map<string, string>();
  constructor(
    private readonly runtime: () => ServiceRuntime<Config>,
    private readonly infra: TestInfra,
  ) {}

  private async token(team: string, sub = "alice"): Promise<string> {
    const key = `${team}/${sub}`;
    if (!this.tokens.has(key)) this.tokens.set(key, await signToken({ sub, team }, this.infra.jwtSecret));
    return this.tokens.get(key)!;
  }

  async call(
    method: "GET" | "POST",
    url: string,
    opts: { team?: string; sub?: string; body?: unknown } = {},
  ) {
    const res = await this.runtime().deps.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${await this.token(opts.team ?? "t1", opts.sub)}` },
      ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
    });
    return { status: res.statusCode, body: res.json() };
  }

  async pipeline(id: number, team = "t1"): Promise<Pipeline> {
    const res = await this.call("GET", `/pipelines/${id}`, { team });
    if (res.status !== 200)
      throw new Error(`GET /pipelines/${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data;
  }

  /** Waits until the pipeline satisfies `pred`, returning it. */
  async until(
    id: number,
    pred: (p: Pipeline) => boolean,
    what: string,
    timeoutMs = 15000,
  ): Promise<Pipeline> {
    let last: Pipeline | undefined;
    try {
      return await eventually(
        async () => {
          last = await this.pipeline(id);
          return pred(last) ? last : null;
        },
        `pipeline ${id}: ${what}`,
        timeoutMs,
        30,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; last seen ${JSON.stringify(last && { state: last.state, status: last.status, stage: last.currentStage, awaiting: last.awaiting })}`,
      );
    }
  }

  async iterationPipeline(iterationId: number): Promise<Pipeline> {
    return eventually(async () => {
      const res = await this.call("GET", `/pipelines?refId=${iterationId}&type=ITERATION`);
      return res.body.data.items[0] as Pipeline | undefined;
    }, `iteration pipeline of ${iterationId}`);
  }
}

export type { TransitionRow };

export async function transitionsOf(infra: TestInfra, pipelineId?: number): Promise<TransitionRow[]> {
  return sql<TransitionRow & Record<string, unknown>>(
    infra.databaseUrl,
    `select pipeline_id::text, seq, from_state, to_state, event, actor from pipeline.transition
     ${pipelineId ? "where pipeline_id = $1" : ""} order by pipeline_id, seq`,
    pipelineId ? [pipelineId] : [],
  );
}

let counter = Math.floor(Math.random() * 1000) * 1000;
/** A fresh id for apps, iterations and iteration phases. */
export const nextId = () => ++counter;

/** An app (with settings), an iteration in DEVELOPING, and its RELEASE requested by RPC. */
export async function startRelease(
  harness: StageHarness,
  api: Api,
  infra: TestInfra,
  opts: { procode?: Parameters<StageHarness["appCreated"]>[1] } = {},
) {
  const appId = nextId();
  const iterationId = nextId();
  const iterationPhaseId = nextId();
  await harness.appCreated(appId, { phases: ["RELEASE"], ...opts.procode });
  await harness.iterationCreated(iterationId, appId);
  const iteration = await api.iterationPipeline(iterationId);
  await eventually(
    async () =>
      (await sql(infra.databaseUrl, `select 1 from pipeline.app_settings where app_id = $1`, [appId])).length,
    "app settings projected",
  );
  const reply = await harness.proceed({
    iterationId,
    appId,
    targetPhase: "RELEASE",
    release: { iterationPhaseId, tag: "v1.0.0", branch: "main", commitId: null, rollback: false },
    actor: { sub: "alice", team: "t1" },
  });
  if (!reply.ok) throw new Error(`proceed refused: ${JSON.stringify(reply.error)}`);
  return {
    appId,
    iterationId,
    iterationPhaseId,
    iteration,
    reply: reply.data,
    phaseId: reply.data.phasePipelineId!,
  };
}

/** The engine in this process on a file's own infrastructure, with the runners' side (StageHarness). */
export interface EngineFlow {
  infra: TestInfra;
  runtime: ServiceRuntime<Config>;
  harness: StageHarness;
  api: Api;
  /** Between the engine and NATS, when asked for (the harness connects directly). */
  natsProxy: TcpProxy | undefined;
  close(): Promise<void>;
}

export async function startEngineFlow(
  label: string,
  opts: { natsProxy?: boolean } = {},
): Promise<EngineFlow> {
  const infra = await createTestInfra(label);
  const natsProxy = opts.natsProxy ? TcpProxy.forUrl(infra.natsUrl) : undefined;
  await natsProxy?.start();
  const runtime = await startRuntime(service, {
    env: serviceEnv(infra, { ...FAST_ENV, ...(natsProxy ? { NATS_URL: natsProxy.url(infra.natsUrl) } : {}) }),
  });
  const harness = new StageHarness(infra.natsUrl, infra.envName);
  await harness.start();
  return {
    infra,
    runtime,
    harness,
    api: new Api(() => runtime, infra),
    natsProxy,
    close: async () => {
      await harness.stop();
      await runtime.close();
      await natsProxy?.stop();
      await infra.cleanup();
    },
  };
}
