import { errorMessage, pooledSql, sleep, type Logger, type Orm, type Sql } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { OpsApi } from "../integrations/ops-api.js";
import { deploymentRepository as repo, type Deployment } from "../store/deployment.repository.js";
import type { DeploymentService } from "./deployment.service.js";

export interface DeploymentWorkerDeps {
  orm: Orm;
  ops: OpsApi;
  service: DeploymentService;
  log: Logger;
  config: Pick<
    Config,
    "OPS_SCAN_INTERVAL_MS" | "OPS_LEASE_MS" | "OPS_CONCURRENCY" | "OPS_REPLICA_ID" | "OPS_TIMEOUT_MS"
  >;
}

/**
 * The durable poller (seed 2.5 "Scheduler"). Every replica runs one: it leases deployments that are
 * due from PostgreSQL (SKIP LOCKED, so replicas never take the same row; an expired lease of a dead
 * replica is taken over), runs one step per deployment (create at ops, poll its status, or ask ops
 * to cancel it) and applies the result under the row lock. All schedule state is in the table, so
 * a restart simply continues.
 */
export class DeploymentWorker {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private failing = false;

  private readonly db: Sql;

  constructor(private readonly deps: DeploymentWorkerDeps) {
    this.db = pooledSql(deps.orm);
  }

  async start(): Promise<void> {
    const released = await this.deps.service.releaseOwnLeases();
    if (released) this.deps.log.info({ released }, "took back the leases of an earlier run of this replica");
    this.loop ??= this.run();
  }

  /** Look for due work now (a request was just recorded, or a slot freed up). */
  wake(): void {
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    const { config, log } = this.deps;
    while (!this.stopping) {
      const free = config.OPS_CONCURRENCY - this.inFlight.size;
      let claimed: Deployment[] = [];
      if (free > 0) {
        try {
          claimed = await repo.claimDue(this.db, config.OPS_REPLICA_ID, free, config.OPS_LEASE_MS);
          if (this.failing) log.info("claiming deployments works again");
          this.failing = false;
        } catch (err) {
          if (!this.failing)
            log.warn({ err: errorMessage(err) }, "could not claim due deployments; will retry");
          this.failing = true;
        }
        for (const d of claimed) this.track(this.step(d));
      }
      // A full batch may mean more is due: look again at once while there is room.
      if (claimed.length > 0 && claimed.length === free && this.inFlight.size < config.OPS_CONCURRENCY)
        continue;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        void sleep(config.OPS_SCAN_INTERVAL_MS).then(resolve);
      });
      this.wakeUp = undefined;
    }
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
    this.stopping = true;
    this.wake();
    await this.loop?.catch(() => {});
    await Promise.allSettled([...this.inFlight]);
  }
}
