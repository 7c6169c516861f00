import {
  PHASE_STAGE_ORDER,
  ReadStageLogsReply,
  ReadStageLogsRequest,
  type RpcName,
  STAGE_LOG_LINE_MAX_CHARS,
  STAGE_LOG_MAX_BYTES,
  StageLogWritten,
  type PhaseStage,
  type StageLogLevel,
  type StageLogLine,
} from "@procode/contracts";
import type { Logger } from "./logger.js";
import type { NatsHandle } from "./nats.js";
import type { Outbox, OutboxContext } from "./outbox.js";
import { serveRpc } from "./rpc.js";
import type { Sql, WithPart } from "./sql.js";
import { errorMessage } from "./util.js";

/** The stage attempt a log belongs to, with what its live events need (docs/api.md "Stage logs"). */
export interface StageLogAttempt {
  pipelineId: number;
  stage: PhaseStage;
  attempt: number;
  appId: number;
  team: string;
}

export interface StageLogEntry {
  level: StageLogLevel;
  text: string;
  /** When it happened; now when left out. */
  at?: Date;
}

/**
 * Where an attempt's log stands: the next line's number, the bytes of text kept, whether it was cut
 * at its bound. An attempt with no line yet stands at 1, 0, false.
 */
export interface StageLogHead {
  nextSeq: number;
  bytes: number;
  truncated: boolean;
}

/** What the last line of a log cut at its bound says. */
export const STAGE_LOG_CUT_TEXT = `log cut: this attempt's log reached ${STAGE_LOG_MAX_BYTES / 1024 / 1024} MiB; later lines are not kept`;

/** Text as a line keeps it: no NUL (text columns refuse it), well-formed UTF-16, at most the line bound. */
function lineText(text: string): string {
  // With the u flag, a paired surrogate is one code point: \p{Cs} matches only unpaired halves.
  const clean = text.replaceAll("\u0000", "").replace(/\p{Cs}/gu, "\uFFFD");
  return clean.length <= STAGE_LOG_LINE_MAX_CHARS
    ? clean
    : `${clean.slice(0, STAGE_LOG_LINE_MAX_CHARS)} … (line cut at ${STAGE_LOG_LINE_MAX_CHARS} characters)`;
}

/** An entry as a line to store: its time as ISO 8601, its text as a line keeps it. */
const lineOf = (e: StageLogEntry) => ({
  at: (e.at ?? new Date()).toISOString(),
  level: e.level,
  text: lineText(e.text),
});

interface LineRow {
  stage: PhaseStage;
  attempt: number;
  seq: number;
  at: string;
  level: StageLogLevel;
  text: string;
}

/** `2026-03-01 10:00:00.123+00` (PostgreSQL's text) as ISO 8601. */
const isoOf = (at: string): string => new Date(at).toISOString();

const STAGE_RANK = `array_position(array['${PHASE_STAGE_ORDER.join("','")}']::text[], l.stage::text)`;

/**
 * The stage logs a service keeps of the stage attempts it runs, in its own schema (tables
 * `stage_log`, one row per attempt with its size, and `stage_log_line`). Lines are appended in the
 * caller's transaction, each with its live event `live.log.v1` through the outbox, so a line and its
 * event commit together; an attempt keeps at most `maxBytes` of text (UTF-8), then one last line says
 * the log was cut and the attempt is marked truncated.
 */
export class StageLogStore {
  /**
   * The tables of a schema's stage logs, for that service's migration: one `stage_log` row per
   * attempt (its team and app for the live events, the next line number, the bytes of text kept and
   * whether the log was cut at its bound) and its lines in `stage_log_line`, numbered from 1 without
   * gaps.
   */
  static tablesSql(schema: string): string[] {
    return [
      `create table "${schema}".stage_log (
        pipeline_id bigint not null,
        stage varchar(20) not null,
        attempt int not null,
        app_id bigint not null,
        team varchar(100) not null,
        next_seq int not null default 1,
        bytes bigint not null default 0,
        truncated boolean not null default false,
        created_at timestamptz not null default now(),
        constraint stage_log_pk primary key (pipeline_id, stage, attempt)
      )`,
      `create table "${schema}".stage_log_line (
        pipeline_id bigint not null,
        stage varchar(20) not null,
        attempt int not null,
        seq int not null,
        at timestamptz not null,
        level varchar(5) not null,
        text text not null,
        constraint stage_log_line_pk primary key (pipeline_id, stage, attempt, seq),
        constraint stage_log_line_level_ck check (level in ('INFO', 'WARN', 'ERROR'))
      )`,
    ];
  }

  private readonly logs: string;
  private readonly lines: string;

  constructor(
    schema: string,
    private readonly maxBytes: number = STAGE_LOG_MAX_BYTES,
  ) {
    this.logs = `"${schema}".stage_log`;
    this.lines = `"${schema}".stage_log_line`;
  }

  /** Appends `entries` in order; returns the lines stored (fewer once the bound is reached). */
  async append(
    tx: Pick<OutboxContext, "emit"> & { sql: Sql },
    attempt: StageLogAttempt,
    entries: readonly StageLogEntry[],
  ): Promise<StageLogLine[]> {
    if (!entries.length) return [];
    const key = [attempt.pipelineId, attempt.stage, attempt.attempt];
    const lines = entries.map(lineOf);
    const size = lines.reduce((n, l) => n + Buffer.byteLength(l.text, "utf8"), 0);
    if (size <= this.maxBytes) {
      const first = await this.appendWithin(tx.sql, attempt, lines, size);
      if (first !== null) {
        const stored = lines.map((l, i) => ({
          stage: attempt.stage,
          attempt: attempt.attempt,
          seq: first + i,
          ...l,
        }));
        this.announce(tx, attempt, stored);
        return stored;
      }
    }
    // The attempt's row, created with its first lines, locked for the rest of the transaction (an
    // upsert that sets nothing new locks the row as FOR UPDATE would, in the same round trip).
    const row = (
      await tx.sql.query<{ next_seq: number; bytes: string; truncated: boolean }>(
        `insert into ${this.logs} as l (pipeline_id, stage, attempt, app_id, team) values ($1, $2, $3, $4, $5)
         on conflict (pipeline_id, stage, attempt) do update set next_seq = l.next_seq
         returning next_seq, bytes, truncated`,
        [...key, attempt.appId, attempt.team],
        `stage-log-head:${this.logs}`,
      )
    ).rows[0]!;
    const head = { nextSeq: row.next_seq, bytes: Number(row.bytes), truncated: row.truncated };
    const stored = this.place(attempt, head, lines);
    if (!stored.length) return [];
    await this.writePlaced(tx.sql, attempt, head, stored);
    this.announce(tx, attempt, stored);
    return stored;
  }

  /**
   * Appends `entries` at `head`, where the attempt's log stands as the caller read it under a lock
   * that keeps every other writer of this attempt's log out until the caller commits: the lines are
   * numbered and the log cut at its bound as `append` does, their live events emitted, and `head`
   * moved on. Nothing is written yet: the caller's own statement writes the lines placed at a head
   * (`placedParts`). Returns the lines stored.
   */
  appendAt(
    tx: Pick<OutboxContext, "emit">,
    attempt: StageLogAttempt,
    head: StageLogHead,
    entries: readonly StageLogEntry[],
  ): StageLogLine[] {
    const stored = this.place(attempt, head, entries.map(lineOf));
    this.announce(tx, attempt, stored);
    return stored;
  }

  /**
   * The write of `lines` placed at a head that now stands at `head`, as two data-modifying `with`
   * parts of the caller's statement, the first's parameters numbered from `first` (the second has
   * none of its own).
   */
  placedParts(
    attempt: StageLogAttempt,
    head: StageLogHead,
    lines: readonly StageLogLine[],
    first: number,
  ): WithPart[] {
    const $ = (i: number) => `$${first + i}`;
    return [
      {
        text: `insert into ${this.lines} (pipeline_id, stage, attempt, seq, at, level, text)
         select ${$(0)}::bigint, ${$(1)}::varchar, ${$(2)}::int, * from unnest(${$(3)}::int[], ${$(4)}::timestamptz[], ${$(5)}::text[], ${$(6)}::text[])`,
        params: [
          attempt.pipelineId,
          attempt.stage,
          attempt.attempt,
          lines.map((l) => l.seq),
          lines.map((l) => l.at),
          lines.map((l) => l.level),
          lines.map((l) => l.text),
          attempt.appId,
          attempt.team,
          head.nextSeq,
          head.bytes,
          head.truncated,
        ],
      },
      {
        text: `insert into ${this.logs} as l (pipeline_id, stage, attempt, app_id, team, next_seq, bytes, truncated)
         values (${$(0)}, ${$(1)}, ${$(2)}, ${$(7)}, ${$(8)}, ${$(9)}, ${$(10)}, ${$(11)})
         on conflict (pipeline_id, stage, attempt) do update
           set next_seq = excluded.next_seq, bytes = excluded.bytes, truncated = excluded.truncated`,
        params: [],
      },
    ];
  }

  /** Writes `lines` placed at a head that now stands at `head`, in one statement of its own. */
  private async writePlaced(
    sql: Sql,
    attempt: StageLogAttempt,
    head: StageLogHead,
    lines: readonly StageLogLine[],
  ): Promise<void> {
    if (!lines.length) return;
    const [first, second] = this.placedParts(attempt, head, lines, 1);
    await sql.query(
      `with lines as (${first!.text}) ${second!.text}`,
      first!.params,
      `stage-log-lines:${this.logs}`,
    );
  }

  /**
   * Numbers `lines` from `head` and moves it on; past the bound one last line says the log was cut
   * and the head is marked truncated. Returns the lines kept (none once the log was cut).
   */
  private place(
    attempt: StageLogAttempt,
    head: StageLogHead,
    lines: readonly { at: string; level: StageLogLevel; text: string }[],
  ): StageLogLine[] {
    const stored: StageLogLine[] = [];
    for (const line of lines) {
      if (head.truncated) break;
      let { text, level } = line;
      if (head.bytes + Buffer.byteLength(text, "utf8") > this.maxBytes) {
        text = STAGE_LOG_CUT_TEXT;
        level = "WARN";
        head.truncated = true;
      }
      stored.push({
        stage: attempt.stage,
        attempt: attempt.attempt,
        seq: head.nextSeq++,
        at: line.at,
        level,
        text,
      });
      head.bytes += Buffer.byteLength(text, "utf8");
    }
    return stored;
  }

  /**
   * The usual append, in one statement: the attempt's row is created or moved on by the lines' count
   * and size, and the lines are numbered from where it stood, only while the log stays within its
   * bound. Returns the first line's number, or null when nothing was written (the log would pass its
   * bound, or was cut already), for `append`'s own path that cuts it.
   */
  private async appendWithin(
    sql: Sql,
    attempt: StageLogAttempt,
    lines: readonly { at: string; level: StageLogLevel; text: string }[],
    size: number,
  ): Promise<number | null> {
    const { rows } = await sql.query<{ first: number }>(
      `with head as (
         insert into ${this.logs} as l (pipeline_id, stage, attempt, app_id, team, next_seq, bytes)
         values ($1, $2, $3, $4, $5, 1 + $6::int, $7)
         on conflict (pipeline_id, stage, attempt) do update
           set next_seq = l.next_seq + $6::int, bytes = l.bytes + $7
           where not l.truncated and l.bytes + $7 <= $8
         returning next_seq - $6::int as first
       ), lines as (
         insert into ${this.lines} (pipeline_id, stage, attempt, seq, at, level, text)
         select $1, $2, $3, head.first + t.n - 1, t.at, t.level, t.text
         from head, unnest($9::timestamptz[], $10::text[], $11::text[]) with ordinality as t(at, level, text, n)
       )
       select first from head`,
      [
        attempt.pipelineId,
        attempt.stage,
        attempt.attempt,
        attempt.appId,
        attempt.team,
        lines.length,
        size,
        this.maxBytes,
        lines.map((l) => l.at),
        lines.map((l) => l.level),
        lines.map((l) => l.text),
      ],
      `stage-log-append:${this.logs}`,
    );
    return rows[0] ? Number(rows[0].first) : null;
  }

  /** Each stored line's live event, committed with it. */
  private announce(tx: Pick<OutboxContext, "emit">, attempt: StageLogAttempt, stored: StageLogLine[]): void {
    for (const line of stored) {
      tx.emit(
        StageLogWritten,
        { pipelineId: attempt.pipelineId, appId: attempt.appId, ...line },
        { team: attempt.team },
      );
    }
  }

  /**
   * A page of a pipeline's lines of the team (by stage order, attempt, seq), after `q.after`, of
   * about `pageBytes` of text at most (at least one line); `next` is where the following page starts.
   */
  /**
   * Answers the engine's requests for a page of these logs (`name`: the service's read subject, one
   * replica of `queue` each), for `GET /pipelines/{id}/logs`.
   */
  serveReads(
    nats: NatsHandle,
    opts: { name: RpcName; queue: string; db: { sql: Sql }; log: Logger },
  ): ReturnType<typeof serveRpc> {
    return serveRpc(nats, {
      name: opts.name,
      request: ReadStageLogsRequest,
      reply: ReadStageLogsReply,
      queue: opts.queue,
      log: opts.log,
      handle: (q) => this.read(opts.db.sql, q),
    });
  }

  async read(sql: Sql, q: ReadStageLogsRequest, pageBytes = 256 * 1024): Promise<ReadStageLogsReply> {
    const params: unknown[] = [q.pipelineId, q.team];
    const where = ["h.pipeline_id = $1", "h.team = $2"];
    if (q.stage) {
      params.push(q.stage);
      where.push(`h.stage = $${params.length}`);
    }
    if (q.attempt !== undefined) {
      params.push(q.attempt);
      where.push(`h.attempt = $${params.length}`);
    }
    const truncated =
      (
        await sql.query<{ truncated: boolean | null }>(
          `select bool_or(h.truncated) as truncated from ${this.logs} h where ${where.join(" and ")}`,
          params,
        )
      ).rows[0]?.truncated ?? false;
    if (q.after) {
      params.push(PHASE_STAGE_ORDER.indexOf(q.after.stage) + 1, q.after.attempt, q.after.seq);
      const n = params.length;
      where.push(`(${STAGE_RANK}, l.attempt, l.seq) > ($${n - 2}, $${n - 1}, $${n})`);
    }
    const limit = 500;
    const { rows } = await sql.query<LineRow>(
      `select l.stage, l.attempt, l.seq, l.at, l.level, l.text
       from ${this.lines} l
       join ${this.logs} h on h.pipeline_id = l.pipeline_id and h.stage = l.stage and h.attempt = l.attempt
       where ${where.join(" and ")}
       order by ${STAGE_RANK}, l.attempt, l.seq
       limit ${limit + 1}`,
      params,
    );
    const lines: StageLogLine[] = [];
    let bytes = 0;
    for (const r of rows.slice(0, limit)) {
      const size = Buffer.byteLength(r.text, "utf8");
      if (lines.length > 0 && bytes + size > pageBytes) break;
      bytes += size;
      lines.push({
        stage: r.stage,
        attempt: r.attempt,
        seq: r.seq,
        at: isoOf(r.at),
        level: r.level,
        text: r.text,
      });
    }
    const last = lines[lines.length - 1];
    const more = lines.length < rows.length;
    return {
      lines,
      truncated,
      next: more && last ? { stage: last.stage, attempt: last.attempt, seq: last.seq } : null,
    };
  }
}

/**
 * The log of one stage attempt as its runner writes it: `info`/`warn`/`error` queue a line and
 * return at once; the lines are stored in order, those queued meanwhile together in one transaction.
 * A line that cannot be stored (the database is away) is dropped with a warning in the service's
 * log: the stage's work never fails because its log could not be written. `flush` waits for what
 * was queued.
 */
export class StageLog {
  private queue: StageLogEntry[] = [];
  private draining: Promise<void> | null = null;

  constructor(
    private readonly store: StageLogStore,
    private readonly outbox: Outbox,
    readonly attempt: StageLogAttempt,
    private readonly correlationId: string,
    private readonly log: Logger,
  ) {}

  info(text: string): void {
    this.add("INFO", text);
  }

  warn(text: string): void {
    this.add("WARN", text);
  }

  error(text: string): void {
    this.add("ERROR", text);
  }

  /** Waits until every line queued so far is stored (or dropped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private add(level: StageLogLevel, text: string): void {
    this.queue.push({ level, text, at: new Date() });
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.outbox.sqlTransaction(this.correlationId, (tx) =>
          this.store.append(tx, this.attempt, batch),
        );
      } catch (err) {
        this.log.warn({ err: errorMessage(err), lines: batch.length }, "stage log lines could not be stored");
      }
    }
  }
}
