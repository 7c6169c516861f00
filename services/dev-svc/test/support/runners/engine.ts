import {
  messageSubject,
  PHASE_STAGE_DEFAULTS,
  StageCompleted,
  StageRequested,
  StageWaiting,
  type MessageData,
  type MessageOf,
  type StageInputs,
} from "@procode/contracts";
import { ConsumerGroup, createLogger, createMetrics, NatsHandle, Outbox } from "@procode/service-kit";
import { eventually, type TestInfra } from "@procode/test-kit";

export type RunnerStage = "CODE_CHECK" | "BUILD" | "PACKAGE" | "QUALITY_GATE";
export type StageResultMessage = MessageOf<typeof StageCompleted>;

export interface StageRequestSpec {
  pipelineId: number;
  stage: RunnerStage;
  appId: number;
  attempt?: number;
  tag?: string;
  inputs?: StageInputs;
  iterationPhaseId?: number;
  /** Over the stage's defaults (QUALITY_GATE: `gate`, `judgeUrl`). */
  stageConfig?: Record<string, unknown>;
}

/**
 * The pipeline-engine's side of the stage runners, over real NATS on the test's env prefix: publishes
 * `stage.requested.v1.<STAGE>` as the engine does (a re-publish is the same data under a new message
 * id) and reads every `stage.completed.v1` and `stage.waiting.v1` with durable consumers.
 */
export class StageEngine {
  readonly results: StageResultMessage[] = [];
  /** Each waiting (reason) and going on (null) a runner reported, as it arrived. */
  readonly waitings: MessageData<typeof StageWaiting>[] = [];
  private consumers: ConsumerGroup | undefined;

  private constructor(private readonly nats: NatsHandle) {}

  static async connect(infra: TestInfra): Promise<StageEngine> {
    const log = createLogger({ name: "pipeline-engine", level: "silent" });
    const nats = await NatsHandle.connect({
      url: infra.natsUrl,
      name: "engine-under-test",
      env: infra.envName,
      log,
    });
    const engine = new StageEngine(nats);
    engine.consumers = new ConsumerGroup(nats, log, createMetrics("pipeline-engine")).add({
      durable: "engine-under-test",
      def: StageCompleted,
      handle: async (message) => {
        engine.results.push(message);
      },
    });
    engine.consumers.add({
      durable: "engine-under-test-waiting",
      def: StageWaiting,
      handle: async (message) => {
        engine.waitings.push(message.data);
      },
    });
    await engine.consumers.start();
    return engine;
  }

  /** Publishes one stage request (call again with the same spec to re-publish it). */
  async request(r: StageRequestSpec): Promise<string> {
    const data: MessageData<typeof StageRequested> = {
      pipelineId: r.pipelineId,
      stage: r.stage,
      attempt: r.attempt ?? 1,
      appId: r.appId,
      team: "team-a",
      iterationId: 1,
      iterationPhaseId: r.iterationPhaseId ?? 1,
      tag: r.tag ?? "v1.0.0",
      rollback: false,
      stageConfig: { ...PHASE_STAGE_DEFAULTS[r.stage], ...r.stageConfig },
      inputs: r.inputs ?? {},
    };
    const message = Outbox.envelope(StageRequested, data, `corr-${r.pipelineId}-${r.stage}`);
    await this.nats.js.publish(
      messageSubject(this.nats.env, StageRequested.type, r.stage),
      JSON.stringify(message),
      {
        msgID: message.id,
      },
    );
    return message.id;
  }

  of(pipelineId: number, stage: RunnerStage, attempt = 1): StageResultMessage[] {
    return this.results.filter(
      (m) => m.data.pipelineId === pipelineId && m.data.stage === stage && m.data.attempt === attempt,
    );
  }

  /** The first result of an attempt. */
  async result(pipelineId: number, stage: RunnerStage, attempt = 1, timeoutMs = 20_000) {
    const m = await eventually(
      () => this.of(pipelineId, stage, attempt)[0],
      `${stage} result of pipeline ${pipelineId} attempt ${attempt}`,
      timeoutMs,
    );
    return m.data;
  }

  /** Requests an attempt and waits for its result. */
  async run(r: StageRequestSpec, timeoutMs?: number) {
    await this.request(r);
    return this.result(r.pipelineId, r.stage, r.attempt ?? 1, timeoutMs);
  }

  async close(): Promise<void> {
    await this.consumers?.stop();
    await this.nats.close();
  }
}

let nextPipeline = Math.floor(Math.random() * 1e6) + 1000;
export const newPipelineId = () => nextPipeline++;
