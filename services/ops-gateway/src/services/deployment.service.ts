import type { z } from "zod";
import {
  DEFAULT_DEPLOY_CONFIG,
  DeploymentChanged,
  DeploymentFinished,
  DeploymentStarted,
  DeploymentWaiting,
  PHASE_STAGE_DEFAULTS,
  type DeployCallback,
  type DeployCallbackResponse,
  type MessageData,
  type MessageDefinition,
  type MessageOf,
  type StageRequested,
  type DeploymentCancelRequested,
} from "@procode/contracts";
import {
  DomainError,
  sleep,
  type Database,
  type HandlerResult,
  type Logger,
  type Outbox,
  type Sql,
  type SqlTxContext,
  type StageLogAttempt,
  type StageLogEntry,
  type StageLogHead,
  type StageLogStore,
} from "@procode/service-kit";
import type { StageLogLine } from "@procode/contracts";
import type { Config } from "../config.js";
import { deploymentRequestKey } from "./request-key.js";
import {
  decideAfterCancel,
  decideAfterCreate,
  decideAfterPoll,
  decideCallback,
  isActive,
  retryDelayMs,
  type DeploymentState,
  type OpsAnswer,
  type Outcome,
  type StepDecision,
  type Via,
} from "../domain/deployment.js";
import * as repo from "../store/deployment.repository.js";
import type { Along, Deployment, DeploymentPatch, Observation } from "../store/deployment.repository.js";

interface DeploymentMetrics {
  finished(outcome: Outcome, via: Via): void;
}

export interface DeploymentServiceDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
  config: Pick<
    Config,
    | "OPS_POLL_INTERVAL_MS"
    | "OPS_TIMEOUT_MS"
    | "OPS_RETRY_BASE_MS"
    | "OPS_RETRY_MAX_MS"
    | "OPS_CANCEL_MAX_ATTEMPTS"
    | "OPS_REPLICA_ID"
    | "ENV_NAME"
  >;
  metrics: DeploymentMetrics;
  /** DEPLOY's stage logs: what was asked of the ops module and what it answered. */
  logs: StageLogStore;
  random?: () => number;
}

const EVENTS: Record<string, MessageDefinition> = {
  [DeploymentStarted.type]: DeploymentStarted,
  [DeploymentWaiting.type]: DeploymentWaiting,
  [DeploymentFinished.type]: DeploymentFinished,
};

const STATUS_OF: Record<Outcome, Deployment["status"]> = {
  SUCCESS: "SUCCESS",
  FAILED: "FAILED",
  TIMEOUT: "TIMEOUT",
  CANCELLED: "CANCELLED",
};

/** Longest a callback for an unknown deployId waits for a create on its way (and between looks). */
const CALLBACK_WAIT_MAX_MS = 3000;
const CALLBACK_WAIT_STEP_MS = 20;

/** The live `deployment` event's part that the ops event it goes with decides. */
function liveOf(
  type: string,
  data: Record<string, unknown>,
): Pick<MessageData<typeof DeploymentChanged>, "deployId" | "state" | "outcome" | "message"> | null {
  const deployId = typeof data["deployId"] === "string" && data["deployId"] ? data["deployId"] : null;
  switch (type) {
    case DeploymentStarted.type:
      return { deployId, state: "STARTED", outcome: null, message: null };
    case DeploymentWaiting.type:
      return { deployId, state: "WAITING_OPS", outcome: null, message: String(data["reason"]) };
    case DeploymentFinished.type:
      return {
        deployId,
        state: "FINISHED",
        outcome: data["outcome"] as Outcome,
        message: String(data["message"]),
      };
    default:
      return null;
  }
}

/** Which path saw an outcome first, in the words of the stage log. */
const VIA_WORDS: Record<Via, string> = {
  POLL: "a status poll",
  CALLBACK: "the ops module's callback",
  TIMEOUT: "the deadline",
  CANCEL: "a cancel",
  CREATE: "the create",
};

const released: DeploymentPatch = { leaseOwner: null, leaseUntil: null };

/**
 * What a transaction has still to write, with the deployment's update (`along`) or at its end: what
 * the ops module said, and the DEPLOY log's lines placed at the head read with the deployment's lock.
 */
interface Unwritten {
  observations: Observation[];
  log?: { attempt: StageLogAttempt; head: StageLogHead; lines: StageLogLine[] };
}

function stateOf(d: Deployment): DeploymentState {
  return {
    status: d.status,
    deployId: d.deployId,
    pollIntervalMs: d.pollIntervalMs,
    pollTimeoutMs: d.pollTimeoutMs,
    deadline: d.deadline,
    failures: d.failures,
    waitingSince: d.waitingSince,
  };
}

/**
 * The deployment use cases: a DEPLOY request, the steps the worker runs (create, poll, cancel at
 * ops), a callback, a cancel. Every change of a deployment happens under its row lock, in the same
 * transaction as the events it causes, so exactly one path ends it and publishes its outcome.
 */
export class DeploymentService {
  private readonly random: () => number;
  private readonly me: string;

  /** Statements outside a transaction, on the pool. */
  private readonly db: Sql;

  /**
   * Creates the ops module has answered whose answer this replica is recording, by deployId: a
   * callback for one of them waits for the record instead of looking for it in vain.
   */
  private readonly recording = new Map<string, Promise<void>>();

  /** What a transaction has to write still: observations (`observe`) and log lines (`say`). */
  private readonly unwritten = new WeakMap<SqlTxContext, Unwritten>();

  constructor(private readonly deps: DeploymentServiceDeps) {
    this.db = deps.db.sql;
    this.random = deps.random ?? Math.random;
    this.me = deps.config.OPS_REPLICA_ID;
  }

  private get tuning() {
    return { retryBaseMs: this.deps.config.OPS_RETRY_BASE_MS, retryMaxMs: this.deps.config.OPS_RETRY_MAX_MS };
  }

  /**
   * Runs `fn` in a transaction (the outbox's); what the ops module said and the log's lines are
   * written with the deployment's update (`along`), or at the end when no update took them.
   */
  private transaction<T>(correlationId: string, fn: (tx: SqlTxContext) => Promise<T>): Promise<T> {
    return this.deps.outbox.sqlTransaction(correlationId, async (tx) => {
      const out = await fn(tx);
      // What no update took goes in one last statement, with the outbox's rows and COMMIT.
      if (this.hasUnwritten(tx)) await repo.writeAlong(this.last(tx), this.along(tx));
      return out;
    });
  }

  private hasUnwritten(tx: SqlTxContext): boolean {
    const u = this.unwritten.get(tx);
    return !!u && (u.observations.length > 0 || (u.log?.lines.length ?? 0) > 0);
  }

  private unwrittenOf(tx: SqlTxContext): Unwritten {
    let u = this.unwritten.get(tx);
    if (!u) this.unwritten.set(tx, (u = { observations: [] }));
    return u;
  }

  /** Notes an answer of the ops module, to be written in this transaction. */
  private observe(tx: SqlTxContext, o: Omit<Observation, "observer">): void {
    this.unwrittenOf(tx).observations.push({ ...o, observer: this.me });
  }

  /**
   * What a deployment's update carries along in its statement: the log's lines (whose live events
   * were emitted as they were said), outbox rows and observations.
   */
  private along(tx: SqlTxContext): Along[] {
    const lines: Along = (first) => {
      const log = this.unwritten.get(tx)?.log;
      const taken = log?.lines.splice(0) ?? [];
      return log && taken.length ? this.deps.logs.placedParts(log.attempt, log.head, taken, first) : null;
    };
    const observations: Along = (first) => {
      const list = this.unwritten.get(tx)?.observations.splice(0) ?? [];
      return list.length ? repo.observationInsert(list, first) : null;
    };
    return [lines, tx.takeOutboxInsert, observations];
  }

  /**
   * The transaction's last statement, sent with COMMIT (`TxSql.last`): a deployment's update that
   * carries along everything the transaction has to write.
   */
  private last(tx: SqlTxContext): Sql {
    return {
      query: (...args) => {
        // Refused before anything is sent: the statement would commit without them.
        if (this.hasUnwritten(tx))
          throw new Error("the transaction's last statement leaves observations or log lines to write");
        return tx.sql.last.query(...args);
      },
    };
  }

  /** Emits an event of this deployment and remembers it, so a repeated request can get it again. */
  private emit<D extends MessageDefinition>(
    tx: SqlTxContext,
    d: Deployment,
    def: D,
    data: z.input<D["data"]>,
  ): DeploymentPatch {
    tx.emit(def, data, { correlationId: d.correlationId });
    const live = liveOf(def.type, data as Record<string, unknown>);
    // For people (`GET /events`), in the same transaction; a cancel's tombstone has no team to tell.
    if (live && d.team && d.appId) {
      tx.emit(
        DeploymentChanged,
        { pipelineId: d.pipelineId, appId: d.appId, attempt: d.attempt, ...live },
        { team: d.team, correlationId: d.correlationId },
      );
    }
    return { lastEventType: def.type, lastEventData: data as Record<string, unknown> };
  }

  /**
   * Adds lines to the DEPLOY attempt's log, in the transaction of the change they tell of. Where the
   * deployment was read with its lock, and with it where its log stands, the lines are numbered and
   * announced now and written with the deployment's update (`along`); otherwise at once.
   */
  private async say(tx: SqlTxContext, d: Deployment, ...entries: StageLogEntry[]): Promise<void> {
    // A cancel that came before its request leaves a row with no app or team: nobody reads its log.
    if (!d.appId || !d.team) return;
    const attempt = {
      pipelineId: d.pipelineId,
      stage: "DEPLOY",
      attempt: d.attempt,
      appId: d.appId,
      team: d.team,
    } as const;
    if (!d.logHead) return void (await this.deps.logs.append(tx, attempt, entries));
    const u = this.unwrittenOf(tx);
    u.log ??= { attempt, head: { ...d.logHead }, lines: [] };
    u.log.lines.push(...this.deps.logs.appendAt(tx, u.log.attempt, u.log.head, entries));
  }

  private async finish(
    tx: SqlTxContext,
    d: Deployment,
    outcome: Outcome,
    via: Via,
    message: string,
    now: Date,
    /** Lines that come before the outcome's, written with it in one append. */
    before: StageLogEntry[] = [],
  ): Promise<DeploymentPatch> {
    await this.say(tx, d, ...before, {
      level: outcome === "SUCCESS" ? "INFO" : outcome === "CANCELLED" ? "WARN" : "ERROR",
      text: `deployment ${d.deployId ?? "(not created)"} ended ${outcome} (seen by ${VIA_WORDS[via]}): ${message}`,
    });
    const patch = this.emit(tx, d, DeploymentFinished, {
      pipelineId: d.pipelineId,
      attempt: d.attempt,
      deployId: d.deployId ?? "",
      outcome,
      message,
      via,
      finishedAt: now.toISOString(),
    });
    this.deps.metrics.finished(outcome, via);
    this.deps.log.info(
      { pipelineId: d.pipelineId, attempt: d.attempt, deployId: d.deployId, outcome, via },
      "deployment finished",
    );
    return {
      ...patch,
      status: STATUS_OF[outcome],
      outcome,
      outcomeVia: via,
      outcomeMessage: message,
      finishedAt: now,
      nextPollAt: null,
      waitingSince: null,
    };
  }

  /** Sends the last event of a deployment again (the engine repeats a request until it hears back). */
  private republish(tx: SqlTxContext, d: Deployment): boolean {
    const def = d.lastEventType ? EVENTS[d.lastEventType] : undefined;
    if (!def || !d.lastEventData) return false;
    tx.emit(def, d.lastEventData, { correlationId: d.correlationId });
    return true;
  }

  // --- messages --------------------------------------------------------------------------------------

  /** `stage.requested.v1` for DEPLOY: record the deployment once per attempt; the worker creates it. */
  async requestDeployment(message: MessageOf<typeof StageRequested>, log: Logger): Promise<HandlerResult> {
    const r = message.data;
    if (r.stage !== "DEPLOY") return "ignored";
    const now = new Date();
    const interval = r.stageConfig.pollInterval ?? PHASE_STAGE_DEFAULTS.DEPLOY.pollInterval!;
    const timeout = r.stageConfig.pollTimeout ?? PHASE_STAGE_DEFAULTS.DEPLOY.pollTimeout!;
    const image = r.inputs.PACKAGE?.image ?? "";
    return this.transaction(message.correlationId, async (tx) => {
      // The common case in one statement: no row of this attempt or a later one yet.
      const row = await repo.insertIfAbsent(
        tx.sql,
        {
          pipelineId: r.pipelineId,
          attempt: r.attempt,
          appId: r.appId,
          team: r.team,
          image,
          deployConfig: r.deployConfig ?? DEFAULT_DEPLOY_CONFIG,
          pollIntervalMs: this.deps.config.OPS_POLL_INTERVAL_MS ?? interval * 1000,
          pollTimeoutMs: timeout * 1000,
          correlationId: message.correlationId,
          requestKey: deploymentRequestKey(this.deps.config.ENV_NAME, r.pipelineId, r.attempt, image),
          status: image ? "CREATING" : "FAILED",
          nextPollAt: image ? now : null,
        },
        { unlessLater: true },
      );
      if (!row) {
        const latest = await repo.latestAttempt(tx.sql, r.pipelineId);
        if (latest > r.attempt) {
          log.info(
            { pipelineId: r.pipelineId, attempt: r.attempt, latest },
            "request for an older attempt; ignored",
          );
          return "ignored";
        }
        const existing = await repo.lockByAttempt(tx.sql, r.pipelineId, r.attempt);
        const again = existing ? this.republish(tx, existing) : false;
        log.debug({ pipelineId: r.pipelineId, attempt: r.attempt, republished: again }, "repeated request");
        return "duplicate";
      }
      // Attempts count from 1: the first has no older one to supersede.
      const older = r.attempt > 1 ? await repo.supersedeOlder(tx.sql, r.pipelineId, r.attempt) : [];
      for (const old of older) {
        log.info(
          { pipelineId: old.pipelineId, attempt: old.attempt, deployId: old.deployId },
          "older attempt superseded",
        );
      }
      await this.say(tx, row, {
        level: "INFO",
        text: `deployment of ${image || "(no image)"} requested; the ops module is polled every ${row.pollIntervalMs / 1000} s and given ${row.pollTimeoutMs / 1000} s in all`,
      });
      if (!image) {
        const patch = await this.finish(
          tx,
          row,
          "FAILED",
          "CREATE",
          "the DEPLOY request has no image (inputs.PACKAGE.image): PACKAGE must succeed first",
          now,
        );
        await repo.update(this.last(tx), row.id, patch, this.along(tx));
      }
      log.info({ pipelineId: r.pipelineId, attempt: r.attempt, appId: r.appId }, "deployment requested");
      return "done";
    });
  }

  /** `pipeline.deployment_cancel_requested.v1`: end it as CANCELLED and ask ops to stop it. */
  async cancelDeployment(
    message: MessageOf<typeof DeploymentCancelRequested>,
    log: Logger,
  ): Promise<HandlerResult> {
    const c = message.data;
    const now = new Date();
    return this.transaction(message.correlationId, async (tx) => {
      let d = await repo.lockByAttempt(tx.sql, c.pipelineId, c.attempt);
      let tombstone = false;
      if (!d) {
        // Cancelled before the request arrived: a tombstone keeps a late request from deploying.
        d = await repo.insertIfAbsent(tx.sql, {
          pipelineId: c.pipelineId,
          attempt: c.attempt,
          appId: 0,
          team: "",
          image: "",
          deployConfig: DEFAULT_DEPLOY_CONFIG,
          pollIntervalMs: 0,
          pollTimeoutMs: 0,
          correlationId: message.correlationId,
          requestKey: deploymentRequestKey(this.deps.config.ENV_NAME, c.pipelineId, c.attempt, ""),
          status: "CANCELLED",
          nextPollAt: null,
        });
        tombstone = d !== null;
        // The request's row was committed a moment ago by another transaction: take that one.
        d ??= await repo.lockByAttempt(tx.sql, c.pipelineId, c.attempt);
        if (!d) throw new Error(`deployment of pipeline ${c.pipelineId} attempt ${c.attempt} not found`);
      }
      if (!tombstone && !isActive(d.status)) {
        const again = this.republish(tx, d);
        log.info(
          { pipelineId: c.pipelineId, attempt: c.attempt, status: d.status, republished: again },
          "cancel of a finished deployment",
        );
        return "ignored";
      }
      const stopAtOps = d.deployId !== null;
      const patch: DeploymentPatch = {
        ...(await this.finish(
          tx,
          { ...d, correlationId: message.correlationId, deployId: d.deployId ?? c.deployId },
          "CANCELLED",
          "CANCEL",
          `cancelled: ${c.reason}`,
          now,
        )),
        ...(stopAtOps ? { cancelState: "PENDING", nextPollAt: now } : {}),
      };
      await repo.update(this.last(tx), d.id, patch, this.along(tx));
      return "done";
    });
  }

  // --- HTTP ------------------------------------------------------------------------------------------

  /** `POST /deploy/callback` (already authenticated). */
  async handleCallback(
    body: DeployCallback,
    ctx: { log: Logger; requestId: string },
  ): Promise<DeployCallbackResponse> {
    // An ops module may call back before the answer to its create has reached us (a deployment that
    // ends at once): while a create is on its way, an unknown deployId waits for it a little rather
    // than answering 404 and leaving the ops module to retry later.
    const waitUntil = Date.now() + Math.min(this.deps.config.OPS_TIMEOUT_MS, CALLBACK_WAIT_MAX_MS);
    for (let last = false; ;) {
      await this.recording.get(body.deployId);
      try {
        return await this.applyCallback(body, ctx);
      } catch (err) {
        if (last || !(err instanceof DomainError && err.kind === "DEPLOYMENT_NOT_FOUND")) throw err;
        // No create on its way (any more): one last look, for a create answered since the first.
        if (Date.now() >= waitUntil || !(await repo.createInFlight(this.db))) last = true;
        else await sleep(CALLBACK_WAIT_STEP_MS);
      }
    }
  }

  private async applyCallback(
    body: DeployCallback,
    ctx: { log: Logger; requestId: string },
  ): Promise<DeployCallbackResponse> {
    const { log } = ctx;
    const now = new Date();
    return this.transaction(ctx.requestId, async (tx) => {
      const d = await repo.lockByDeployId(tx.sql, body.deployId);
      if (!d) throw new DomainError("DEPLOYMENT_NOT_FOUND", `deployment ${body.deployId} not found`);
      const decision = decideCallback(d, body.status);
      const received: StageLogEntry = {
        level: "INFO",
        text: `callback received from the ops module: ${body.status}${body.message ? `: ${body.message}` : ""}${
          decision.effect === "APPLIED" || d.status === "DEPLOYING"
            ? ""
            : ` (the deployment had already ended ${d.status}; nothing changes)`
        }`,
      };
      // A callback that ends the deployment writes its line with the outcome's, in one append.
      if (decision.effect !== "APPLIED") await this.say(tx, d, received);
      this.observe(tx, {
        deploymentId: d.id,
        deployId: body.deployId,
        attempt: d.attempt,
        source: "CALLBACK",
        opsStatus: body.status,
        message: body.message,
        reportedAt: body.timestamp,
        effect: decision.effect,
      });
      if (decision.effect === "APPLIED") {
        await repo.update(
          this.last(tx),
          d.id,
          await this.finish(tx, d, decision.outcome, "CALLBACK", body.message, now, [received]),
          this.along(tx),
        );
      } else if (d.status === "DEPLOYING") {
        await repo.update(
          this.last(tx),
          d.id,
          { opsStatus: body.status, opsMessage: body.message },
          this.along(tx),
        );
        log.debug({ deployId: body.deployId, status: body.status }, "progress callback recorded");
      } else {
        log.info(
          { deployId: body.deployId, status: body.status, deployment: d.status },
          "callback for a finished deployment recorded",
        );
      }
      return { deployId: body.deployId, accepted: true, effect: decision.effect };
    });
  }

  // --- worker steps ----------------------------------------------------------------------------------

  /**
   * Applies the outcome of one worker step under the row lock, if this replica still holds the
   * lease; `apply` returns the patch (the lease is released with it).
   */
  private async applyStep(
    claimed: Deployment,
    apply: (tx: SqlTxContext, d: Deployment, now: Date) => Promise<DeploymentPatch>,
  ): Promise<void> {
    await this.transaction(claimed.correlationId, async (tx) => {
      const d = await repo.lockById(tx.sql, claimed.id);
      if (!d) return;
      if (d.leaseOwner !== this.me) {
        this.deps.log.warn(
          { deployId: d.deployId, owner: d.leaseOwner },
          "lease lost during a step; its result is dropped",
        );
        return;
      }
      const patch = await apply(tx, d, new Date());
      await repo.update(this.last(tx), d.id, { ...patch, ...released }, this.along(tx));
    });
  }

  private async waitPatch(
    tx: SqlTxContext,
    d: Deployment,
    decision: Extract<StepDecision, { kind: "wait" }>,
    now: Date,
  ): Promise<DeploymentPatch> {
    let patch: DeploymentPatch = {
      failures: decision.failures,
      nextPollAt: decision.nextPollAt,
      lastError: decision.reason.slice(0, 500),
    };
    if (decision.startsOutage) {
      this.deps.log.warn(
        { pipelineId: d.pipelineId, attempt: d.attempt, deployId: d.deployId, reason: decision.reason },
        "ops module unavailable; waiting",
      );
      await this.say(tx, d, {
        level: "WARN",
        text: `waiting for the ops module, which does not answer: ${decision.reason} (waiting does not fail the deployment; it goes on when ops answers)`,
      });
      patch = {
        ...patch,
        waitingSince: now,
        ...this.emit(tx, d, DeploymentWaiting, {
          pipelineId: d.pipelineId,
          attempt: d.attempt,
          deployId: d.deployId,
          reason: decision.reason,
          since: now.toISOString(),
        }),
      };
    }
    return patch;
  }

  private startedPatch(tx: SqlTxContext, d: Deployment, deployId: string, deadline: Date): DeploymentPatch {
    return this.emit(tx, d, DeploymentStarted, {
      pipelineId: d.pipelineId,
      attempt: d.attempt,
      deployId,
      deadline: deadline.toISOString(),
    });
  }

  async applyCreate(
    claimed: Deployment,
    answer: OpsAnswer<{ deployId: string; status: string }>,
  ): Promise<void> {
    const applied = this.recordCreate(claimed, answer);
    if (answer.kind !== "ok") return applied;
    // Registered before the first await: the ops module's callback may already be on its way.
    const { deployId } = answer.data;
    const settled = applied.catch(() => undefined);
    this.recording.set(deployId, settled);
    try {
      await applied;
    } finally {
      if (this.recording.get(deployId) === settled) this.recording.delete(deployId);
    }
  }

  private recordCreate(
    claimed: Deployment,
    answer: OpsAnswer<{ deployId: string; status: string }>,
  ): Promise<void> {
    return this.applyStep(claimed, async (tx, d, now) => {
      if (d.status !== "CREATING") {
        // Cancelled or superseded while the create was on its way: stop what ops just started.
        if (answer.kind === "ok" && d.deployId === null) {
          this.deps.log.info(
            { deployId: answer.data.deployId, status: d.status },
            "created after it ended; asking ops to stop it",
          );
          return { deployId: answer.data.deployId, cancelState: "PENDING", nextPollAt: now };
        }
        return {};
      }
      const decision = decideAfterCreate(stateOf(d), answer, now, this.tuning, this.random());
      switch (decision.kind) {
        case "wait":
          return this.waitPatch(tx, d, decision, now);
        case "finish":
          return this.finish(tx, d, decision.outcome, decision.via, decision.message, now);
        case "started": {
          await this.say(tx, d, {
            level: "INFO",
            text: `the ops module accepted the deployment: deployId ${decision.deployId}${
              answer.kind === "ok" ? `, status ${answer.data.status}` : ""
            }; following it by polling and callback until ${decision.deadline.toISOString()}`,
          });
          this.observe(tx, {
            deploymentId: d.id,
            deployId: decision.deployId,
            attempt: d.attempt,
            source: "CREATE",
            opsStatus: answer.kind === "ok" ? answer.data.status : null,
            message: null,
            reportedAt: null,
            effect: "RECORDED",
          });
          this.deps.log.info(
            { pipelineId: d.pipelineId, attempt: d.attempt, deployId: decision.deployId },
            "deployment accepted by ops",
          );
          return {
            ...this.startedPatch(tx, d, decision.deployId, decision.deadline),
            status: "DEPLOYING",
            deployId: decision.deployId,
            deadline: decision.deadline,
            nextPollAt: decision.nextPollAt,
            opsStatus: answer.kind === "ok" ? answer.data.status : null,
            failures: 0,
            waitingSince: null,
            lastError: null,
          };
        }
        default:
          return {};
      }
    });
  }

  async applyPoll(
    claimed: Deployment,
    answer: OpsAnswer<{ status: string; message: string }>,
  ): Promise<void> {
    await this.applyStep(claimed, async (tx, d, now) => {
      const decision = decideAfterPoll(stateOf(d), answer, now, this.tuning, this.random());
      if (answer.kind !== "unavailable" && d.deployId) {
        this.observe(tx, {
          deploymentId: d.id,
          deployId: d.deployId,
          attempt: d.attempt,
          source: "POLL",
          opsStatus: answer.kind === "ok" ? answer.data.status : `HTTP ${answer.httpStatus}`,
          message: answer.kind === "ok" ? answer.data.message : answer.message,
          reportedAt: null,
          effect: decision.kind === "finish" ? "APPLIED" : "RECORDED",
        });
      }
      switch (decision.kind) {
        case "wait":
          return this.waitPatch(tx, d, decision, now);
        case "finish":
          return this.finish(tx, d, decision.outcome, decision.via, decision.message, now);
        case "recreate":
          await this.say(tx, d, {
            level: "WARN",
            text: `${decision.message}; creating the deployment again under the same idempotency key`,
          });
          this.deps.log.warn(
            { pipelineId: d.pipelineId, attempt: d.attempt, deployId: d.deployId, reason: decision.message },
            "deployment unknown to ops; creating it again under the same idempotency key",
          );
          return {
            status: "CREATING",
            deployId: null,
            nextPollAt: now,
            opsStatus: null,
            opsMessage: decision.message,
            failures: 0,
            waitingSince: null,
            lastError: null,
          };
        case "continue": {
          if (decision.recovered)
            await this.say(tx, d, { level: "INFO", text: "the ops module answers again" });
          if (decision.opsStatus !== d.opsStatus || decision.message !== d.opsMessage) {
            await this.say(tx, d, {
              level: "INFO",
              text: `status poll: the ops module says ${decision.opsStatus ?? "(no status)"}${decision.message ? `: ${decision.message}` : ""}`,
            });
          }
          const patch: DeploymentPatch = {
            nextPollAt: decision.nextPollAt,
            opsStatus: decision.opsStatus,
            opsMessage: decision.message,
            failures: 0,
            waitingSince: null,
            lastError: null,
          };
          if (!decision.recovered || !d.deployId || !d.deadline) return patch;
          this.deps.log.info({ pipelineId: d.pipelineId, deployId: d.deployId }, "ops module answers again");
          return { ...patch, ...this.startedPatch(tx, d, d.deployId, d.deadline) };
        }
        default:
          // Finished meanwhile (callback, cancel): only the lease goes.
          return {};
      }
    });
  }

  async applyCancel(claimed: Deployment, answer: OpsAnswer<{ status?: string }>): Promise<void> {
    await this.applyStep(claimed, async (tx, d, now) => {
      if (d.cancelState !== "PENDING") return {};
      const attempts = d.cancelAttempts + 1;
      const decision = decideAfterCancel(attempts, this.deps.config.OPS_CANCEL_MAX_ATTEMPTS, answer);
      if (answer.kind !== "unavailable" && d.deployId) {
        this.observe(tx, {
          deploymentId: d.id,
          deployId: d.deployId,
          attempt: d.attempt,
          source: "CANCEL",
          opsStatus: answer.kind === "ok" ? (answer.data.status ?? "CANCELLED") : `HTTP ${answer.httpStatus}`,
          message: answer.kind === "ok" ? null : answer.message,
          reportedAt: null,
          effect: "RECORDED",
        });
      }
      if (decision.state !== "PENDING") {
        this.deps.log.info({ deployId: d.deployId, result: decision.state }, "cancel at ops settled");
        await this.say(tx, d, {
          level: "INFO",
          text: `asking the ops module to stop the deployment: ${decision.state}`,
        });
      }
      const delay = retryDelayMs(attempts, this.tuning.retryBaseMs, this.tuning.retryMaxMs, this.random());
      return {
        cancelState: decision.state,
        cancelAttempts: attempts,
        nextPollAt: decision.retry ? new Date(now.getTime() + delay) : null,
        lastError: answer.kind === "unavailable" ? answer.reason.slice(0, 500) : d.lastError,
      };
    });
  }

  /** A claimed row with nothing to do (finished meanwhile): clear its schedule and lease. */
  async releaseIdle(claimed: Deployment): Promise<void> {
    await this.applyStep(claimed, async () => ({ nextPollAt: null }));
  }

  /** A step failed on our side (e.g. the database): try again a little later. */
  async releaseAfterError(claimed: Deployment): Promise<void> {
    const at = new Date(Date.now() + this.deps.config.OPS_RETRY_BASE_MS);
    await this.applyStep(claimed, async (_tx, d) => (d.nextPollAt ? { nextPollAt: at } : {}));
  }

  /** At start: leases this replica held in an earlier life (same fixed OPS_REPLICA_ID) are void. */
  async releaseOwnLeases(): Promise<number> {
    return repo.releaseLeasesOf(this.db, this.me);
  }
}
