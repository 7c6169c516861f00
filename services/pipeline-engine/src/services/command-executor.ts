import type { Counter, Histogram } from "prom-client";
import { DomainError, RetryLaterError, sleep, type Logger, type Outbox } from "@procode/service-kit";
import type { EngineTimings } from "../domain/pipeline.model.js";
import { PipelineRefusalError } from "../domain/change.js";
import type { PipelineRepository } from "../store/pipeline.repository.js";
import type { AnswerOf, CommandWithContext } from "./commands.js";
import { CommittedRefusal, pipelineOf } from "./commands.js";
import type { PipelineEngine } from "./pipeline-engine.service.js";
import { isConflict, UnitOfWork } from "./unit-of-work.js";

interface Pending {
  cmd: CommandWithContext;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface ExecutorOptions {
  engine: PipelineEngine;
  repo: PipelineRepository;
  outbox: Outbox;
  log: Logger;
  timings: EngineTimings;
  batchMax: number;
  concurrency: number;
  transitions: Counter;
  batchSize: Histogram;
  /** Called after a commit that made a timer due at once or woke a queued release. */
  onDueTimers(): void;
}

const isRefusal = (err: unknown) =>
  err instanceof DomainError || err instanceof RetryLaterError || err instanceof PipelineRefusalError;

/**
 * Applies commands in batches: whatever arrived while the previous transactions ran goes into the
 * next one (no timer, so a lone command waits for nobody). One transaction, a handful of statements,
 * for up to BATCH_MAX results. When a batch fails as a whole (a pipeline changed concurrently, or an
 * unexpected error in one command), its commands are applied again one by one, so one bad command
 * never takes the others down and a conflict is simply retried on fresh data.
 */
export class CommandExecutor {
  private queue: Pending[] = [];
  private active = 0;
  /**
   * Pipelines a running batch holds. A command for one of them waits for a later batch: two
   * transactions on one pipeline at once would only conflict, and the loser would be rolled back and
   * retried after a pause (a deployment's start and end, which come by two consumers a few
   * milliseconds apart, did so in about half of the releases).
   */
  private readonly held = new Set<number>();
  private scheduled = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: ExecutorOptions) {}

  /** Applies `cmd` in the next batch; resolves with its answer, rejects with its refusal. */
  submit<C extends CommandWithContext>(cmd: C): Promise<AnswerOf<C>> {
    return new Promise<AnswerOf<C>>((resolve, reject) => {
      // The engine answers each kind as AnswerOf says (PipelineEngine.execute).
      this.queue.push({ cmd, resolve: resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.active < this.opts.concurrency && this.queue.length) {
      const batch: Pending[] = [];
      const waiting: Pending[] = [];
      const ids = new Set<number>();
      for (const p of this.queue) {
        const id = pipelineOf(p.cmd);
        if (batch.length >= this.opts.batchMax || (id !== undefined && this.held.has(id))) {
          waiting.push(p);
          continue;
        }
        batch.push(p);
        if (id !== undefined) ids.add(id);
      }
      // Everything queued is for pipelines a running batch holds: it goes when that one ends.
      if (!batch.length) return;
      this.queue = waiting;
      for (const id of ids) this.held.add(id);
      this.active++;
      void this.runBatch(batch).finally(() => {
        for (const id of ids) this.held.delete(id);
        this.active--;
        if (this.queue.length) this.pump();
        else if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    try {
      const results = await this.transaction(batch.map((p) => p.cmd));
      results.forEach((r, i) => settle(batch[i]!, r));
      return;
    } catch (err) {
      if (batch.length === 1) return this.runAlone(batch[0]!, err);
      this.opts.log.debug({ err, size: batch.length }, "batch failed; applying its commands one by one");
    }
    for (const p of batch) await this.runAlone(p);
  }

  /** One command in its own transaction, retried a few times on conflicts. */
  private async runAlone(p: Pending, firstError?: unknown): Promise<void> {
    let err = firstError;
    for (let attempt = firstError === undefined ? 0 : 1; attempt < 6; attempt++) {
      if (err !== undefined && !isConflict(err)) break;
      if (attempt > 0) await sleep(5 * attempt + Math.random() * 20 * attempt);
      try {
        const [result] = await this.transaction([p.cmd]);
        return settle(p, result!);
      } catch (e) {
        err = e;
      }
    }
    if (!isConflict(err)) this.opts.log.error({ err, kind: p.cmd.kind }, "command failed");
    p.reject(err);
  }

  /** One transaction over `cmds`; per-command refusals are answers, anything else aborts it. */
  private async transaction(cmds: CommandWithContext[]): Promise<Outcome[]> {
    let transitions = 0;
    let dueTimers = false;
    let woken = 0;
    const results = await this.opts.outbox.sqlTransaction(cmds[0]!.correlationId, async (tx) => {
      const uow = new UnitOfWork(tx, this.opts.repo, Date.now(), this.opts.timings);
      await uow.prefetch(this.opts.engine.wants(cmds));
      const out: Outcome[] = [];
      for (const cmd of cmds) {
        try {
          const value = await this.opts.engine.execute(uow, cmd);
          out.push(value instanceof CommittedRefusal ? { error: value.error } : { value });
        } catch (err) {
          if (!isRefusal(err)) throw err;
          out.push({
            error: err instanceof PipelineRefusalError ? new DomainError(err.kind, err.message) : err,
          });
        }
      }
      await uow.commit();
      transitions = uow.transitionCount;
      dueTimers = uow.hasDueTimer;
      woken = uow.woken.length;
      return out;
    });
    this.opts.transitions.inc(transitions);
    this.opts.batchSize.observe(cmds.length);
    if (dueTimers || woken) this.opts.onDueTimers();
    return results;
  }
}

type Outcome = { value: unknown } | { error: unknown };

function settle(p: Pending, r: Outcome): void {
  if ("error" in r) p.reject(r.error);
  else p.resolve(r.value);
}
