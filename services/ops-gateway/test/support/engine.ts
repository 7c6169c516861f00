import { createHmac, randomUUID } from "node:crypto";
import { AckPolicy, DeliverPolicy, type ConsumerMessages } from "@nats-io/jetstream";
import {
  DeploymentCancelRequested,
  DeploymentFinished,
  DeploymentStarted,
  DeploymentWaiting,
  messageSubject,
  OPS_SIGNATURE_HEADER,
  OPS_TIMESTAMP_HEADER,
  StageRequested,
  streamName,
  type MessageData,
  type MessageOf,
} from "@procode/contracts";
import { createLogger, NatsHandle, Outbox } from "@procode/service-kit";
import { eventually, outboxDrained, sql, type TestInfra } from "@procode/test-kit";

export type OpsEvent =
  | MessageOf<typeof DeploymentStarted>
  | MessageOf<typeof DeploymentWaiting>
  | MessageOf<typeof DeploymentFinished>;

const DEFS = [DeploymentStarted, DeploymentWaiting, DeploymentFinished] as const;

export interface DeployRequest {
  pipelineId: number;
  attempt?: number;
  appId: number;
  image?: string | null;
  pollInterval?: number;
  pollTimeout?: number;
  correlationId?: string;
}

/**
 * The engine's side of the conversation, over real NATS: publishes DEPLOY stage requests and cancel
 * commands on the test's env prefix, and reads every `ops.deployment_*` event with a durable consumer.
 */
export class EngineSide {
  readonly events: OpsEvent[] = [];
  private readonly sentinels = new Set<string>();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  private constructor(
    private readonly nats: NatsHandle,
    private readonly databaseUrl: string,
  ) {}

  static async connect(infra: TestInfra): Promise<EngineSide> {
    const nats = await NatsHandle.connect({
      url: infra.natsUrl,
      name: "engine-under-test",
      env: infra.envName,
      log: createLogger({ name: "pipeline-engine", level: "silent" }),
    });
    const engine = new EngineSide(nats, infra.databaseUrl);
    const stream = streamName(infra.envName, "OPS");
    await nats.jsm.consumers.add(stream, {
      durable_name: "engine-under-test",
      filter_subject: `${infra.envName}.ops.>`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await nats.js.consumers.get(stream, "engine-under-test");
    engine.messages = await consumer.consume();
    engine.loop = (async () => {
      for await (const m of engine.messages!) {
        const raw = m.json<{ type: string; id: string }>();
        if (m.subject === engine.sentinelSubject) {
          engine.sentinels.add(raw.id);
          m.ack();
          continue;
        }
        const def = DEFS.find((d) => d.type === raw.type);
        if (!def) throw new Error(`unexpected message ${raw.type}`);
        engine.events.push(def.envelope.parse(raw));
        m.ack();
      }
    })();
    return engine;
  }

  async requestDeploy(r: DeployRequest): Promise<string> {
    const data: MessageData<typeof StageRequested> = {
      pipelineId: r.pipelineId,
      stage: "DEPLOY",
      attempt: r.attempt ?? 1,
      appId: r.appId,
      team: "team-a",
      iterationId: 1,
      iterationPhaseId: 1,
      tag: "v1.0.0",
      rollback: false,
      stageConfig: {
        driveMode: "ASYNC",
        retryMode: "MANUAL",
        maxRetries: 0,
        pollInterval: r.pollInterval ?? 1,
        pollTimeout: r.pollTimeout ?? 60,
      },
      inputs:
        r.image === null ? {} : { PACKAGE: { image: r.image ?? `registry.local/app-${r.appId}:v1.0.0` } },
      deployConfig: { env: { MODE: "test" }, resources: { cpu: "500m", memory: "512Mi" } },
    };
    const message = Outbox.envelope(StageRequested, data, r.correlationId ?? `corr-${r.pipelineId}`);
    await this.nats.js.publish(
      messageSubject(this.nats.env, StageRequested.type, "DEPLOY"),
      JSON.stringify(message),
      {
        msgID: message.id,
      },
    );
    return message.id;
  }

  async requestCancel(pipelineId: number, attempt: number, deployId: string | null): Promise<void> {
    const message = Outbox.envelope(
      DeploymentCancelRequested,
      { pipelineId, attempt, deployId, reason: "cancelled by the test" },
      `cancel-${pipelineId}`,
    );
    await this.nats.js.publish(
      messageSubject(this.nats.env, DeploymentCancelRequested.type),
      JSON.stringify(message),
      {
        msgID: message.id,
      },
    );
  }

  private get sentinelSubject(): string {
    return `${this.nats.env}.ops.test-sentinel`;
  }

  /**
   * Returns once nothing more can arrive for these pipelines: every deployment of them has ended,
   * has no cancel to deliver to ops and no step in flight (no live lease), every ops-gateway event
   * is published (its outbox is drained), and a sentinel published on the stream after those
   * events came through (JetStream delivers a stream in order). What `events` holds then is all
   * there is, with no sleeping.
   */
  async settle(pipelineIds: number[], timeoutMs = 20_000): Promise<void> {
    await eventually(
      async () =>
        (
          await sql(
            this.databaseUrl,
            `select 1 from ops.deployment where pipeline_id = any($1::int[])
               and (status in ('CREATING', 'DEPLOYING') or cancel_state = 'PENDING' or lease_until > now())
             limit 1`,
            [pipelineIds],
          )
        ).length === 0,
      `deployments of pipelines ${pipelineIds.join(", ")} ended, with no step in flight`,
      timeoutMs,
    );
    await outboxDrained(this.databaseUrl, "ops", timeoutMs);
    const id = randomUUID();
    await this.nats.js.publish(this.sentinelSubject, JSON.stringify({ id }));
    await eventually(() => this.sentinels.has(id), "the sentinel after ops-gateway's events", timeoutMs);
  }

  of(pipelineId: number, attempt = 1): OpsEvent[] {
    return this.events.filter((e) => e.data.pipelineId === pipelineId && e.data.attempt === attempt);
  }

  started(pipelineId: number, attempt = 1) {
    return this.of(pipelineId, attempt).filter(
      (e): e is MessageOf<typeof DeploymentStarted> => e.type === DeploymentStarted.type,
    );
  }

  waiting(pipelineId: number, attempt = 1) {
    return this.of(pipelineId, attempt).filter(
      (e): e is MessageOf<typeof DeploymentWaiting> => e.type === DeploymentWaiting.type,
    );
  }

  finished(pipelineId: number, attempt = 1) {
    return this.of(pipelineId, attempt).filter(
      (e): e is MessageOf<typeof DeploymentFinished> => e.type === DeploymentFinished.type,
    );
  }

  /** The deployId once the deployment started. */
  async whenStarted(pipelineId: number, timeoutMs = 15_000): Promise<string> {
    const e = await eventually(
      () => this.started(pipelineId)[0],
      `deployment_started of pipeline ${pipelineId}`,
      timeoutMs,
    );
    return e.data.deployId;
  }

  async whenFinished(pipelineId: number, timeoutMs = 15_000) {
    return eventually(
      () => this.finished(pipelineId)[0],
      `deployment_finished of pipeline ${pipelineId}`,
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    await this.messages?.close();
    await this.loop?.catch(() => {});
    await this.nats.close();
  }
}

/** Headers of a callback signed as the ops module signs it, computed here independently. */
export function signedHeaders(secret: string, raw: string, timestamp = Math.floor(Date.now() / 1000)) {
  const hex = createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex");
  return {
    "content-type": "application/json",
    [OPS_TIMESTAMP_HEADER]: String(timestamp),
    [OPS_SIGNATURE_HEADER]: `sha256=${hex}`,
  };
}

export function callbackBody(deployId: string, status: string, message = "") {
  return JSON.stringify({ deployId, status, message, timestamp: new Date().toISOString() });
}
