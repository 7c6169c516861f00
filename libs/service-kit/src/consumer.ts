import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { messageSubject, streamName, type MessageDefinition, type MessageOf } from "@procode/contracts";
import { withCorrelation, type Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { NatsHandle } from "./nats.js";
import { backoffDelay } from "./backoff.js";
import { errorMessage, Semaphore, sleep } from "./util.js";

/** Thrown by a handler for a transient failure or a message that arrived too early: nak with delay. */
export class RetryLaterError extends Error {
  override name = "RetryLaterError";
  constructor(
    message: string,
    readonly delayMs = 1000,
  ) {
    super(message);
  }
}

export interface HandlerContext {
  log: Logger;
  messageId: string;
  correlationId: string;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Tells JetStream the message is still being worked on (also sent automatically). */
  working(): void;
}

/**
 * What a handler did: "done" (effect applied), "duplicate" (already processed) or "ignored" (no
 * longer applicable). All three are acked; the result is counted and logged.
 */
export type HandlerResult = void | "done" | "duplicate" | "ignored";

export interface ConsumerSpec<D extends MessageDefinition> {
  /** Durable consumer name, unique in the stream (e.g. "pipeline-engine.stage-completed"). */
  durable: string;
  def: D;
  /** For per-stage commands: the stage to receive ("*" for all). */
  suffix?: string;
  /** Messages handled at once (bounded concurrency). */
  concurrency?: number;
  /** Redelivery if neither acked nor reported working within this time. */
  ackWaitMs?: number;
  handle(message: MessageOf<D>, ctx: HandlerContext): Promise<HandlerResult>;
}

interface Running {
  spec: ConsumerSpec<MessageDefinition>;
  sem: Semaphore;
  messages?: ConsumerMessages;
  loop?: Promise<void>;
}

/**
 * The service's JetStream consumers: durable, explicit ack, bounded concurrency, one bad message
 * never stops the loop. Unparseable -> term; handled/duplicate/ignored -> ack; RetryLaterError -> nak
 * with its delay; any other error -> nak with increasing delay (never dropped). Re-creates its
 * stream and consumer when they disappear (e.g. the JetStream store was lost).
 */
export class ConsumerGroup {
  private readonly running: Running[] = [];
  private stopping = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly nats: NatsHandle,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  add<D extends MessageDefinition>(spec: ConsumerSpec<D>): this {
    this.running.push({
      spec: spec,
      sem: new Semaphore(spec.concurrency ?? 8),
    });
    return this;
  }

  /** Ensures every consumer exists, then starts pulling. */
  async start(): Promise<void> {
    for (const r of this.running) await this.ensure(r.spec);
    for (const r of this.running) r.loop = this.run(r);
  }

  private filterOf(spec: ConsumerSpec<MessageDefinition>): string {
    const suffix = spec.suffix ?? (spec.def.perStage ? "*" : undefined);
    return messageSubject(this.nats.env, spec.def.type, suffix);
  }

  private async ensure(spec: ConsumerSpec<MessageDefinition>): Promise<void> {
    const stream = streamName(this.nats.env, spec.def.stream);
    const config = {
      durable_name: spec.durable,
      filter_subject: this.filterOf(spec),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(spec.ackWaitMs ?? 30000),
      max_deliver: -1,
      max_ack_pending: 1000,
    };
    try {
      await this.nats.jsm.consumers.info(stream, spec.durable);
      await this.nats.jsm.consumers.update(stream, spec.durable, {
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
      });
    } catch (err) {
      if (/stream not found/i.test(errorMessage(err))) await this.nats.ensureStreams();
      await this.nats.jsm.consumers.add(stream, config);
      this.log.info({ consumer: spec.durable, stream }, "consumer created");
    }
  }

  private async run(r: Running): Promise<void> {
    const { spec } = r;
    const stream = streamName(this.nats.env, spec.def.stream);
    let failures = 0;
    while (!this.stopping) {
      try {
        if (failures > 0) await this.ensure(spec);
        const consumer = await this.nats.js.consumers.get(stream, spec.durable);
        const messages = await consumer.consume({ max_messages: Math.max(10, (spec.concurrency ?? 8) * 4) });
        r.messages = messages;
        void this.watch(spec, messages);
        failures = 0;
        for await (const m of messages) {
          await r.sem.acquire();
          void this.process(spec, m).finally(() => r.sem.release());
          if (this.stopping) break;
        }
      } catch (err) {
        if (this.stopping) break;
        failures++;
        this.log.warn({ consumer: spec.durable, err: errorMessage(err) }, "consumer interrupted; restarting");
      }
      if (!this.stopping) await sleep(backoffDelay(Math.max(1, failures), 500, 10000), this.abort.signal);
      failures = Math.max(failures, 1);
    }
  }

  /** Restarts the pull loop when the consumer or its stream is gone. */
  private async watch(spec: ConsumerSpec<MessageDefinition>, messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of messages.status()) {
        if (
          s.type === "consumer_deleted" ||
          s.type === "consumer_not_found" ||
          s.type === "stream_not_found"
        ) {
          this.log.warn({ consumer: spec.durable, status: s.type }, "consumer lost; re-creating");
          await messages.close();
          return;
        }
      }
    } catch {
      // the iterator ended with the messages
    }
  }

  private async process(spec: ConsumerSpec<MessageDefinition>, m: JsMsg): Promise<void> {
    const name = spec.durable;
    let raw: unknown;
    try {
      raw = m.json();
    } catch {
      this.log.error({ consumer: name, subject: m.subject }, "message is not JSON; terminating it");
      this.metrics.messagesHandled.labels(name, "term").inc();
      // No reason on the wire: nats-server 2.9 ignores `+TERM <reason>`, and the message would come
      // back after ack_wait forever. The reason is in the log line above.
      return m.term();
    }
    const parsed = spec.def.envelope.safeParse(raw);
    if (!parsed.success) {
      this.log.error(
        { consumer: name, subject: m.subject, issues: parsed.error.issues.slice(0, 5) },
        "message does not match its contract; terminating it",
      );
      this.metrics.messagesHandled.labels(name, "term").inc();
      return m.term();
    }
    const message = parsed.data;
    const log = withCorrelation(this.log, message.correlationId, { consumer: name, messageId: message.id });
    const ackWait = spec.ackWaitMs ?? 30000;
    const heartbeat = setInterval(() => m.working(), Math.max(1000, Math.floor(ackWait / 3)));
    try {
      const result = await spec.handle(message, {
        log,
        messageId: message.id,
        correlationId: message.correlationId,
        deliveryCount: m.info.deliveryCount,
        working: () => m.working(),
      });
      // With the publishes of the handler's commit, in one write (`atTurnEnd`).
      this.nats.atTurnEnd(() => m.ack());
      const label = result === "duplicate" || result === "ignored" ? result : "ack";
      this.metrics.messagesHandled.labels(name, label).inc();
      if (label !== "ack") log.debug({ result: label }, "message acknowledged without effect");
    } catch (err) {
      if (err instanceof RetryLaterError) {
        log.info({ reason: err.message, delayMs: err.delayMs }, "message deferred");
        m.nak(err.delayMs);
      } else {
        const delay = backoffDelay(m.info.deliveryCount, 500, 60000);
        log.error(
          { err, delivery: m.info.deliveryCount, delayMs: delay },
          "message handling failed; will redeliver",
        );
        m.nak(delay);
      }
      this.metrics.messagesHandled.labels(name, "nak").inc();
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Stops pulling and waits for the messages in hand to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await Promise.allSettled(this.running.map((r) => r.messages?.close() ?? Promise.resolve()));
    await Promise.allSettled(this.running.map((r) => r.loop ?? Promise.resolve()));
    await Promise.allSettled(this.running.map((r) => r.sem.idle()));
  }
}
