import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { Counter, Gauge, Histogram } from "prom-client";
import { StageCompleted, StageWaiting, type PhaseStage } from "@procode/contracts";
import {
  errorMessage,
  RetryLaterError,
  type HandlerContext,
  type HandlerResult,
  type Logger,
  type Metrics,
  type Database,
  type Outbox,
  StageLog,
  type StageLogEntry,
  type StageLogStore,
} from "@procode/service-kit";
import { findApp } from "../store/app-projection.repository.js";
import {
  claimStageRun,
  findStageRun,
  finishStageRun,
  isLeased,
  releaseStageRun,
  renewStageRunLease,
  type StageRunRecord,
} from "../store/stage-run.repository.js";
import {
  failedResult,
  isKnownFailure,
  StageTimeoutError,
  type StageRequest,
  type StageResult,
  type StageWork,
} from "./stage-work.js";

export interface StageRunnerOptions {
  /** Aborted when the service stops: attempts in hand are abandoned for redelivery, never failed. */
  stopping?: AbortSignal;
  /** Lease on a running attempt, renewed every third of it; a runner that died is taken over after it. */
  leaseMs: number;
  /** Deliveries of a request for an app dev-svc has not heard of that are deferred before it fails. */
  unknownAppRetries?: number;
}

class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** The service is stopping: the attempt is given back, and its request comes again. */
class AbandonedError extends Error {
  override name = "AbandonedError";
}

/**
 * Runs stage attempts for the stage runners, at least once and idempotently per (pipelineId, stage,
 * attempt): the attempt is claimed in stage_run, its work runs under a renewed lease and a timeout,
 * and the result is recorded and published (stage.completed.v1, through the outbox) in one
 * transaction. A request for an attempt already finished re-publishes the recorded result; one for an
 * attempt running under another live lease is left to that runner.
 */
export class StageRunnerService {
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly works = new Map<PhaseStage, StageWork>();
  private readonly requests: Counter<"stage" | "result">;
  private readonly duration: Histogram<"stage" | "outcome">;
  private readonly waitingNow: Gauge<"stage">;

  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
    metrics: Metrics,
    private readonly opts: StageRunnerOptions,
    works: StageWork[],
    private readonly logs: StageLogStore,
  ) {
    for (const w of works) this.works.set(w.stage, w);
    this.requests = new Counter({
      name: "stage_runner_requests_total",
      help: "Stage requests by stage and what was done (SUCCESS, FAILED, republished, running_elsewhere, deferred, abandoned)",
      labelNames: ["stage", "result"],
      registers: [metrics.registry],
    });
    this.duration = new Histogram({
      name: "stage_run_duration_seconds",
      help: "Duration of stage attempts run here, by stage and outcome",
      labelNames: ["stage", "outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800],
      registers: [metrics.registry],
    });
    this.waitingNow = new Gauge({
      name: "stage_attempts_waiting",
      help: "Stage attempts here waiting for an outside system that does not answer, by stage",
      labelNames: ["stage"],
      registers: [metrics.registry],
    });
  }

  get stages(): PhaseStage[] {
    return [...this.works.keys()];
  }

  async handle(request: StageRequest, ctx: HandlerContext): Promise<HandlerResult> {
    const work = this.works.get(request.stage);
    if (!work) {
      ctx.log.warn({ stage: request.stage }, "no runner for this stage here; ignored");
      return "ignored";
    }
    const key = { pipelineId: request.pipelineId, stage: request.stage, attempt: request.attempt };
    const log = ctx.log.child(key);
    const sql = this.db.sql;
    const existing = await findStageRun(sql, key);
    if (existing && existing.status !== "RUNNING") return this.republish(existing, ctx.correlationId, log);
    if (existing && (await isLeased(sql, existing.id))) return this.runningElsewhere(request.stage, log);

    const app = await findApp(sql, request.appId);
    if (!app && ctx.deliveryCount <= (this.opts.unknownAppRetries ?? 3)) {
      this.requests.labels(request.stage, "deferred").inc();
      // The app's events may still be on their way (retry later, not drop).
      throw new RetryLaterError(`app ${request.appId} is not known here yet`, 1000 * ctx.deliveryCount);
    }

    const claimed = await claimStageRun(
      sql,
      key,
      request.appId,
      this.owner,
      this.opts.leaseMs,
      ctx.correlationId,
    );
    if (!claimed) {
      const now = await findStageRun(sql, key);
      if (now && now.status !== "RUNNING") return this.republish(now, ctx.correlationId, log);
      return this.runningElsewhere(request.stage, log);
    }
    if (claimed.runs > 1)
      log.warn({ runs: claimed.runs }, "taking over an attempt whose runner stopped renewing its lease");
    log.info({ appId: request.appId, tag: request.tag }, `${request.stage} attempt started`);
    const attempt = { ...key, appId: request.appId, team: request.team };
    const out = new StageLog(this.logs, this.outbox, attempt, ctx.correlationId, log);
    out.info(
      claimed.runs > 1
        ? `${request.stage} attempt ${request.attempt} taken over from a runner that stopped (run ${claimed.runs})`
        : `${request.stage} attempt ${request.attempt} started for tag ${request.tag}`,
    );

    const started = Date.now();
    const result = await this.runWork(work, request, app, claimed, log, ctx.correlationId, out);
    await out.flush();
    if (result === null) return "ignored";
    if (result === "abandoned") {
      // Given back, not failed: the redelivered request (here after a restart, or on another
      // replica) runs the attempt again under the same idempotency keys.
      out.warn(
        `${request.stage} attempt given back: the service is stopping; it runs again after redelivery`,
      );
      await out.flush();
      await releaseStageRun(this.db.sql, claimed.id, this.owner).catch(() => {});
      this.requests.labels(request.stage, "abandoned").inc();
      log.info(`${request.stage} attempt abandoned: the service is stopping; it will be redelivered`);
      throw new RetryLaterError(`${request.stage} attempt abandoned while stopping`, 1000);
    }
    this.duration.labels(request.stage, result.outcome).observe((Date.now() - started) / 1000);

    let recorded: StageRunRecord | null;
    try {
      recorded = await this.outbox.sqlTransaction(ctx.correlationId, async (tx) => {
        const rec = await finishStageRun(tx.sql, claimed.id, this.owner, clean(result));
        if (rec) {
          tx.emit(StageCompleted, completedOf(rec));
          await this.logs.append(tx, attempt, [lastLine(request.stage, result)]);
        }
        return rec;
      });
    } catch (err) {
      // Nothing recorded: the redelivery may take the attempt at once and run it again.
      await releaseStageRun(this.db.sql, claimed.id, this.owner).catch(() => {});
      throw err;
    }
    if (!recorded) {
      log.warn("the attempt was taken over by another runner before its result was recorded; dropped");
      return "ignored";
    }
    this.requests.labels(request.stage, result.outcome).inc();
    if (result.outcome === "SUCCESS") log.info(`${request.stage} attempt succeeded`);
    else log.warn({ error: result.error }, `${request.stage} attempt failed`);
    return "done";
  }

  /** The stage's work under the lease and the timeout; null when the attempt is no longer ours. */
  private async runWork(
    work: StageWork,
    request: StageRequest,
    app: Awaited<ReturnType<typeof findApp>>,
    claimed: StageRunRecord,
    log: Logger,
    correlationId: string,
    out: StageLog,
  ): Promise<StageResult | null | "abandoned"> {
    const abort = new AbortController();
    let step = "starting";
    const stopping = this.opts.stopping;
    const onStop = () => abort.abort(new AbandonedError("the service is stopping"));
    if (stopping?.aborted) onStop();
    stopping?.addEventListener("abort", onStop, { once: true });
    const renew = setInterval(
      () =>
        void renewStageRunLease(this.db.sql, claimed.id, this.owner, this.opts.leaseMs).then(
          (held) => {
            if (!held) abort.abort(new LeaseLostError("the attempt's lease was taken over"));
          },
          (err) => log.warn({ err: errorMessage(err) }, "could not renew the attempt's lease"),
        ),
      Math.max(200, Math.floor(this.opts.leaseMs / 3)),
    );
    // The attempt's bound counts only the time the outside systems answer: while one does not, the
    // attempt waits (docs/reliability.md "Waiting is not failing") and its clock stands still.
    let budgetMs = work.timeoutMs;
    let clockFrom = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const runClock = () => {
      clockFrom = Date.now();
      timer = setTimeout(
        () =>
          abort.abort(
            new StageTimeoutError(`${work.stage} did not finish within ${work.timeoutMs} ms (while ${step})`),
          ),
        Math.max(0, budgetMs),
      );
    };
    runClock();
    let waitingFor: string | null = null;
    // The engine shows the waiting on the attempt's checkpoint: told when it starts and ends.
    const report = (reason: string | null) =>
      void this.outbox
        .sqlTransaction(correlationId, async (tx) => {
          tx.emit(StageWaiting, {
            pipelineId: request.pipelineId,
            stage: request.stage,
            attempt: request.attempt,
            reason,
            at: new Date().toISOString(),
          });
        })
        .catch((err: unknown) =>
          log.warn({ err: errorMessage(err) }, "could not tell the engine the attempt waits (or goes on)"),
        );
    const waiting = (reason: string | null) => {
      if (reason !== null && waitingFor === null) {
        clearTimeout(timer);
        budgetMs -= Date.now() - clockFrom;
        this.waitingNow.labels(work.stage).inc();
        log.warn({ reason }, `${work.stage} attempt waiting: ${reason}`);
        report(reason);
        out.warn(`waiting: ${reason} (waiting does not fail the attempt, nor count against its time)`);
      } else if (reason === null && waitingFor !== null) {
        this.waitingNow.labels(work.stage).dec();
        log.info(`${work.stage} attempt goes on: the outside system answers again`);
        report(null);
        out.info("the outside system answers again; going on");
        runClock();
      }
      waitingFor = reason;
    };
    const aborted = new Promise<never>((_, reject) =>
      abort.signal.addEventListener("abort", () => reject(abort.signal.reason as Error), { once: true }),
    );
    aborted.catch(() => {});
    try {
      return await Promise.race([
        work.run({
          request,
          app,
          signal: abort.signal,
          log,
          out,
          step: (what) => {
            step = what;
          },
          waiting,
        }),
        aborted,
      ]);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        log.warn("another runner took the attempt over; this run's result is dropped");
        return null;
      }
      if (err instanceof AbandonedError || stopping?.aborted) return "abandoned";
      if (!isKnownFailure(err)) log.error({ err, step }, `${work.stage} attempt failed unexpectedly`);
      return failedResult(work.stage, err, step);
    } finally {
      if (waitingFor !== null) this.waitingNow.labels(work.stage).dec();
      stopping?.removeEventListener("abort", onStop);
      clearInterval(renew);
      clearTimeout(timer);
      if (!abort.signal.aborted) abort.abort(new Error("attempt finished"));
    }
  }

  private async republish(run: StageRunRecord, correlationId: string, log: Logger): Promise<HandlerResult> {
    await this.outbox.sqlTransaction(correlationId, async (tx) => {
      tx.emit(StageCompleted, completedOf(run));
    });
    this.requests.labels(run.stage, "republished").inc();
    log.info({ outcome: run.status }, "attempt already finished; its result is published again");
    return "duplicate";
  }

  private runningElsewhere(stage: PhaseStage, log: Logger): HandlerResult {
    this.requests.labels(stage, "running_elsewhere").inc();
    log.debug("attempt running under a live lease; its result will follow");
    return "ignored";
  }
}

/** The attempt's last log line, stored with its result. */
function lastLine(stage: PhaseStage, result: StageResult): StageLogEntry {
  return result.outcome === "SUCCESS"
    ? { level: "INFO", text: `${stage} succeeded` }
    : {
        level: "ERROR",
        text: `${stage} failed${result.error.retryable ? "" : " (running it again cannot help)"}: ${result.error.message}`,
      };
}

function completedOf(run: StageRunRecord) {
  return {
    pipelineId: run.pipelineId,
    stage: run.stage,
    attempt: run.attempt,
    outcome: run.status === "SUCCESS" ? ("SUCCESS" as const) : ("FAILED" as const),
    output: run.output,
    error: run.error,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt ?? new Date().toISOString(),
  };
}

/** The result as stored: text columns and jsonb refuse NUL characters, which outside messages may carry. */
function clean(result: StageResult) {
  const strip = <T>(v: T): T => JSON.parse(JSON.stringify(v).replaceAll("\\u0000", "")) as T;
  return result.outcome === "SUCCESS"
    ? { status: "SUCCESS" as const, output: strip(result.output), error: null }
    : {
        status: "FAILED" as const,
        output: result.output === null ? null : strip(result.output),
        error: strip(result.error),
      };
}
