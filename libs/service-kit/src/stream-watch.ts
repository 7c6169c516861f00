import { STREAMS, STREAM_MAX_AGE_MS } from "@procode/contracts";
import type { Logger } from "./logger.js";
import type { NatsHandle, StreamInstance } from "./nats.js";
import { PollLoop } from "./poll-loop.js";
import type { Database } from "./sql.js";

export interface StreamWatchOptions {
  db: Database;
  nats: NatsHandle;
  schema: string;
  log: Logger;
  /** How often the streams are looked at (also at once after every reconnection to NATS). */
  intervalMs: number;
}

/**
 * Events published before a stream was lost are published again (STACK.md: a JetStream ack is not
 * proof of durability; everything on JetStream must be re-publishable from PostgreSQL).
 *
 * The service records, per stream, the creation time JetStream reports (`outbox_stream`). When a
 * stream's creation time changes, the stream was created anew (its store was wiped, or it was
 * deleted) and whatever this service published to the old one may never have been read. Those
 * outbox rows (the ones published between the old stream's creation and the new one's, with
 * `CLOCK_MARGIN` on both sides for the clocks of NATS and PostgreSQL) are marked unpublished, and the
 * outbox poller publishes them again, oldest first. Consumers are idempotent (inbox or natural keys),
 * so a re-published event that had been read changes nothing. What the outbox has purged (after its
 * retention, a week) cannot be re-published.
 *
 * The look is cheap (one stream info per stream); the re-publication scans the outbox and happens only
 * when a stream was lost. Replicas of one service share the record: the first to see the change
 * re-publishes, under a row lock.
 */
export class StreamWatch {
  private readonly table: string;
  private readonly outbox: string;
  private readonly loop: PollLoop;
  private lastCheck = 0;
  private seenReconnects: number;

  /** Clocks of NATS and PostgreSQL may differ; the window of re-published rows is widened by this. */
  static readonly CLOCK_MARGIN = "10 seconds";

  constructor(private readonly opts: StreamWatchOptions) {
    this.table = `"${opts.schema}".outbox_stream`;
    this.outbox = `"${opts.schema}".outbox`;
    this.seenReconnects = opts.nats.reconnects;
    this.loop = new PollLoop({
      name: "stream watch",
      intervalMs: Math.min(1000, opts.intervalMs),
      log: opts.log,
      tick: () => this.checkIfDue(),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Checks when the interval has passed or NATS reconnected since the last look. */
  private async checkIfDue(): Promise<boolean> {
    const { nats, intervalMs } = this.opts;
    const reconnected = nats.reconnects !== this.seenReconnects;
    if (!nats.connected || (!reconnected && Date.now() - this.lastCheck < intervalMs)) return false;
    this.seenReconnects = nats.reconnects;
    this.lastCheck = Date.now();
    try {
      await this.check();
    } catch (err) {
      // Look again in two seconds rather than a whole interval later.
      this.lastCheck = Date.now() - intervalMs + 2000;
      throw err;
    }
    return false;
  }

  /** Looks at every stream (re-creating missing ones); returns how many events are to be re-published. */
  async check(): Promise<number> {
    const streams = await this.opts.nats.ensureStreams();
    let total = 0;
    for (const s of streams) total += await this.compare(s);
    return total;
  }

  private async compare(s: StreamInstance): Promise<number> {
    return this.opts.db.transaction(async (sql) => {
      const { rows } = await sql.query<{ created: string }>(
        `select created from ${this.table} where stream = $1 for update`,
        [s.name],
      );
      const known = rows[0]?.created;
      if (known === s.created) return 0;
      if (known === undefined) {
        // First sight of this stream (a new installation, or a service that is new to it).
        await sql.query(
          `insert into ${this.table} (stream, created) values ($1, $2) on conflict (stream) do nothing`,
          [s.name, s.created],
        );
        return 0;
      }
      await sql.query(`update ${this.table} set created = $1, changed_at = now() where stream = $2`, [
        s.created,
        s.name,
      ]);
      const prefix = `${this.opts.nats.env}.${STREAMS[s.key]}.`;
      // Only what the stream would still hold: live events older than their hour stay gone.
      const res = await sql.query(
        `update ${this.outbox} set published_at = null
         where published_at >= $1::timestamptz - interval '${StreamWatch.CLOCK_MARGIN}'
           and published_at < $2::timestamptz + interval '${StreamWatch.CLOCK_MARGIN}'
           and published_at >= now() - $5 * interval '1 millisecond'
           and left(subject, $3) = $4`,
        [known, s.created, prefix.length, prefix, STREAM_MAX_AGE_MS[s.key]],
      );
      this.opts.log.warn(
        { stream: s.name, previous: known, created: s.created, republish: res.rowCount },
        "stream was created anew (JetStream lost it): publishing its events again from the outbox",
      );
      return res.rowCount;
    });
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
