import type { GitType } from "@procode/contracts";
import { errorMessage, type Logger, type Orm } from "@procode/service-kit";
import { deliveryRetryDelayMs, MAX_DELIVERY_ATTEMPTS } from "../domain/binding.js";
import { readPush, type RefUpdate } from "../domain/push-event.js";
import { applyBranchPush, recordTagPush } from "../store/branch-head.repository.js";
import { invalidateCachedRefs } from "../store/ref-cache.repository.js";
import type { Db } from "../store/sql.js";
import {
  finishDelivery,
  lockDueDeliveries,
  purgeDeliveries,
  retryDelivery,
  type DeliveryRecord,
} from "../store/webhook-delivery.repository.js";
import { PollLoop } from "./poll-loop.js";

/** Told about every ref update, inside the transaction that records it (iterations hook in here). */
export type RefUpdateListener = (
  em: Db,
  event: { appId: number; gitType: GitType; update: RefUpdate; deliverySeq: number; log: Logger },
) => Promise<void>;

/**
 * Processes stored webhook deliveries in order of receipt: a branch push moves that branch's head
 * (branch_head), a tag push is recorded (tag_push), and the app's cached branch and tag lists are
 * marked out of date. Each delivery is one transaction; a failure is retried with increasing delay.
 */
export class WebhookWorker {
  private readonly loop: PollLoop;
  private readonly listeners: RefUpdateListener[] = [];
  private lastPurge = 0;

  constructor(
    private readonly orm: Orm,
    private readonly log: Logger,
    private readonly opts: { pollMs: number; retentionDays: number },
  ) {
    this.loop = new PollLoop("webhook-worker", opts.pollMs, () => this.tick(), log);
  }

  onRefUpdate(listener: RefUpdateListener): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.loop.start();
  }

  wake(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Processes up to 20 due deliveries; true when there may be more. */
  async tick(): Promise<boolean> {
    let handled = 0;
    for (; handled < 20; handled++) {
      const done = await this.processNext();
      if (!done) break;
    }
    await this.purgeIfDue();
    return handled === 20;
  }

  private async processNext(): Promise<boolean> {
    const em = this.orm.em.fork();
    let delivery: DeliveryRecord | undefined;
    try {
      return await em.transactional(async (tem) => {
        delivery = (await lockDueDeliveries(tem, 1))[0];
        if (!delivery) return false;
        await this.process(tem, delivery);
        return true;
      });
    } catch (err) {
      if (!delivery) throw err;
      const attempts = delivery.attempts + 1;
      const reason = `processing failed: ${errorMessage(err)}`;
      const em2 = this.orm.em.fork();
      if (attempts >= MAX_DELIVERY_ATTEMPTS) await finishDelivery(em2, delivery.seq, "FAILED", reason);
      else await retryDelivery(em2, delivery.seq, reason, deliveryRetryDelayMs(attempts));
      this.log.error(
        { appId: delivery.appId, deliveryId: delivery.deliveryId, attempts, err: errorMessage(err) },
        "webhook delivery processing failed",
      );
      return true;
    }
  }

  private async process(em: Db, d: DeliveryRecord): Promise<void> {
    const log = this.log.child({ appId: d.appId, deliveryId: d.deliveryId, gitType: d.gitType });
    const reading = readPush(d.gitType, d.event, d.payload);
    if (reading.kind === "ignored") {
      await finishDelivery(em, d.seq, "IGNORED", reading.reason);
      log.debug({ reason: reading.reason }, "webhook delivery ignored");
      return;
    }
    const u = reading.update;
    let note = "";
    if (u.kind === "branch") {
      const applied = await applyBranchPush(em, {
        appId: d.appId,
        branch: u.name,
        before: u.before,
        after: u.after,
        seq: d.seq,
      });
      note = applied === "stale" ? " (a newer delivery already moved it)" : "";
    } else {
      await recordTagPush(em, { appId: d.appId, tag: u.name, before: u.before, after: u.after, seq: d.seq });
    }
    await invalidateCachedRefs(em, d.appId);
    for (const listener of this.listeners) {
      await listener(em, { appId: d.appId, gitType: d.gitType, update: u, deliverySeq: d.seq, log });
    }
    const what = `${u.kind} ${u.name} ${u.after ? `-> ${u.after.slice(0, 12)}` : "deleted"}${note}`;
    await finishDelivery(em, d.seq, "PROCESSED", what);
    log.info({ ref: u.ref, after: u.after }, `push recorded: ${what}`);
  }

  private async purgeIfDue(): Promise<void> {
    if (Date.now() - this.lastPurge < 3600_000) return;
    this.lastPurge = Date.now();
    const n = await purgeDeliveries(this.orm.em.fork(), this.opts.retentionDays);
    if (n > 0) this.log.info({ purged: n }, "old webhook deliveries purged");
  }
}
