import { randomUUID } from "node:crypto";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
} from "@nats-io/jetstream";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import {
  AppCreated,
  DeploymentFinished,
  DeploymentStarted,
  DeploymentWaiting,
  IterationCreated,
  messageSubject,
  ProceedIterationReply,
  RPC,
  rpcSubject,
  RpcReply,
  StageCompleted,
  StageRequested,
  streamName,
  type AppSnapshot,
  type MessageData,
  type MessageDefinition,
  type PhaseStage,
  type ProceedIterationRequest,
} from "@procode/contracts";

export type StageRequest = MessageData<typeof StageRequested>;

/** What the runner does with one stage request (first delivery of an attempt). */
export type Answer =
  | { outcome: "SUCCESS"; output?: Record<string, unknown> }
  | { outcome: "FAILED"; error?: string; output?: Record<string, unknown> }
  | { deploy: "SUCCESS" | "FAILED" | "TIMEOUT"; startedFirst?: boolean }
  | { deploy: "START_ONLY" }
  | { deploy: "WAITING" }
  | "silent";

const OUTPUTS: Record<Exclude<PhaseStage, "DEPLOY">, Record<string, unknown>> = {
  CODE_CHECK: { commitId: "abc123", checks: [{ name: "requirements", passed: true, message: "ok" }] },
  BUILD: { dockerfile: "FROM python:3.12-slim\n" },
  PACKAGE: { image: "registry.local/app:v1.0.0" },
  QUALITY_GATE: { reportId: 1, verdict: "PASS", passRate: 1, cases: 6, passed: 6, newlyFailing: [] },
};

/**
 * Plays the stage runners and ops-gateway over real NATS: consumes `stage.requested.v1.*` in the
 * test's environment and answers with `stage.completed.v1` or the `ops.deployment_*` events, as the
 * test's `behaviour` says. Idempotent per (pipelineId, stage, attempt), as the real runners are: a
 * re-published request gets the same answer again.
 */
export class StageHarness {
  nc!: NatsConnection;
  readonly requests: StageRequest[] = [];
  readonly events: { type: string; data: any }[] = [];
  private messages: ConsumerMessages | undefined;
  private sub: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private readonly decided = new Map<string, Answer>();
  behaviour: (req: StageRequest, repeat: number) => Answer = (req) =>
    req.stage === "DEPLOY" ? { deploy: "SUCCESS" } : { outcome: "SUCCESS" };
  /** How long the "work" of a request takes before its answer is published (0: at once). */
  delayMs: (req: StageRequest) => number = () => 0;

  constructor(
    private readonly natsUrl: string,
    readonly env: string,
    private readonly durable = "test-runner",
  ) {}

  async start(): Promise<void> {
    this.nc = await connect({ servers: this.natsUrl });
    const jsm = await jetstreamManager(this.nc);
    const stream = streamName(this.env, "STAGE");
    await jsm.consumers.add(stream, {
      durable_name: this.durable,
      filter_subject: messageSubject(this.env, StageRequested.type, "*"),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await jetstream(this.nc).consumers.get(stream, this.durable);
    this.messages = await consumer.consume({ max_messages: 200 });
    this.sub = this.nc.subscribe(`${this.env}.pipeline.>`, {
      callback: (_err, msg) => {
        const m = msg.json<{ type: string; data: any }>();
        this.events.push({ type: m.type, data: m.data });
      },
    });
    this.loop = (async () => {
      for await (const m of this.messages!) {
        const req = StageRequested.envelope.parse(m.json()).data;
        this.requests.push(req);
        const delay = this.delayMs(req);
        if (delay > 0) setTimeout(() => void this.answer(req).catch(() => undefined), delay);
        else await this.answer(req).catch(() => undefined);
        m.ack();
      }
    })();
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
    this.sub?.unsubscribe();
    await this.nc?.close();
  }

  private async answer(req: StageRequest): Promise<void> {
    const key = `${req.pipelineId}:${req.stage}:${req.attempt}`;
    const repeat = this.requests.filter(
      (r) => r.pipelineId === req.pipelineId && r.stage === req.stage && r.attempt === req.attempt,
    ).length;
    let answer = this.decided.get(key);
    if (!answer || answer === "silent") {
      answer = this.behaviour(req, repeat);
      this.decided.set(key, answer);
    }
    if (answer === "silent") return;
    if ("outcome" in answer) {
      await this.completed(req.pipelineId, req.stage, req.attempt, answer.outcome, {
        output:
          answer.outcome === "SUCCESS"
            ? (answer.output ?? OUTPUTS[req.stage as "BUILD"])
            : (answer.output ?? null),
        error: answer.outcome === "FAILED" ? (answer.error ?? `${req.stage} broke`) : null,
      });
      return;
    }
    const deployId = `deploy-${req.pipelineId}-${req.attempt}`;
    if (answer.deploy === "WAITING") {
      await this.publish(DeploymentWaiting, {
        pipelineId: req.pipelineId,
        attempt: req.attempt,
        deployId: null,
        reason: "ops module unreachable",
        since: new Date().toISOString(),
      });
      return;
    }
    if (answer.deploy === "START_ONLY" || answer.startedFirst !== false) {
      await this.started(req.pipelineId, req.attempt, deployId);
    }
    if (answer.deploy !== "START_ONLY")
      await this.finished(req.pipelineId, req.attempt, deployId, answer.deploy);
  }

  async publish<D extends MessageDefinition>(def: D, data: MessageData<D>, suffix?: string): Promise<string> {
    const id = randomUUID();
    const message = {
      id,
      type: def.type,
      version: def.version,
      occurredAt: new Date().toISOString(),
      correlationId: `test-${id.slice(0, 8)}`,
      data,
    };
    await jetstream(this.nc).publish(messageSubject(this.env, def.type, suffix), JSON.stringify(message), {
      msgID: id,
    });
    return id;
  }

  completed(
    pipelineId: number,
    stage: PhaseStage,
    attempt: number,
    outcome: "SUCCESS" | "FAILED",
    extra: { output?: Record<string, unknown> | null; error?: string | null } = {},
  ) {
    const now = new Date().toISOString();
    return this.publish(StageCompleted, {
      pipelineId,
      stage,
      attempt,
      outcome,
      output: extra.output ?? (outcome === "SUCCESS" ? (OUTPUTS[stage as "BUILD"] ?? null) : null),
      error: outcome === "FAILED" ? { message: extra.error ?? "failed", retryable: true } : null,
      startedAt: now,
      finishedAt: now,
    });
  }

  started(pipelineId: number, attempt: number, deployId: string) {
    return this.publish(DeploymentStarted, {
      pipelineId,
      attempt,
      deployId,
      deadline: new Date(Date.now() + 1800_000).toISOString(),
    });
  }

  finished(
    pipelineId: number,
    attempt: number,
    deployId: string,
    outcome: "SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED",
  ) {
    return this.publish(DeploymentFinished, {
      pipelineId,
      attempt,
      deployId,
      outcome,
      message: outcome === "SUCCESS" ? "deployed" : `deployment ${outcome.toLowerCase()}`,
      via: "CALLBACK",
      finishedAt: new Date().toISOString(),
    });
  }

  /** dev-svc's side: an iteration was created. */
  iterationCreated(iterationId: number, appId: number, team = "t1") {
    return this.publish(IterationCreated, {
      iterationId,
      appId,
      team,
      name: `it-${iterationId}`,
      sourceBranch: "main",
      actor: { sub: "alice", team },
    });
  }

  /** app-svc's side: an app with its pipeline settings. */
  appCreated(
    appId: number,
    procode: Partial<NonNullable<AppSnapshot["procode"]>> = {},
    revision = 1,
    team = "t1",
  ) {
    return this.publish(AppCreated, {
      appId,
      team,
      name: `app-${appId}`,
      devMode: "pro-code",
      techStack: "python",
      revision,
      createdBy: "alice",
      updatedAt: new Date().toISOString(),
      procode: {
        gitRepoUrl: "https://git.example.com/a.git",
        gitType: "GITLAB",
        credentialId: null,
        scaffoldTemplate: null,
        webhookUrl: "https://platform.example.com/webhook/x",
        webhookSecret: { keyId: "k1", ciphertext: "c2VjcmV0" },
        credentialRequired: false,
        stageConfigs: {},
        phases: ["DEVELOPING", "TESTING", "STAGING", "RELEASE"],
        concurrency: "QUEUE",
        deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
        ...procode,
      },
    });
  }

  /** dev-svc's PROCEED_ITERATION request; resolves to the reply (ok or error). */
  async proceed(data: ProceedIterationRequest, timeoutMs = 5000) {
    const msg = await this.nc.request(
      rpcSubject(this.env, RPC.PROCEED_ITERATION),
      JSON.stringify({ id: randomUUID(), correlationId: `test-rpc-${randomUUID().slice(0, 8)}`, data }),
      { timeout: timeoutMs },
    );
    return RpcReply(ProceedIterationReply).parse(msg.json());
  }

  eventsOf(type: string, pipelineId?: number) {
    return this.events.filter(
      (e) => e.type === type && (pipelineId === undefined || e.data.pipelineId === pipelineId),
    );
  }
}
