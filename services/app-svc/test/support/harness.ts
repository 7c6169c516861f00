import {
  createLogger,
  KeyRing,
  NatsHandle,
  signToken,
  startRuntime,
  type ServiceRuntime,
} from "@procode/service-kit";
import { randomUUID } from "node:crypto";
import { eventually, outboxDrained, serviceEnv, type TestInfra } from "@procode/test-kit";
import {
  messageSubject,
  PhasePipelineStatusChanged,
  streamName,
  type AppSnapshot,
  type MessageData,
} from "@procode/contracts";
import type { Config } from "../../src/config.js";
import { service } from "../../src/app.js";

export type AppRuntime = ServiceRuntime<Config>;

/** Starts app-svc in this process against the file's own database and subject prefix. */
export async function startAppSvc(
  infra: TestInfra,
  extra: Record<string, string> = {},
): Promise<{ runtime: AppRuntime; keyRing: KeyRing; encryptionKeys: string }> {
  const encryptionKeys = extra["ENCRYPTION_KEYS"] ?? KeyRing.generateSpec("test1");
  const runtime = await startRuntime(service, {
    env: serviceEnv(infra, {
      // Refusals are logged at warn; keep test output to real failures unless asked.
      LOG_LEVEL: process.env["TEST_LOG_LEVEL"] ?? "error",
      ENCRYPTION_KEYS: encryptionKeys,
      ...extra,
    }),
  });
  return { runtime, keyRing: new KeyRing(encryptionKeys), encryptionKeys };
}

export function tokenFor(infra: TestInfra, team: string, sub = `${team}-user`): Promise<string> {
  return signToken({ sub, team }, infra.jwtSecret);
}

export interface InjectResult<T = any> {
  status: number;
  body: { code: number; message: string; data: T };
}

/** A request through the service's real HTTP stack (routing, auth, validation, serialization). */
export async function call<T = any>(
  runtime: AppRuntime,
  token: string | null,
  method: "GET" | "POST" | "PUT",
  url: string,
  payload?: unknown,
): Promise<InjectResult<T>> {
  const res = await runtime.deps.app.inject({
    method,
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  return { status: res.statusCode, body: res.json() };
}

export interface ReceivedEvent {
  subject: string;
  type: string;
  id: string;
  correlationId: string;
  data: AppSnapshot;
}

/**
 * A durable JetStream consumer on the app stream of the test's environment, on its own connection:
 * what dev-svc and pipeline-engine would receive. Every message is recorded and acked.
 */
export class EventTap {
  readonly received: ReceivedEvent[] = [];
  private loop: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private readonly nats: NatsHandle,
    private readonly stream: string,
    private readonly durable: string,
    private readonly databaseUrl: string,
  ) {}

  static async start(infra: TestInfra, durable: string): Promise<EventTap> {
    const nats = await NatsHandle.connect({
      url: infra.natsUrl,
      name: `test-${durable}`,
      env: infra.envName,
      log: createLogger({ name: "event-tap", level: "warn" }),
    });
    const stream = streamName(infra.envName, "APP");
    await nats.jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: "explicit",
      deliver_policy: "all",
      filter_subject: `${infra.envName}.app.>`,
      ack_wait: 5_000_000_000,
    });
    const tap = new EventTap(nats, stream, durable, infra.databaseUrl);
    tap.loop = tap.run();
    return tap;
  }

  private async run(): Promise<void> {
    const consumer = await this.nats.js.consumers.get(this.stream, this.durable);
    while (!this.stopped) {
      const batch = await consumer.fetch({ max_messages: 100, expires: 1000 });
      for await (const m of batch) {
        const parsed = m.json<Omit<ReceivedEvent, "subject">>();
        this.received.push({ ...parsed, subject: m.subject });
        m.ack();
      }
    }
  }

  /**
   * Returns once every event app-svc committed so far has arrived: its outbox is fully published,
   * and a sentinel published on the stream after those events came through this tap (JetStream
   * delivers a stream in order). What the tap holds then is all there is, no sleeping.
   */
  async settle(): Promise<void> {
    await outboxDrained(this.databaseUrl, "app");
    const id = randomUUID();
    await this.nats.js.publish(`${this.nats.env}.app.test-sentinel`, JSON.stringify({ id, data: {} }));
    await eventually(() => this.received.some((e) => e.id === id), "the sentinel after app-svc's events");
  }

  /** The events received so far for one app, in arrival order. */
  forApp(appId: number): ReceivedEvent[] {
    return this.received.filter((e) => e.data.appId === appId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => {});
    await this.nats.close();
  }
}

/** Publishes a phase pipeline's status change as pipeline-engine does (Nats-Msg-Id = event id). */
export async function publishPhaseStatus(
  svc: AppRuntime,
  infra: TestInfra,
  data: Partial<MessageData<typeof PhasePipelineStatusChanged>> & { appId: number },
  opts: { id?: string; msgId?: string } = {},
): Promise<string> {
  const id = opts.id ?? randomUUID();
  const message = {
    id,
    type: PhasePipelineStatusChanged.type,
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: `test-${id}`,
    data: {
      pipelineId: 10,
      parentId: 3,
      iterationId: 4,
      iterationPhaseId: 5,
      status: "RUNNING",
      state: "CODE_CHECK",
      failedStage: null,
      error: null,
      rollback: false,
      sequence: 1,
      ...data,
    },
  };
  const subject = messageSubject(infra.envName, PhasePipelineStatusChanged.type);
  await svc.deps.nats.js.publish(subject, JSON.stringify(message), { msgID: opts.msgId ?? id });
  return id;
}
