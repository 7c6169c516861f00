import type { MessageData, PhasePipelineStatusChanged, StageRequested } from "@procode/contracts";
import {
  backoffDelay,
  DomainError,
  errorMessage,
  PollLoop,
  type Database,
  type HandlerResult,
  type Logger,
  type Metrics,
} from "@procode/service-kit";
import { Counter } from "prom-client";
import {
  hasCommitStatuses,
  isFinal,
  statusContext,
  WAITING_TO_RUN,
  statusesForPhase,
  statusesForStageRequest,
  type CommitState,
  type StageStatus,
} from "../domain/commit-status.js";
import { GitProviderError } from "../integrations/git/errors.js";
import {
  claimDueStatuses,
  markPushed,
  markRefused,
  markRetry,
  recordStatuses,
  type CommitStatusRecord,
} from "../store/commit-status.repository.js";
import { findRepo } from "../store/git-repo.repository.js";
import { findPhase } from "../store/iteration-phase.repository.js";
import type { RepositoryAccess } from "../git/repository-access.js";

export interface CommitStatusOptions {
  pollMs: number;
  /** How long a worker holds a row while it pushes it (longer than one provider call). */
  leaseMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** The platform's public URL (the console), or undefined: statuses carry no link. */
  publicBaseUrl: string | undefined;
}

/** A provider failure worth trying again later: it could not be reached or did not answer in time. */
const isTransient = (err: unknown) =>
  err instanceof GitProviderError && (err.failure === "unavailable" || err.failure === "timeout");

/**
 * Commit statuses of releases (docs/services/dev-svc.md "Commit statuses"): the engine's events are
 * turned into the state each stage's context should show on the released commit (recorded in
 * commit_status, a later state only), and a worker pushes each new state to the provider. A
 * provider that is down delays the statuses, never the pipeline; a refused push (a credential the
 * provider refuses, a repository gone) is recorded and not retried until a newer state comes.
 */
export class CommitStatuses {
  private readonly loop: PollLoop;
  private readonly pushes: Counter<"provider" | "outcome">;

  constructor(
    private readonly db: Database,
    private readonly access: RepositoryAccess,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly opts: CommitStatusOptions,
  ) {
    this.pushes = new Counter({
      name: "commit_status_pushes_total",
      help: "Commit status pushes by provider and outcome (pushed, retry, refused)",
      labelNames: ["provider", "outcome"],
      registers: [metrics.registry],
    });
    this.loop = new PollLoop({
      name: "commit status worker",
      intervalMs: opts.pollMs,
      tick: () => this.tick(),
      log,
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  onPhaseStatus(d: MessageData<typeof PhasePipelineStatusChanged>): Promise<HandlerResult> {
    const statuses = statusesForPhase({
      status: d.status,
      stage: d.stage ?? null,
      attempt: d.attempt ?? 0,
      failedStage: d.failedStage,
      error: d.error,
    });
    return this.record(d.pipelineId, d.appId, d.iterationPhaseId, statuses);
  }

  onStageRequested(d: MessageData<typeof StageRequested>): Promise<HandlerResult> {
    return this.record(
      d.pipelineId,
      d.appId,
      d.iterationPhaseId,
      statusesForStageRequest(d.stage, d.attempt),
    );
  }

  private async record(
    pipelineId: number,
    appId: number,
    iterationPhaseId: number,
    statuses: StageStatus[],
  ): Promise<HandlerResult> {
    const repo = await findRepo(this.db.sql, appId);
    if (!repo || !hasCommitStatuses(repo.gitType)) return "ignored";
    const phase = await findPhase(this.db.sql, iterationPhaseId);
    if (!phase?.commitId || phase.appId !== appId) {
      this.log.warn({ pipelineId, iterationPhaseId }, "commit statuses: release not recorded here; ignored");
      return "ignored";
    }
    const target = { pipelineId, appId, iterationPhaseId, commitId: phase.commitId };
    const changed = await this.db.transaction((sql) => recordStatuses(sql, target, statuses));
    if (changed === 0) return "duplicate";
    this.loop.wake();
    return "done";
  }

  /** Pushes up to 10 due statuses; true when there may be more. */
  async tick(): Promise<boolean> {
    const rows = await claimDueStatuses(this.db.sql, 10, this.opts.leaseMs);
    for (const row of rows) await this.push(row);
    return rows.length === 10;
  }

  private targetUrl(row: CommitStatusRecord): string | null {
    const base = this.opts.publicBaseUrl;
    return base ? `${base}/pipelines/${row.pipelineId}?stage=${row.stage}` : null;
  }

  private async push(row: CommitStatusRecord): Promise<void> {
    const log = this.log.child({ pipelineId: row.pipelineId, stage: row.stage, commitId: row.commitId });
    let provider = "?";
    try {
      const found = await this.access.forApp(row.appId, { strict: true });
      provider = found.repo.gitType;
      if (!hasCommitStatuses(found.repo.gitType)) {
        await markPushed(this.db.sql, row.id, row.version);
        return;
      }
      const show = (state: CommitState, description: string) =>
        found.provider.setCommitStatus(row.commitId, {
          state,
          context: statusContext(row.stage),
          description,
          targetUrl: this.targetUrl(row),
        });
      // A stage that ended before the worker first reached its context (not for want of a
      // provider: no push of it failed) is shown waiting first, so the provider reads pending ->
      // its end; after an outage, only the end is pushed.
      const neverTried = row.pushedVersion === 0 && row.lastError === null;
      if (neverTried && isFinal(row.state)) await show("pending", WAITING_TO_RUN);
      await show(row.state, row.description);
      await markPushed(this.db.sql, row.id, row.version);
      this.pushes.labels(provider, "pushed").inc();
      log.debug({ state: row.state }, "commit status pushed");
    } catch (err) {
      const message = errorMessage(err);
      const attempts = row.pushAttempts + 1;
      if (isTransient(err) && attempts < this.opts.maxAttempts) {
        const delay = backoffDelay(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs);
        await markRetry(this.db.sql, row.id, message, delay);
        this.pushes.labels(provider, "retry").inc();
        log.info({ attempts, delayMs: delay, err: message }, "commit status not pushed; will retry");
        return;
      }
      if (!(err instanceof DomainError)) log.error({ err: message }, "commit status push failed");
      const why = isTransient(err) ? `gave up after ${attempts} attempts: ${message}` : message;
      await markRefused(this.db.sql, row.id, row.version, why);
      this.pushes.labels(provider, "refused").inc();
      log.warn({ state: row.state, err: why }, "commit status refused; waiting for a newer state");
    }
  }
}
