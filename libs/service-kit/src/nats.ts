import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { STREAMS, STREAM_MAX_AGE_MS, streamName, streamSubjects, type StreamKey } from "@procode/contracts";
import type { Logger } from "./logger.js";
import { errorMessage, sleep, withTimeout } from "./util.js";

export interface NatsOptions {
  url: string;
  /** Connection name shown by the server (the service name). */
  name: string;
  /** Environment name: prefix of every subject and stream. */
  env: string;
  token?: string;
  user?: string;
  password?: string;
  log: Logger;
  /** How long to keep trying the first connection before giving up. */
  firstConnectTimeoutMs?: number;
}

/** One stream as JetStream reports it: `created` changes when the stream is created anew (a loss). */
export interface StreamInstance {
  key: StreamKey;
  name: string;
  /** The server's creation time of the stream, as it reports it (RFC 3339). */
  created: string;
}

/**
 * Stream settings: limits retention, kept as long as the contracts say (a week; live events an
 * hour), two-minute duplicate window for Nats-Msg-Id.
 */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/**
 * A NATS connection with JetStream, tracked for readiness: `connected` turns false on a disconnect
 * and true again on reconnect, so /readyz reflects an outage within moments.
 */
export class NatsHandle {
  connected = true;
  /** Reconnections so far (a restarted server may have come back without its streams). */
  reconnects = 0;
  private statusLoop: Promise<void>;
  private streamsEnsuredAt = 0;
  /** What goes out at the end of this turn of the event loop (`atTurnEnd`). */
  private turn: (() => void)[] = [];

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly env: string,
    private readonly log: Logger,
  ) {
    this.statusLoop = this.followStatus();
  }

  static async connect(opts: NatsOptions): Promise<NatsHandle> {
    const deadline = Date.now() + (opts.firstConnectTimeoutMs ?? 60000);
    let attempt = 0;
    for (;;) {
      attempt++;
      try {
        const nc = await connect({
          servers: opts.url,
          name: opts.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 5000,
          pingInterval: 5000,
          maxPingOut: 2,
          // No async stack capture per request: it costs about half the CPU of a JetStream publish
          // (three Error objects each), and request errors still name what failed.
          noAsyncTraces: true,
          ...(opts.token ? { token: opts.token } : {}),
          ...(opts.user ? { user: opts.user, pass: opts.password ?? "" } : {}),
        });
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        const handle = new NatsHandle(nc, jetstream(nc, { timeout: 5000 }), jsm, opts.env, opts.log);
        await handle.ensureStreams();
        return handle;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`NATS at ${opts.url} is not reachable: ${errorMessage(err)}`);
        if (attempt === 1 || attempt % 10 === 0) {
          opts.log.warn({ err: errorMessage(err), url: opts.url }, "waiting for NATS");
        }
        await sleep(1000);
      }
    }
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.log.warn("NATS connection lost; reconnecting");
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.reconnects++;
        this.log.info("NATS connection restored");
      }
    }
  }

  /**
   * Creates every missing stream of this environment (idempotent; run at start and after a loss) and
   * returns each stream with its creation time.
   */
  async ensureStreams(): Promise<StreamInstance[]> {
    const found: StreamInstance[] = [];
    for (const key of Object.keys(STREAMS) as StreamKey[]) {
      const name = streamName(this.env, key);
      const config = {
        name,
        subjects: streamSubjects(this.env, key),
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: nanos(STREAM_MAX_AGE_MS[key]),
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        num_replicas: 1,
      };
      let created: string;
      try {
        created = (await this.jsm.streams.info(name)).created;
      } catch {
        try {
          created = (await this.jsm.streams.add(config)).created;
          this.log.info({ stream: name }, "stream created");
        } catch (err) {
          if (!/already in use/i.test(errorMessage(err))) throw err;
          created = (await this.jsm.streams.info(name)).created;
        }
      }
      found.push({ key, name, created });
    }
    this.streamsEnsuredAt = Date.now();
    return found;
  }

  /** Re-creates streams after a JetStream loss, at most every few seconds. */
  async ensureStreamsSoon(): Promise<void> {
    if (Date.now() - this.streamsEnsuredAt < 3000) return;
    this.streamsEnsuredAt = Date.now();
    try {
      await this.ensureStreams();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "could not ensure streams");
    }
  }

  /**
   * Runs `send` (publishes, acknowledgements) at the end of this turn of the event loop, together
   * with everything else sent this way in the turn. The client writes what one synchronous run
   * queues in one socket write, and a write costs more CPU than the messages in it: sent from each
   * I/O callback as it came (a transaction's commit, then the handler's acknowledgement a few
   * promise steps later, another transaction's commit), each went out in a write of its own
   * (docs/performance.md, "Round 2, sixth pass").
   */
  atTurnEnd(send: () => void): void {
    if (this.turn.push(send) === 1) setImmediate(() => this.sendTurn());
  }

  private sendTurn(): void {
    const sends = this.turn;
    this.turn = [];
    for (const send of sends) {
      // The client refuses at once on a closed or draining connection (an ack after a shutdown
      // began): what was not sent comes back by the at-least-once paths (a message not acked is
      // delivered again, an event not published is the outbox poller's), and the turn's other
      // sends still go.
      try {
        send();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, "a NATS send was refused; it will be redone");
      }
    }
  }

  /** Readiness: connected and the server answers a round trip. */
  async ping(): Promise<void> {
    if (!this.connected || this.nc.isClosed()) throw new Error("NATS disconnected");
    await withTimeout(this.nc.flush(), 1500, "NATS");
  }

  /** Drains subscriptions, flushes what is pending and closes. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await withTimeout(this.nc.drain(), 5000, "NATS drain");
    } catch {
      await this.nc.close();
    }
    await this.statusLoop.catch(() => {});
  }
}
