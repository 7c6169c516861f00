import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { PollLoop, type Database, type KeyRing, type Logger, type Outbox } from "@procode/service-kit";
import { afterAttempt, isDelivered, type RetryPolicy } from "../domain/notification.js";
import type { WebhookSender } from "../integrations/webhook-sender.js";
import { emitDeliveriesChanged } from "./notification-live.js";
import {
  claimDueDeliveries,
  recordAttempt,
  releaseDeliveries,
  type DueDelivery,
} from "../store/notification.repository.js";

export interface NotificationDeliveryOptions {
  db: Database;
  /** Records each attempt with its live event, in one transaction. */
  outbox: Outbox;
  log: Logger;
  keyRing: KeyRing;
  sender: WebhookSender;
  retry: RetryPolicy;
  /** Time one attempt may take; a claim's lease outlasts it. */
  timeoutMs: number;
  pollMs: number;
  /** Deliveries sent at once. */
  concurrency: number;
}

/**
 * Sends due deliveries (docs/reliability.md "Notifications"). Each pass leases up to `concurrency`
 * PENDING deliveries whose next attempt is due, sends them at once, and records each outcome while
 * still holding the lease: DELIVERED on a 2xx, else the next attempt after a growing delay, FAILED
 * when the retry window is spent. The state lives in the database, so a restart goes on where it
 * stopped; a replica that dies mid-attempt leaves its leases to run out, and the delivery is sent
 * again (at least once; the receiver dedupes on webhook-id).
 */
export class NotificationDeliveryWorker {
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly loop: PollLoop;

  constructor(private readonly opts: NotificationDeliveryOptions) {
    this.loop = new PollLoop({
      name: "notification delivery",
      intervalMs: opts.pollMs,
      log: opts.log,
      tick: () => this.pass(),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Sends what is due now (after new deliveries were written). */
  wake(): void {
    this.loop.wake();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    // Nothing is in flight after the loop stopped: leases still held are given back for others.
    await releaseDeliveries(this.opts.db.sql, this.owner).catch(() => 0);
  }

  /** One pass; true when it claimed a full batch (more may be due). */
  async pass(): Promise<boolean> {
    const { concurrency, timeoutMs } = this.opts;
    const due = await claimDueDeliveries(this.opts.db.sql, {
      owner: this.owner,
      limit: concurrency,
      // Room for the attempt and for recording it.
      ms: timeoutMs + 10_000,
    });
    await Promise.all(due.map((d) => this.attempt(d)));
    return due.length === concurrency;
  }

  private async attempt(d: DueDelivery): Promise<void> {
    const { log } = this.opts;
    let secret: string;
    try {
      secret = this.opts.keyRing.open(d.secret);
    } catch (err) {
      // A key taken out of ENCRYPTION_KEYS: recorded as the attempt's error, retried on schedule.
      return this.record(d, { error: `the signing secret cannot be opened: ${(err as Error).message}` });
    }
    const result = await this.opts.sender.send({ url: d.url, secret, webhookId: d.webhookId, body: d.body });
    await this.record(d, result);
    log.debug({ webhookId: d.webhookId, attempt: d.attempts + 1, result }, "notification attempt");
  }

  private async record(d: DueDelivery, result: { status: number } | { error: string }): Promise<void> {
    const statusCode = "status" in result ? result.status : null;
    const delivered = statusCode !== null && isDelivered(statusCode);
    const outcome = afterAttempt({
      delivered,
      attempts: d.attempts + 1,
      nowMs: Date.now(),
      giveUpAtMs: d.giveUpAt.getTime(),
      policy: this.opts.retry,
      random: Math.random(),
    });
    const error =
      "error" in result
        ? result.error
        : delivered
          ? null
          : statusCode !== null && statusCode >= 300 && statusCode < 400
            ? `answered ${statusCode}; redirects are not followed`
            : `answered ${statusCode}`;
    const kept = await this.opts.outbox.sqlTransaction(d.webhookId, async (tx) => {
      const recorded = await recordAttempt(tx.sql, {
        id: d.id,
        owner: this.owner,
        status: outcome.status,
        statusCode,
        error,
        nextAttemptAt: outcome.status === "PENDING" ? new Date(outcome.nextAttemptAtMs) : null,
      });
      if (recorded) await emitDeliveriesChanged(tx, [d.id]);
      return recorded;
    });
    if (!kept)
      this.opts.log.warn({ webhookId: d.webhookId }, "notification attempt outlived its lease; not recorded");
    else if (outcome.status === "FAILED") {
      this.opts.log.warn(
        { webhookId: d.webhookId, attempts: d.attempts + 1, error },
        "notification delivery failed for good",
      );
    }
  }
}
