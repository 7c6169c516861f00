import { PipelineChanged } from "@procode/contracts";
import type { SqlTxContext } from "@procode/service-kit";
import { invariantProblems } from "../domain/invariants.js";
import { Change, leaseExpiry, type OutMessage } from "../domain/change.js";
import {
  wakeAtOf,
  type EngineTimings,
  type IterationPipelineRecord,
  type PhasePipelineRecord,
  type PipelineRecord,
} from "../domain/pipeline.model.js";
import { readAppSettings, type AppSettings } from "../store/app-settings.repository.js";
import type { PipelineRepository } from "../store/pipeline.repository.js";
import { summaryKey, summaryOf } from "./live-summary.js";

/** Another transaction changed a pipeline first (optimistic lock) or created the same one. */
export class ConflictError extends Error {
  override name = "ConflictError";
}

/** Serialization failure, deadlock or a unique violation: the same work may simply be tried again. */
export function isConflict(err: unknown): boolean {
  if (err instanceof ConflictError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01" || code === "23505";
}

interface Tracked {
  record: PipelineRecord;
  /** Version read; the write succeeds only if it is still the row's version. */
  version: number;
  wakeAtRead: number | null;
  /** The live summary as read (null for a pipeline created here): a change of it is published. */
  summaryRead: string | null;
  dirty: boolean;
}

/**
 * The pipelines one transaction reads and changes. Commands load what they need (batched up front
 * where possible), the domain changes records in place and says what happened in a `Change`;
 * `commit` writes every changed pipeline with its version check, the transitions, timers, leases
 * and the messages (through the outbox) in a few set-based statements.
 */
export class UnitOfWork {
  private readonly byId = new Map<number, Tracked>();
  private readonly byRef = new Map<string, number>();
  private readonly changes: { change: Change; correlationId: string }[] = [];
  private readonly settings = new Map<number, AppSettings | null>();
  /** Queued releases woken by a lease hand-over in this transaction. */
  woken: number[] = [];
  /** Some timer of this transaction is due at once (the sweeper should look now). */
  hasDueTimer = false;

  constructor(
    readonly tx: SqlTxContext,
    private readonly repo: PipelineRepository,
    readonly nowMs: number,
    private readonly timings: EngineTimings,
  ) {}

  /** A change made on behalf of `actor` ("system" for the engine's own decisions). */
  change(actor: string, correlationId: string): Change {
    const change = new Change(this.nowMs, actor, this.timings);
    this.changes.push({ change, correlationId });
    return change;
  }

  private track(rows: { record: PipelineRecord; version: number }[]): void {
    for (const { record, version } of rows) {
      if (this.byId.has(record.id)) continue;
      this.byId.set(record.id, {
        record,
        version,
        wakeAtRead: wakeAtOf(record),
        summaryRead: summaryKey(record),
        dirty: false,
      });
      this.byRef.set(`${record.type}:${record.refId}`, record.id);
    }
  }

  /** Loads, in two statements, what a batch of commands will look at. */
  async prefetch(want: {
    ids?: number[];
    iterationIds?: number[];
    iterationPhaseIds?: number[];
    appIds?: number[];
  }): Promise<void> {
    const ids = (want.ids ?? []).filter((id) => !this.byId.has(id));
    if (ids.length) this.track(await this.repo.loadWithParents(this.tx.sql, ids));
    const iterations = (want.iterationIds ?? []).filter((r) => !this.byRef.has(`ITERATION:${r}`));
    const phases = (want.iterationPhaseIds ?? []).filter((r) => !this.byRef.has(`PHASE:${r}`));
    if (iterations.length || phases.length) {
      this.track(await this.repo.loadByRefs(this.tx.sql, iterations, phases));
    }
    const apps = (want.appIds ?? []).filter((a) => !this.settings.has(a));
    if (apps.length) {
      const found = await readAppSettings(this.tx.sql, apps);
      for (const a of apps) this.settings.set(a, found.get(a) ?? null);
    }
  }

  async get(id: number): Promise<PipelineRecord | undefined> {
    if (!this.byId.has(id)) this.track(await this.repo.loadWithParents(this.tx.sql, [id]));
    return this.byId.get(id)?.record;
  }

  /** A release's pipeline (undefined when there is none, or `id` is an iteration pipeline). */
  async getPhase(id: number): Promise<PhasePipelineRecord | undefined> {
    const p = await this.get(id);
    return p?.type === "PHASE" ? p : undefined;
  }

  /** An iteration's pipeline (undefined when there is none, or `id` is a release's). */
  async getIteration(id: number): Promise<IterationPipelineRecord | undefined> {
    const p = await this.get(id);
    return p?.type === "ITERATION" ? p : undefined;
  }

  async findByRef(type: "ITERATION", refId: number): Promise<IterationPipelineRecord | undefined>;
  async findByRef(type: "PHASE", refId: number): Promise<PhasePipelineRecord | undefined>;
  async findByRef(type: "ITERATION" | "PHASE", refId: number): Promise<PipelineRecord | undefined> {
    const key = `${type}:${refId}`;
    if (!this.byRef.has(key)) {
      this.track(
        await this.repo.loadByRefs(
          this.tx.sql,
          type === "ITERATION" ? [refId] : [],
          type === "PHASE" ? [refId] : [],
        ),
      );
    }
    const id = this.byRef.get(key);
    return id === undefined ? undefined : this.byId.get(id)?.record;
  }

  async appSettings(appId: number): Promise<AppSettings | null> {
    if (!this.settings.has(appId)) await this.prefetch({ appIds: [appId] });
    return this.settings.get(appId) ?? null;
  }

  /** Inserts a new pipeline; a concurrent creation of the same (type, refId) is a conflict. */
  async create<R extends PipelineRecord>(draft: R): Promise<R> {
    const inserted = await this.repo.insert(this.tx.sql, draft);
    if (!inserted)
      throw new ConflictError(`${draft.type} pipeline for ${draft.refId} was created concurrently`);
    draft.id = inserted.id;
    draft.createdAt = draft.updatedAt = inserted.createdAt;
    this.byId.set(draft.id, { record: draft, version: 0, wakeAtRead: null, summaryRead: null, dirty: true });
    this.byRef.set(`${draft.type}:${draft.refId}`, draft.id);
    return draft;
  }

  /** Marks a record as changed (written at commit). */
  touch(record: PipelineRecord): void {
    const t = this.byId.get(record.id);
    if (!t || t.record !== record) throw new Error(`pipeline ${record.id} is not part of this unit of work`);
    t.dirty = true;
  }

  /** Takes the app's release lease for phase pipeline `p` (free, expired, or already its own). */
  async tryAcquireLease(p: PhasePipelineRecord, ch: Change): Promise<boolean> {
    return this.repo.tryAcquireLease(this.tx.sql, p.appId, p.id, leaseExpiry(p, ch));
  }

  async leaseExpiry(appId: number): Promise<number | null> {
    return this.repo.leaseExpiry(this.tx.sql, appId);
  }

  async hasOlderQueued(p: PipelineRecord): Promise<boolean> {
    return this.repo.hasOlderQueued(this.tx.sql, p.appId, p.id);
  }

  /** Writes everything; throws ConflictError when a pipeline was changed by someone else first. */
  async commit(): Promise<void> {
    const dirty = [...this.byId.values()].filter((t) => t.dirty);
    const broken = dirty.flatMap((t) => invariantProblems(t.record));
    if (broken.length) throw new Error(`a command would break the pipeline's rules: ${broken.join("; ")}`);
    const timers = dirty
      .filter((t) => wakeAtOf(t.record) !== t.wakeAtRead)
      .map((t) => ({ id: t.record.id, wakeAt: wakeAtOf(t.record) }));
    const releases = this.changes.flatMap((c) => c.change.leaseReleases);
    const released = new Set(releases.map((r) => r.pipelineId));
    const probe = new Change(this.nowMs, "system", this.timings);
    // The messages are written by the same statement as the pipelines (one round trip fewer).
    for (const { change, correlationId } of this.changes) {
      for (const m of change.messages) this.emit(m, correlationId);
    }
    this.emitLive(dirty);
    const written = await this.repo.persist(this.tx.sql, {
      pipelines: dirty.map((t) => ({ record: t.record, version: t.version })),
      transitions: this.changes.flatMap((c) => c.change.transitions),
      timers,
      leaseRenewals: dirty
        .map((t) => t.record)
        .filter(
          (r): r is PhasePipelineRecord =>
            r.type === "PHASE" && r.status === "RUNNING" && !released.has(r.id),
        )
        .map((r) => ({ appId: r.appId, holderId: r.id, expiresAtMs: leaseExpiry(r, probe) })),
      outbox: this.tx.takeOutboxInsert(6),
    });
    if (written !== dirty.length) {
      throw new ConflictError(
        `${dirty.length - written} of ${dirty.length} pipelines were changed concurrently`,
      );
    }
    this.hasDueTimer = timers.some((t) => t.wakeAt !== null && t.wakeAt <= this.nowMs + 5);
    if (releases.length) {
      this.woken = await this.repo.releaseLeases(
        this.tx.sql,
        releases,
        dirty.map((t) => t.record.id),
      );
    }
  }

  /** One live event per pipeline whose summary this transaction changed (docs/api.md, "Live events"). */
  private emitLive(dirty: Tracked[]): void {
    const correlationId = this.changes[0]?.correlationId ?? this.tx.correlationId;
    for (const t of dirty) {
      if (t.summaryRead === summaryKey(t.record)) continue;
      this.tx.emit(PipelineChanged, summaryOf(t.record), { team: t.record.team, correlationId });
    }
  }

  private emit(m: OutMessage, correlationId: string): void {
    if (m.def.perStage) {
      this.tx.emit(m.def, m.data, { suffix: (m as { suffix: string }).suffix, correlationId });
    } else {
      this.tx.emit(m.def, m.data, { correlationId });
    }
  }

  /** How many transitions this unit of work records. */
  get transitionCount(): number {
    return this.changes.reduce((n, c) => n + c.change.transitions.length, 0);
  }
}
