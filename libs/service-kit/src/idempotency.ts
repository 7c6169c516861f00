import { createHash, randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_WINDOW_HOURS } from "@procode/contracts";
import { DomainError } from "./errors.js";
import { actorOf } from "./http.js";
import type { Logger } from "./logger.js";
import type { Database, Sql } from "./sql.js";

/**
 * `Idempotency-Key` on the creates (docs/api.md, "Idempotency"): a request repeated with the same key
 * by the same team within 24 hours gets the first answer and creates nothing; the same key with a
 * different body is refused (9010, 422); repeats that arrive while the first is still being
 * answered wait for its answer (9011, 409, when that takes longer than the wait).
 *
 * The key is claimed with a row before the work starts; the use case records its answer in the
 * very transaction that creates the thing (`record`), and only the claim's holder can record. So a
 * create that committed always has its answer stored, a create that failed leaves nothing (its claim
 * is released, the next try runs afresh), and of concurrent repeats exactly one does the work.
 */

/** Stores the answer of the claimed request on `sql` (the transaction of the change it answers). */
export type RecordAnswer = (sql: Sql, answer: unknown) => Promise<void>;

export interface IdempotentRequest {
  team: string;
  /** The operation the key belongs to (its operationId): one key may serve each create once. */
  operation: string;
  /** The request's key; null runs the work as any request. */
  key: string | null;
  /** The validated body: a repeat must carry the same (whitespace and key order aside). */
  body: unknown;
}

export interface IdempotencyOptions {
  db: Database;
  schema: string;
  log: Logger;
  /** How long a repeat waits for the first request's answer before 9011. */
  waitMs?: number;
  /**
   * A claim not renewed for this long, with no answer, is taken to be a request that died (its
   * process did): the process answering renews its claim every third of it while the work runs.
   */
  staleClaimMs?: number;
}

interface KeyRow {
  request_hash: string;
  claim: string;
  answer: unknown;
  stale: boolean;
}

const WINDOW = `interval '${IDEMPOTENCY_WINDOW_HOURS} hours'`;
const STALE_CLAIM_MS = 30_000;
const PURGE_EVERY_MS = 3_600_000;

export class Idempotency {
  private readonly table: string;
  private lastPurge = 0;

  constructor(private readonly opts: IdempotencyOptions) {
    this.table = `"${opts.schema}".idempotency_key`;
  }

  /**
   * A create route's answer, once per key of the caller's team: `work` gets the recorder to call in
   * the transaction of its change. A replayed answer says so in `Idempotent-Replayed: true`.
   */
  async answer<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    operation: string,
    work: (record: RecordAnswer) => Promise<T>,
  ): Promise<T> {
    // The route's header schema checked the key's form.
    const key = request.headers[IDEMPOTENCY_KEY_HEADER];
    const { answer, replayed } = await this.run(
      {
        team: actorOf(request).team,
        operation,
        key: typeof key === "string" ? key : null,
        body: request.body,
      },
      work,
    );
    if (replayed) void reply.header("idempotent-replayed", "true");
    return answer;
  }

  /** Runs `work` once per key: the first time it is given, or when the last try failed. */
  async run<T>(
    req: IdempotentRequest,
    work: (record: RecordAnswer) => Promise<T>,
  ): Promise<{ answer: T; replayed: boolean }> {
    if (req.key === null) return { answer: await work(async () => {}), replayed: false };
    const id = [req.team, req.operation, req.key] as const;
    const hash = requestHash(req.body);
    await this.purgeNowAndThen();
    const deadline = Date.now() + (this.opts.waitMs ?? 10_000);
    for (;;) {
      const claim = await this.tryClaim(id, hash);
      if (claim) return { answer: await this.runClaimed(id, claim, work), replayed: false };
      const row = await this.find(id);
      if (!row) continue;
      if (row.request_hash !== hash) {
        throw new DomainError(
          "IDEMPOTENCY_KEY_REUSED",
          `Idempotency-Key: already used by your team for a different ${req.operation} request in the last ${IDEMPOTENCY_WINDOW_HOURS} h; use a new key`,
        );
      }
      if (row.answer !== null) return { answer: row.answer as T, replayed: true };
      if (row.stale) {
        const taken = await this.takeOver(id, row.claim);
        if (taken) return { answer: await this.runClaimed(id, taken, work), replayed: false };
        continue;
      }
      if (Date.now() > deadline) {
        throw new DomainError(
          "IDEMPOTENCY_KEY_IN_USE",
          `Idempotency-Key: a request with this key is still being answered; retry`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async runClaimed<T>(
    id: readonly [string, string, string],
    claim: string,
    work: (record: RecordAnswer) => Promise<T>,
  ): Promise<T> {
    let recorded = false;
    // A live request keeps its claim fresh; one whose process died leaves it to go stale.
    const renewal = setInterval(() => void this.renew(id, claim), this.staleMs / 3);
    renewal.unref();
    const record: RecordAnswer = async (sql, answer) => {
      const { rowCount } = await sql.query(
        `update ${this.table} set answer = $5, answered_at = now()
         where team = $1 and operation = $2 and key = $3 and claim = $4`,
        [...id, claim, JSON.stringify(answer)],
      );
      // Taken over as stale: rolling the change back is the only way to keep "creates one".
      if (rowCount !== 1)
        throw new Error("the Idempotency-Key claim was taken over; the change is rolled back");
      recorded = true;
    };
    try {
      const answer = await work(record);
      if (!recorded) await record(this.opts.db.sql, answer);
      return answer;
    } catch (err) {
      // Nothing was created: the key is free for the next try.
      await this.opts.db.sql
        .query(
          `delete from ${this.table} where team = $1 and operation = $2 and key = $3 and claim = $4 and answer is null`,
          [...id, claim],
        )
        .catch((e: unknown) => this.opts.log.warn({ err: e }, "Idempotency-Key claim not released"));
      throw err;
    } finally {
      clearInterval(renewal);
    }
  }

  private get staleMs(): number {
    return this.opts.staleClaimMs ?? STALE_CLAIM_MS;
  }

  /** Marks a claim still held (a failure is only logged: the claim may then be taken over as stale). */
  private async renew(id: readonly [string, string, string], claim: string): Promise<void> {
    await this.opts.db.sql
      .query(
        `update ${this.table} set claimed_at = now()
         where team = $1 and operation = $2 and key = $3 and claim = $4 and answer is null`,
        [...id, claim],
      )
      .catch((err: unknown) => this.opts.log.warn({ err }, "Idempotency-Key claim not renewed"));
  }

  /** A new claim on the key (an expired row is replaced), or null when someone holds or answered it. */
  private async tryClaim(id: readonly [string, string, string], hash: string): Promise<string | null> {
    const claim = randomUUID();
    const { rows } = await this.opts.db.sql.query<{ claim: string }>(
      `insert into ${this.table} as k (team, operation, key, request_hash, claim)
       values ($1, $2, $3, $4, $5)
       on conflict (team, operation, key) do update
         set request_hash = excluded.request_hash, claim = excluded.claim, answer = null,
             answered_at = null, created_at = now(), claimed_at = now()
         where k.created_at < now() - ${WINDOW}
       returning claim`,
      [...id, hash, claim],
    );
    return rows[0]?.claim === claim ? claim : null;
  }

  private async find(id: readonly [string, string, string]): Promise<KeyRow | null> {
    const { rows } = await this.opts.db.sql.query<KeyRow>(
      `select request_hash, claim, answer, claimed_at < now() - make_interval(secs => $4::float / 1000) as stale
       from ${this.table} where team = $1 and operation = $2 and key = $3`,
      [...id, this.staleMs],
    );
    return rows[0] ?? null;
  }

  private async takeOver(id: readonly [string, string, string], from: string): Promise<string | null> {
    const claim = randomUUID();
    const { rowCount } = await this.opts.db.sql.query(
      `update ${this.table} set claim = $5, claimed_at = now()
       where team = $1 and operation = $2 and key = $3 and claim = $4 and answer is null`,
      [...id, from, claim],
    );
    return rowCount === 1 ? claim : null;
  }

  /** Keys past the window are of no use: removed about once an hour. */
  private async purgeNowAndThen(): Promise<void> {
    if (Date.now() - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = Date.now();
    await this.opts.db.sql
      .query(`delete from ${this.table} where created_at < now() - ${WINDOW}`)
      .catch((err: unknown) => this.opts.log.warn({ err }, "expired Idempotency-Keys not purged"));
  }
}

/** A body's hash, the same for the same JSON whatever its key order. */
function requestHash(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
