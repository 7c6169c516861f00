import { STREAMS } from "@procode/contracts";
import type { Logger } from "./logger.js";
import type { NatsHandle, StreamInstance } from "./nats.js";
import type { Orm } from "./orm.js";
import { errorMessage, sleep } from "./util.js";

export interface StreamWatchOptions {
  orm: Orm;
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
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();

  /** Clocks of NATS and PostgreSQL may differ; the window of re-published rows is widened by this. */
  static readonly CLOCK_MARGIN = "10 seconds";

  constructor(private readonly opts: StreamWatchOptions) {
    this.table = `"${opts.schema}".outbox_stream`;
    this.outbox = `"${opts.schema}".outbox`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let lastCheck = 0;
    let seenReconnects = this.opts.nats.reconnects;
    while (!this.stopping) {
      const reconnected = this.opts.nats.reconnects !== seenReconnects;
      if (this.opts.nats.connected && (reconnected || Date.now() - lastCheck >= this.opts.intervalMs)) {
        seenReconnects = this.opts.nats.reconnects;
        lastCheck = Date.now();
        try {
          await this.check();
        } catch (err) {
          this.opts.log.warn({ err: errorMessage(err) }, "could not check the streams");
          lastCheck = Date.now() - this.opts.intervalMs + 2000;
        }
      }
      await sleep(Math.min(1000, this.opts.intervalMs), this.abort.signal);
    }
  }

  /** Looks at every stream (re-creating missing ones); returns how many events are to be re-published. */
  async check(): Promise<number> {
    const streams = await this.opts.nats.ensureStreams();
    let total = 0;
    for (const s of streams) total += await this.compare(s);
    return total;
  }

  private async compare(s: StreamInstance): Promise<number> {
    return this.opts.orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<{ created: string }[]>(
        `select created from ${this.table} where stream = ? for update`,
        [s.name],
        "all",
      );
      const known = rows[0]?.created;
      if (known === s.created) return 0;
      if (known === undefined) {
        // First sight of this stream (a new installation, or a service that is new to it).
        await em.execute(
          `insert into ${this.table} (stream, created) values (?, ?) on conflict (stream) do nothing`,
          [s.name, s.created],
          "run",
        );
        return 0;
      }
      await em.execute(
        `update ${this.table} set created = ?, changed_at = now() where stream = ?`,
        [s.created, s.name],
        "run",
      );
      const prefix = `${this.opts.nats.env}.${STREAMS[s.key]}.`;
      const res = await em.execute<{ affectedRows: number }>(
        `update ${this.outbox} set published_at = null
         where published_at >= ?::timestamptz - interval '${StreamWatch.CLOCK_MARGIN}'
           and published_at < ?::timestamptz + interval '${StreamWatch.CLOCK_MARGIN}'
           and left(subject, ?) = ?`,
        [known, s.created, prefix.length, prefix],
        "run",
      );
      this.opts.log.warn(
        { stream: s.name, previous: known, created: s.created, republish: res.affectedRows },
        "stream was created anew (JetStream lost it): publishing its events again from the outbox",
      );
      return res.affectedRows;
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.loop?.catch(() => {});
  }
}
