import { randomUUID } from "node:crypto";
import {
  errorMessage,
  PollLoop,
  type Database,
  type Logger,
  type Outbox,
  type SqlTxContext,
} from "@procode/service-kit";
import { deliveryRetryDelayMs, MAX_DELIVERY_ATTEMPTS } from "../domain/binding.js";
import { readPush } from "../domain/push-event.js";
import { applyBranchPush, recordTagPush } from "../store/branch-head.repository.js";
import { invalidateCachedRefs } from "../store/ref-cache.repository.js";
import {
  finishDelivery,
  lockDueDeliveries,
  purgeDeliveries,
  retryDelivery,
  type DeliveryRecord,
} from "../store/webhook-delivery.repository.js";
import { emitWebhookDeliveryChanged } from "./webhook-delivery-live.js";

/**
 * Processes stored webhook deliveries in order of receipt: a branch push moves that branch's head
 * (branch_head), a tag push is recorded (tag_push), and the app's cached branch and tag lists are
 * marked out of date. Each delivery is one transaction, with its live event; a failure is retried
 * with increasing delay.
 */
export class WebhookWorker {
  private readonly loop: PollLoop;
  private lastPurge = 0;

  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
    private readonly log: Logger,
    private readonly opts: { pollMs: number; retentionDays: number },
  ) {
    this.loop = new PollLoop({
      name: "webhook worker",
      intervalMs: opts.pollMs,
      tick: () => this.tick(),
      log,
    });
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
    let delivery: DeliveryRecord | undefined;
    try {
      return await this.outbox.sqlTransaction(randomUUID(), async (tx) => {
        delivery = (await lockDueDeliveries(tx.sql, 1))[0];
        if (!delivery) return false;
        await this.process(tx, delivery);
        await emitWebhookDeliveryChanged(tx, delivery.seq);
        return true;
      });
    } catch (err) {
      if (!delivery) throw err;
      const attempts = delivery.attempts + 1;
      const reason = `processing failed: ${errorMessage(err)}`;
      const failed = delivery;
      await this.outbox.sqlTransaction(randomUUID(), async (tx) => {
        if (attempts >= MAX_DELIVERY_ATTEMPTS) await finishDelivery(tx.sql, failed.seq, "FAILED", reason);
        else await retryDelivery(tx.sql, failed.seq, reason, deliveryRetryDelayMs(attempts));
        await emitWebhookDeliveryChanged(tx, failed.seq);
      });
      this.log.error(
        { appId: delivery.appId, deliveryId: delivery.deliveryId, attempts, err: errorMessage(err) },
        "webhook delivery processing failed",
      );
      return true;
    }
  }

  private async process({ sql }: SqlTxContext, d: DeliveryRecord): Promise<void> {
    const log = this.log.child({ appId: d.appId, deliveryId: d.deliveryId, gitType: d.gitType });
    const reading = readPush(d.gitType, d.event, d.payload);
    if (reading.kind === "ignored") {
      await finishDelivery(sql, d.seq, "IGNORED", reading.reason);
      log.debug({ reason: reading.reason }, "webhook delivery ignored");
      return;
    }
    const u = reading.update;
    let note = "";
    if (u.kind === "branch") {
      const applied = await applyBranchPush(sql, {
        appId: d.appId,
        branch: u.name,
        before: u.before,
        after: u.after,
        seq: d.seq,
      });
      note = applied === "stale" ? " (a newer delivery already moved it)" : "";
    } else {
      await recordTagPush(sql, { appId: d.appId, tag: u.name, before: u.before, after: u.after, seq: d.seq });
    }
    await invalidateCachedRefs(sql, d.appId);
    const what = `${u.kind} ${u.name} ${u.after ? `-> ${u.after.slice(0, 12)}` : "deleted"}${note}`;
    await finishDelivery(sql, d.seq, "PROCESSED", what);
    log.info({ ref: u.ref, after: u.after }, `push recorded: ${what}`);
  }

  private async purgeIfDue(): Promise<void> {
    if (Date.now() - this.lastPurge < 3600_000) return;
    this.lastPurge = Date.now();
    const n = await purgeDeliveries(this.db.sql, this.opts.retentionDays);
    if (n > 0) this.log.info({ purged: n }, "old webhook deliveries purged");
  }
}
