import { PollLoop, type Database, type Logger, type Sql } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { OpsApi } from "../integrations/ops-api.js";
import * as repo from "../store/deployment.repository.js";
import type { Deployment } from "../store/deployment.repository.js";
import type { DeploymentService } from "./deployment.service.js";

export interface DeploymentWorkerDeps {
  db: Database;
  ops: OpsApi;
  service: DeploymentService;
  log: Logger;
  config: Pick<
    Config,
    "OPS_SCAN_INTERVAL_MS" | "OPS_LEASE_MS" | "OPS_CONCURRENCY" | "OPS_REPLICA_ID" | "OPS_TIMEOUT_MS"
  >;
}

/**
 * The durable poller. Every replica runs one: it leases deployments that are
 * due from PostgreSQL (SKIP LOCKED, so replicas never take the same row; an expired lease of a dead
 * replica is taken over), runs one step per deployment (create at ops, poll its status, or ask ops
 * to cancel it) and applies the result under the row lock. All schedule state is in the table, so
 * a restart simply continues.
 */
export class DeploymentWorker {
  private readonly loop: PollLoop;
  private readonly inFlight = new Set<Promise<void>>();

  private readonly db: Sql;

  constructor(private readonly deps: DeploymentWorkerDeps) {
    this.db = deps.db.sql;
    this.loop = new PollLoop({
      name: "deployment worker",
      intervalMs: deps.config.OPS_SCAN_INTERVAL_MS,
      log: deps.log,
      tick: () => this.claim(),
    });
  }

  async start(): Promise<void> {
    const released = await this.deps.service.releaseOwnLeases();
    if (released) this.deps.log.info({ released }, "took back the leases of an earlier run of this replica");
    this.loop.start();
  }

  /** Look for due work now (a request was just recorded, or a slot freed up). */
  wake(): void {
    this.loop.wake();
  }

  /** Leases as many due deployments as there are free slots and starts their steps. */
  private async claim(): Promise<boolean> {
    const { config } = this.deps;
    const free = config.OPS_CONCURRENCY - this.inFlight.size;
    if (free <= 0) return false;
    const claimed = await repo.claimDue(this.db, config.OPS_REPLICA_ID, free, config.OPS_LEASE_MS);
    for (const d of claimed) this.track(this.step(d));
    // A full batch may mean more is due: look again at once while there is room.
    return claimed.length > 0 && claimed.length === free && this.inFlight.size < config.OPS_CONCURRENCY;
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      const wasFull = this.inFlight.size >= this.deps.config.OPS_CONCURRENCY;
      this.inFlight.delete(p);
      if (wasFull) this.wake();
    });
  }

  private async step(d: Deployment): Promise<void> {
    const { ops, service, log } = this.deps;
    try {
      if (d.status === "CREATING") {
        const answer = await ops.createDeployment(
          { appId: d.appId, image: d.image, config: d.deployConfig },
          d.requestKey,
        );
        await service.applyCreate(d, answer);
      } else if (d.status === "DEPLOYING" && d.deployId) {
        await service.applyPoll(d, await ops.deploymentStatus(d.deployId));
      } else if (d.cancelState === "PENDING" && d.deployId) {
        await service.applyCancel(d, await ops.cancelDeployment(d.deployId));
      } else {
        await service.releaseIdle(d);
      }
    } catch (err) {
      log.error({ err, deploymentId: d.id, deployId: d.deployId }, "deployment step failed; will retry");
      await service.releaseAfterError(d).catch(() => {
        // The lease runs out by itself and another pass takes the row again.
      });
    }
  }

  /** Stops claiming and waits for the steps in hand (each bounded by OPS_TIMEOUT_MS). */
  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.inFlight]);
  }
}
