import { DomainError, RetryLaterError, type Logger } from "@procode/service-kit";
import type { PhasePipelineRecord } from "../domain/pipeline.model.js";
import { announcePhase, startPhase } from "../domain/phase.pipeline.js";
import {
  applyDeploymentFinished,
  applyDeploymentStarted,
  applyDeploymentWaiting,
  applyStageWaiting,
  applyStageResult,
  wakeStage,
  type Applied,
} from "../domain/stage-results.js";
import {
  cancelPipeline,
  checkResume,
  blockedGate,
  checkRetry,
  requirePhase,
  checkWaiver,
  proceedPhase,
  resumePhase,
  retryPhase,
  waiveGate,
} from "../domain/actions.js";
import { syncParent } from "../domain/iteration.pipeline.js";
import { PipelineRefusalError, type Change } from "../domain/change.js";
import { pipelineOf, type ActionAnswers, type CommandWithContext, type MessageOutcome } from "./commands.js";
import { IterationUseCases } from "./iteration-use-cases.js";
import type { UnitOfWork } from "./unit-of-work.js";

const SYSTEM = "system";

export interface EngineOptions {
  log: Logger;
  unknownPipelineMaxDeliveries: number;
  queueRecheckMs: number;
}

/**
 * The use cases: each command loads its pipelines from the unit of work, asks the pure domain what
 * happens, and leaves the changed records, transitions and messages for the batch's commit.
 * Refusals (PipelineRefusalError, DomainError, RetryLaterError) are thrown before anything is changed.
 */
export class PipelineEngine {
  private readonly iterations: IterationUseCases;

  constructor(private readonly opts: EngineOptions) {
    this.iterations = new IterationUseCases(opts);
  }

  /** What a batch of commands will read, for one prefetch. */
  wants(cmds: readonly CommandWithContext[]) {
    const ids: number[] = [];
    const iterationIds: number[] = [];
    const iterationPhaseIds: number[] = [];
    const appIds: number[] = [];
    for (const c of cmds) {
      const id = pipelineOf(c);
      if (id !== undefined) ids.push(id);
      else if (c.kind === "iterationCreated") iterationIds.push(c.data.iterationId);
      else if (c.kind === "proceedIteration") {
        iterationIds.push(c.data.iterationId);
        if (c.data.release) iterationPhaseIds.push(c.data.release.iterationPhaseId);
        appIds.push(c.data.appId);
      }
    }
    return { ids, iterationIds, iterationPhaseIds, appIds };
  }

  /** Applies one command. Returns its answer (or a CommittedRefusal); throws refusals. */
  async execute(uow: UnitOfWork, cmd: CommandWithContext): Promise<unknown> {
    switch (cmd.kind) {
      case "iterationCreated":
        return this.iterations.created(uow, cmd);
      case "proceedIteration":
        return this.iterations.proceed(uow, cmd);
      case "stageCompleted": {
        const d = cmd.data;
        return this.onResult(uow, cmd, d.pipelineId, cmd.deliveryCount, (p, ch) =>
          applyStageResult(
            p,
            {
              stage: d.stage,
              attempt: d.attempt,
              outcome: d.outcome,
              output: d.output,
              error: d.error ? d.error.message : null,
            },
            ch,
          ),
        );
      }
      case "deploymentStarted": {
        const d = cmd.data;
        const deadline = Date.parse(d.deadline);
        return this.onResult(uow, cmd, d.pipelineId, cmd.deliveryCount, (p, ch) =>
          applyDeploymentStarted(
            p,
            {
              attempt: d.attempt,
              deployId: d.deployId,
              deadlineMs: Number.isNaN(deadline) ? null : deadline,
            },
            ch,
          ),
        );
      }
      case "deploymentWaiting": {
        const d = cmd.data;
        return this.onResult(uow, cmd, d.pipelineId, cmd.deliveryCount, (p) =>
          applyDeploymentWaiting(p, {
            attempt: d.attempt,
            deployId: d.deployId,
            reason: d.reason,
            since: d.since,
          }),
        );
      }
      case "stageWaiting": {
        const d = cmd.data;
        return this.onResult(uow, cmd, d.pipelineId, cmd.deliveryCount, (p) =>
          applyStageWaiting(p, { stage: d.stage, attempt: d.attempt, reason: d.reason, at: d.at }),
        );
      }
      case "deploymentFinished": {
        const d = cmd.data;
        return this.onResult(uow, cmd, d.pipelineId, cmd.deliveryCount, (p, ch) =>
          applyDeploymentFinished(
            p,
            { attempt: d.attempt, deployId: d.deployId, outcome: d.outcome, message: d.message },
            ch,
          ),
        );
      }
      case "action":
        return this.action(uow, cmd);
      case "wake":
        return this.wake(uow, cmd);
    }
  }

  // --- results of stage work ----------------------------------------------------------------

  private async onResult(
    uow: UnitOfWork,
    cmd: CommandWithContext,
    pipelineId: number,
    deliveryCount: number,
    apply: (p: PhasePipelineRecord, ch: Change) => Applied,
  ): Promise<MessageOutcome> {
    const found = await uow.get(pipelineId);
    if (found?.type === "ITERATION") {
      this.opts.log.debug({ pipelineId, kind: cmd.kind }, "stage result for an iteration pipeline; ignored");
      return "ignored";
    }
    const p = found;
    if (!p) {
      if (deliveryCount >= this.opts.unknownPipelineMaxDeliveries) {
        this.opts.log.error(
          { pipelineId, kind: cmd.kind },
          "result for a pipeline that does not exist; dropped",
        );
        return "ignored";
      }
      throw new RetryLaterError(
        `pipeline ${pipelineId} not known yet`,
        Math.min(30_000, 500 * deliveryCount),
      );
    }
    const statusBefore = p.status;
    const ch = uow.change(SYSTEM, cmd.correlationId);
    const outcome = apply(p, ch);
    if (!outcome.applied) {
      this.opts.log.debug({ pipelineId, kind: cmd.kind, reason: outcome.reason }, "result changes nothing");
      return "ignored";
    }
    uow.touch(p);
    if (p.status !== statusBefore) await this.syncParentOf(uow, p, ch);
    return "done";
  }

  private async syncParentOf(uow: UnitOfWork, child: PhasePipelineRecord, ch: Change): Promise<void> {
    if (child.parentId === null) return;
    const parent = await uow.getIteration(child.parentId);
    if (!parent) return;
    syncParent(parent, child, ch);
    uow.touch(parent);
  }

  // --- timers ---------------------------------------------------------------------------------

  private async wake(
    uow: UnitOfWork,
    cmd: Extract<CommandWithContext, { kind: "wake" }>,
  ): Promise<MessageOutcome> {
    // Only a release's pipeline keeps a timer.
    const p = await uow.getPhase(cmd.pipelineId);
    if (!p) return "ignored";
    const ch = uow.change(SYSTEM, cmd.correlationId);
    if (p.waitingFor === "QUEUED") {
      if (p.status !== "PENDING") {
        p.wakeAt = null;
        p.waitingFor = null;
        uow.touch(p);
        return "ignored";
      }
      if (await uow.hasOlderQueued(p)) {
        p.wakeAt = uow.nowMs + this.opts.queueRecheckMs;
        uow.touch(p);
        return "ignored";
      }
      if (await uow.tryAcquireLease(p, ch)) {
        startPhase(p, ch);
        announcePhase(p, ch);
        uow.touch(p);
        await this.syncParentOf(uow, p, ch);
        return "done";
      }
      const expiry = await uow.leaseExpiry(p.appId);
      p.wakeAt = Math.min(expiry ?? Infinity, uow.nowMs + this.opts.queueRecheckMs);
      uow.touch(p);
      return "ignored";
    }
    const statusBefore = p.status;
    const outcome = wakeStage(p, ch);
    uow.touch(p);
    if (p.status !== statusBefore) await this.syncParentOf(uow, p, ch);
    return outcome.applied ? "done" : "ignored";
  }

  // --- REST actions ---------------------------------------------------------------------------

  private async action(
    uow: UnitOfWork,
    cmd: Extract<CommandWithContext, { kind: "action" }>,
  ): Promise<ActionAnswers[keyof ActionAnswers]> {
    const p = await uow.get(cmd.pipelineId);
    if (!p || p.team !== cmd.actor.team) {
      throw new DomainError("PIPELINE_NOT_FOUND", `pipeline ${cmd.pipelineId} not found`);
    }
    const parent = p.parentId !== null ? await uow.getIteration(p.parentId) : undefined;
    const latest = !parent || parent.latestChildId === p.id;
    const statusBefore = p.status;
    const ch = uow.change(cmd.actor.sub, cmd.correlationId);
    let answer: ActionAnswers[keyof ActionAnswers];
    try {
      switch (cmd.action) {
        case "PROCEED": {
          if (p.type === "ITERATION") {
            answer = await this.iterations.proceedPipeline(uow, p, cmd);
            break;
          }
          if (p.type === "PHASE" && blockedGate(p)) {
            // A blocked quality gate: proceed with a reason is a waiver.
            const reportId = checkWaiver(p, cmd.reason, latest);
            await this.requireLease(uow, p, ch);
            answer = { pipelineId: p.id, ...waiveGate(p, reportId, cmd.actor.sub, cmd.reason!, ch) };
            break;
          }
          const moved = proceedPhase(p, ch);
          answer = { pipelineId: p.id, ...moved };
          break;
        }
        case "RETRY": {
          checkRetry(p, latest);
          await this.requireLease(uow, p, ch);
          answer = { pipelineId: p.id, ...retryPhase(p, ch) };
          break;
        }
        case "RESUME": {
          requirePhase(p, "resume");
          const stage = checkResume(p, latest);
          await this.requireLease(uow, p, ch);
          resumePhase(p, stage, cmd.reason ?? `resumed by ${cmd.actor.sub}`, ch);
          answer = { pipelineId: p.id, status: p.status, resumeFromStage: stage };
          break;
        }
        case "CANCEL": {
          const reason = cmd.reason ?? `cancelled by ${cmd.actor.sub}`;
          if (
            p.type === "ITERATION" &&
            p.latestChildId !== null &&
            p.status !== "SUCCESS" &&
            p.status !== "CANCELLED"
          ) {
            const child = await uow.getPhase(p.latestChildId);
            if (child && (child.status === "PENDING" || child.status === "RUNNING")) {
              cancelPipeline(child, reason, ch);
              uow.touch(child);
              syncParent(p, child, ch);
            }
          }
          const previousState = cancelPipeline(p, reason, ch);
          answer = { pipelineId: p.id, status: p.status, previousState };
          break;
        }
      }
    } catch (err) {
      if (err instanceof PipelineRefusalError) throw new DomainError(err.kind, err.message);
      throw err;
    }
    uow.touch(p);
    if (p.type === "PHASE" && p.status !== statusBefore) await this.syncParentOf(uow, p, ch);
    else if (p.type === "PHASE" && cmd.action === "RESUME") await this.syncParentOf(uow, p, ch);
    return answer;
  }

  private async requireLease(uow: UnitOfWork, p: PhasePipelineRecord, ch: Change): Promise<void> {
    if (!(await uow.tryAcquireLease(p, ch))) {
      throw new DomainError(
        "RELEASE_IN_PROGRESS",
        `another release of app ${p.appId} is running; try again when it has finished`,
      );
    }
  }
}
