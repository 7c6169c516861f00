import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { liveTeamToken, messageSubject, type MessageDefinition } from "@procode/contracts";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { NatsHandle } from "./nats.js";
import type { Database, Sql, TxSql, WithPart } from "./sql.js";
import { PollLoop } from "./poll-loop.js";
import { errorMessage } from "./util.js";

interface EmitOptions {
  /** Last subject token, for per-stage commands. */
  suffix?: string;
  /** The team a live event belongs to (its subject's last token). */
  team?: string;
  /** Overrides the transaction's correlationId. */
  correlationId?: string;
}

/** What a use case gets inside a transaction of the outbox: emit events, claim messages. */
export interface OutboxContext {
  correlationId: string;
  /** Records a message to publish once this transaction commits; returns its id. */
  emit<D extends MessageDefinition>(def: D, data: z.input<D["data"]>, opts?: EmitOptions): string;
  /**
   * Records that `consumer` processed message `messageId`, in this transaction. False when it
   * already had: the caller then changes nothing (idempotent consumer).
   */
  claim(consumer: string, messageId: string): Promise<boolean>;
}

/** What a use case gets inside `outbox.sqlTransaction`: SQL on the transaction's connection. */
export interface SqlTxContext extends OutboxContext {
  /**
   * The transaction's connection. A statement sent through `sql.last` goes with COMMIT; no message
   * may be emitted after it (`TxSql`).
   */
  sql: TxSql;
  /**
   * The messages emitted so far as an insert for the caller's own statement (a data-modifying
   * `with` part), its parameters numbered from `first`: the transaction then does not insert them
   * itself, one round trip fewer. They are published after the commit like any other. Null when
   * none is waiting.
   */
  takeOutboxInsert: (first: number) => WithPart | null;
}

interface OutboxRow {
  id: string;
  type: string;
  subject: string;
  payload: string;
}

export interface OutboxOptions {
  db: Database;
  nats: NatsHandle;
  schema: string;
  log: Logger;
  metrics: Metrics;
  pollMs: number;
  /** Published rows (and inbox ids) are kept this long, so events can be re-published after a loss. */
  retentionHours?: number;
  publishTimeoutMs?: number;
}

/**
 * Transactional outbox. Events are rows written in the caller's transaction; after commit
 * they are published at once (fast path) with Nats-Msg-Id = event id, and a poller re-publishes
 * whatever the fast path could not (NATS down, process crashed between commit and publish).
 * JetStream drops duplicates within its window and consumers are idempotent beyond it.
 */
export class Outbox {
  private readonly table: string;
  private readonly inbox: string;
  private markQueue: string[] = [];
  private markTimer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private stopping = false;
  private readonly poller: PollLoop;
  private lastPurge = 0;
  private publishFailing = false;

  /** The outbox's own statements (marks, purge): pooled connections. */
  private readonly pool: Sql;

  constructor(private readonly opts: OutboxOptions) {
    this.table = `"${opts.schema}".outbox`;
    this.inbox = `"${opts.schema}".inbox`;
    this.pool = opts.db.sql;
    this.poller = new PollLoop({
      name: "outbox relay",
      intervalMs: opts.pollMs,
      log: opts.log,
      // A backlog: keep going without a pause.
      tick: async () => {
        const published = await this.pollOnce();
        await this.purgeIfDue();
        return published >= 200;
      },
    });
  }

  /** Builds a validated message envelope for `def`. */
  static envelope<D extends MessageDefinition>(
    def: D,
    data: unknown,
    correlationId: string,
    id = randomUUID(),
  ) {
    return def.envelope.parse({
      id,
      type: def.type,
      version: def.version,
      occurredAt: new Date().toISOString(),
      correlationId,
      data,
    }) as z.infer<D["envelope"]>;
  }

  /** emit/claim of one transaction; emitted rows are collected in `rows`. */
  private context(
    sql: Sql,
    correlationId: string,
    rows: OutboxRow[],
    open: () => boolean = () => true,
  ): OutboxContext {
    return {
      correlationId,
      emit: (def, data, opts) => {
        if (!open()) throw new Error(`${def.type} emitted after the transaction's last statement`);
        if (def.perStage && !opts?.suffix) throw new Error(`${def.type} needs a subject suffix (the stage)`);
        if (def.perTeam && opts?.team === undefined) throw new Error(`${def.type} needs the team`);
        const message = Outbox.envelope(def, data, opts?.correlationId ?? correlationId);
        const suffix = def.perTeam ? liveTeamToken(opts!.team!) : opts?.suffix;
        rows.push({
          id: message.id,
          type: def.type,
          subject: messageSubject(this.opts.nats.env, def.type, suffix),
          payload: JSON.stringify(message),
        });
        return message.id;
      },
      claim: async (consumer, messageId) => {
        const res = await sql.query(
          `insert into ${this.inbox} (consumer, message_id) values ($1, $2) on conflict do nothing`,
          [consumer, messageId],
          `inbox-claim:${this.opts.schema}`,
        );
        return res.rowCount === 1;
      },
    };
  }

  /** One parameterized statement: payloads travel as parameters, not escaped into the SQL. */
  /** The insert of `rows`, its parameters numbered from `first`. */
  private insertOf(rows: OutboxRow[], first: number): WithPart {
    const [a, b, c, d] = [first, first + 1, first + 2, first + 3];
    return {
      text: `insert into ${this.table} (id, type, subject, payload)
       select * from unnest($${a}::uuid[], $${b}::text[], $${c}::text[], $${d}::jsonb[])`,
      params: [
        rows.map((r) => r.id),
        rows.map((r) => r.type),
        rows.map((r) => r.subject),
        rows.map((r) => r.payload),
      ],
    };
  }

  private async insertRows(sql: Sql, rows: OutboxRow[]): Promise<void> {
    if (!rows.length) return;
    const { text, params } = this.insertOf(rows, 1);
    await sql.query(text, params, `outbox-insert:${this.opts.schema}`);
  }

  /**
   * Runs `fn` in a transaction (`Database.transaction`); the messages it emits are written in that
   * transaction and published after it commits, and the messages it claims are recorded in it.
   */
  async sqlTransaction<T>(correlationId: string, fn: (tx: SqlTxContext) => Promise<T>): Promise<T> {
    let rows: OutboxRow[] = [];
    const result = await this.opts.db.transaction(async (sql) => {
      rows = [];
      // Rows before this index were inserted by the caller's own statement (takeOutboxInsert).
      let taken = 0;
      let open = true;
      const last: Sql = {
        query: (...args) => {
          // Refused before anything is sent: the statement would commit without these messages.
          if (rows.length > taken)
            throw new Error("the transaction's last statement leaves messages to insert");
          open = false;
          return sql.last.query(...args);
        },
      };
      const out = await fn({
        sql: { query: (...args) => sql.query(...args), last },
        ...this.context(sql, correlationId, rows, () => open),
        takeOutboxInsert: (first) => {
          const pending = rows.slice(taken);
          taken = rows.length;
          return pending.length ? this.insertOf(pending, first) : null;
        },
      });
      // The rows no statement took go with COMMIT.
      if (open) await this.insertRows(sql.last, rows.slice(taken));
      return out;
    });
    if (rows.length > 0) this.dispatch(rows);
    return result;
  }

  /** Fast path: publish rows that were just committed; failures are left for the poller. */
  private dispatch(rows: OutboxRow[]): void {
    if (this.stopping || !this.opts.nats.connected) return this.wakePoller();
    const p = new Promise<unknown>((sent) =>
      this.opts.nats.atTurnEnd(() => sent(this.publishAll(rows, "fast"))),
    ).then(
      () => undefined,
      (err) => this.opts.log.debug({ err: errorMessage(err) }, "fast publish failed; poller will retry"),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async publishAll(
    rows: OutboxRow[],
    path: "fast" | "poll",
  ): Promise<{ ok: string[]; failed: Map<string, string> }> {
    const results = await Promise.allSettled(
      rows.map((r) =>
        this.opts.nats.js.publish(r.subject, r.payload, {
          msgID: r.id,
          timeout: this.opts.publishTimeoutMs ?? 5000,
        }),
      ),
    );
    const ok: string[] = [];
    const failed = new Map<string, string>();
    results.forEach((res, i) => {
      const id = rows[i]!.id;
      if (res.status === "fulfilled") ok.push(id);
      else failed.set(id, errorMessage(res.reason));
    });
    if (ok.length) {
      this.opts.metrics.outboxPublished.labels(path).inc(ok.length);
      if (path === "fast") this.queueMarks(ok);
    }
    if (failed.size) {
      const first = [...failed.values()][0]!;
      if (!this.publishFailing)
        this.opts.log.warn({ err: first, count: failed.size }, "publishing events failed; will retry");
      this.publishFailing = true;
      if (/stream|no responders|503/i.test(first)) void this.opts.nats.ensureStreamsSoon();
      this.wakePoller();
    } else if (ok.length && this.publishFailing) {
      this.publishFailing = false;
      this.opts.log.info("publishing events works again");
    }
    return { ok, failed };
  }

  private queueMarks(ids: string[]): void {
    this.markQueue.push(...ids);
    if (this.markQueue.length >= 500) return void this.flushMarks();
    this.markTimer ??= setTimeout(() => void this.flushMarks(), 25);
  }

  private async flushMarks(): Promise<void> {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    const ids = this.markQueue.splice(0);
    if (!ids.length) return;
    try {
      await this.markPublished(this.pool, ids);
    } catch (err) {
      // Not fatal: the poller publishes them again and JetStream drops the duplicates.
      this.opts.log.warn({ err: errorMessage(err), count: ids.length }, "could not mark events as published");
    }
  }

  private async markPublished(sql: Sql, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await sql.query(
      `update ${this.table} set published_at = now() where id = any($1::uuid[])`,
      [ids],
      `outbox-mark:${this.opts.schema}`,
    );
  }

  /** Starts the poller that publishes what the fast path did not. */
  start(): void {
    this.poller.start();
  }

  private wakePoller(): void {
    this.poller.wake();
  }

  /** One pass of the poller: publishes up to 500 pending events older than a moment. Returns how many. */
  async pollOnce(minAgeMs = 300): Promise<number> {
    if (!this.opts.nats.connected) return 0;
    return this.opts.db.transaction(async (sql) => {
      // A plain index scan, not a bitmap scan: it marks the index entries of rows published since
      // the last pass as dead on its way, so each pass skips them instead of visiting every
      // published row again until the next vacuum (a bitmap scan never marks them).
      await sql.query(`select set_config('enable_bitmapscan', 'off', true)`, [], "outbox-no-bitmap-scan");
      const { rows } = await sql.query<OutboxRow>(
        `select id::text as id, type, subject, payload::text as payload from ${this.table}
         where published_at is null and created_at < now() - $1 * interval '1 millisecond'
         order by created_at limit 500 for update skip locked`,
        [minAgeMs],
      );
      this.opts.metrics.outboxBacklog.set(rows.length);
      if (!rows.length) return 0;
      const { ok, failed } = await this.publishAll(rows, "poll");
      await this.markPublished(sql, ok);
      for (const [id, err] of failed) {
        await sql.query(`update ${this.table} set attempts = attempts + 1, last_error = $1 where id = $2`, [
          err.slice(0, 500),
          id,
        ]);
      }
      return ok.length;
    });
  }

  private async purgeIfDue(): Promise<void> {
    if (Date.now() - this.lastPurge < 3600_000) return;
    this.lastPurge = Date.now();
    const hours = this.opts.retentionHours ?? 24 * 7;
    await this.pool.query(`delete from ${this.table} where published_at < now() - $1 * interval '1 hour'`, [
      hours,
    ]);
    await this.pool.query(`delete from ${this.inbox} where processed_at < now() - $1 * interval '1 hour'`, [
      hours + 24,
    ]);
  }

  /** Waits for in-flight publishes, writes pending marks, stops the poller. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    await this.flushMarks();
    await this.poller.stop();
  }
}
