import type { Counter } from "prom-client";
import { errorMessage, pooledSql, type Logger, type Orm, type Outbox } from "@procode/service-kit";
import type { EngineTimings } from "../domain/pipeline.model.js";
import type { PipelineRepository } from "../store/pipeline.repository.js";
import type { PipelineEngine } from "./pipeline-engine.service.js";
import { isConflict, UnitOfWork } from "./unit-of-work.js";

export interface SweeperOptions {
  engine: PipelineEngine;
  repo: PipelineRepository;
  outbox: Outbox;
  orm: Orm;
  log: Logger;
  timings: EngineTimings;
  intervalMs: number;
  batch: number;
  redriveSpreadMs: number;
  transitions: Counter;
}

/**
 * The durable timers: every pipeline whose `wake_at` is due (a re-publish of a stage request, an
 * AUTO retry, a queued release to start) is handled in a transaction that holds its timer row with
 * FOR UPDATE SKIP LOCKED, so two engines never handle the same timer and a timer due while every
 * engine was down fires after the first one starts.
 */
export class Sweeper {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private poked = false;

  constructor(private readonly opts: SweeperOptions) {}

  /** Re-drives every waiting stage request soon (after a crash messages may have been lost), then sweeps. */
  async start(): Promise<void> {
    try {
      const n = await this.opts.repo.redriveRequests(pooledSql(this.opts.orm), this.opts.redriveSpreadMs);
      if (n) this.opts.log.info({ pipelines: n }, "re-driving waiting stage requests after start");
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, "could not re-drive stage requests on start");
    }
    this.loop = this.run();
  }

  /** Look again now (a timer became due in this process). */
  poke(): void {
    this.poked = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let handled = 0;
      this.poked = false;
      try {
        handled = await this.sweepOnce();
      } catch (err) {
        if (isConflict(err)) this.opts.log.debug({ err: errorMessage(err) }, "sweep conflicted; next round");
        else this.opts.log.warn({ err: errorMessage(err) }, "sweep failed");
      }
      if (handled >= this.opts.batch || this.poked) continue;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        setTimeout(resolve, this.opts.intervalMs).unref();
      });
      this.wakeUp = undefined;
    }
  }

  /** Handles the due timers once; returns how many. */
  async sweepOnce(): Promise<number> {
    let transitions = 0;
    const handled = await this.opts.outbox.sqlTransaction("sweeper", async (tx) => {
      const ids = await this.opts.repo.lockDue(tx.sql, this.opts.batch);
      if (!ids.length) return 0;
      const uow = new UnitOfWork(tx, this.opts.repo, Date.now(), this.opts.timings);
      await uow.prefetch({ ids });
      for (const id of ids) {
        await this.opts.engine.execute(uow, { kind: "wake", pipelineId: id, correlationId: `timer-${id}` });
      }
      await uow.commit();
      transitions = uow.transitionCount;
      if (uow.woken.length || uow.hasDueTimer) this.poked = true;
      return ids.length;
    });
    this.opts.transitions.inc(transitions);
    return handled;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
  }
}
