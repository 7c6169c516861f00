import {
  DEFAULT_ITERATION_PHASES,
  ITERATION_STAGE_DEFAULTS,
  iterationStatusOf,
  normalizePhases,
  pipelineProceedTarget,
  proceedRefusal,
  releaseRefusal,
  resolvePhaseStageConfigs,
  targetPhaseRefusal,
  type IterationMachineState,
  type ProceedIterationReply,
  type ProceedIterationRequest,
} from "@procode/contracts";
import { DomainError, RetryLater, type Logger } from "@procode/service-kit";
import { iterationEventFor } from "../domain/iteration.machine.js";
import { blankPipelineRecord, type PipelineRecord } from "../domain/pipeline.model.js";
import {
  announcePhase,
  applyDeploymentFinished,
  applyDeploymentStarted,
  applyDeploymentWaiting,
  applyStageWaiting,
  applyStageResult,
  cancelPipeline,
  checkResume,
  checkRetry,
  moveIteration,
  PipelineRefusal,
  proceedPhase,
  queuePhase,
  rejectPhase,
  resumePhase,
  retryPhase,
  startIteration,
  startPhase,
  syncParent,
  wakeStage,
  type Applied,
  type Change,
} from "../domain/pipeline.policy.js";
import type { CommandWithContext, MessageOutcome } from "./commands.js";
import type { UnitOfWork } from "./unit-of-work.js";

const SYSTEM = "system";

/** A refusal to return as the command's answer even though the transaction commits. */
export class CommittedRefusal {
  constructor(readonly error: DomainError) {}
}

export interface EngineOptions {
  log: Logger;
  unknownPipelineMaxDeliveries: number;
  queueRecheckMs: number;
}

/**
 * The use cases: each command loads its pipelines from the unit of work, asks the pure domain what
 * happens, and leaves the changed records, transitions and messages for the batch's commit.
 * Refusals (PipelineRefusal, DomainError, RetryLater) are thrown before anything is changed.
 */
export class PipelineEngine {
  constructor(private readonly opts: EngineOptions) {}

  /** What a batch of commands will read, for one prefetch. */
  wants(cmds: readonly CommandWithContext[]) {
    const ids: number[] = [];
    const iterationIds: number[] = [];
    const iterationPhaseIds: number[] = [];
    const appIds: number[] = [];
    for (const c of cmds) {
      switch (c.kind) {
        case "iterationCreated":
          iterationIds.push(c.data.iterationId);
          break;
        case "proceedIteration":
          iterationIds.push(c.data.iterationId);
          if (c.data.release) iterationPhaseIds.push(c.data.release.iterationPhaseId);
          appIds.push(c.data.appId);
          break;
        case "stageCompleted":
        case "stageWaiting":
        case "deploymentStarted":
        case "deploymentWaiting":
        case "deploymentFinished":
          ids.push(c.data.pipelineId);
          break;
        case "action":
        case "wake":
          ids.push(c.pipelineId);
          break;
      }
    }
    return { ids, iterationIds, iterationPhaseIds, appIds };
  }

  /** Applies one command. Returns its answer (or a CommittedRefusal); throws refusals. */
  async execute(uow: UnitOfWork, cmd: CommandWithContext): Promise<unknown> {
    switch (cmd.kind) {
      case "iterationCreated":
        return this.iterationCreated(uow, cmd);
      case "proceedIteration":
        return this.proceedIteration(uow, cmd);
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

  // --- iteration pipelines ------------------------------------------------------------------

  private async createIteration(
    uow: UnitOfWork,
    input: { iterationId: number; appId: number; team: string },
    correlationId: string,
  ): Promise<PipelineRecord> {
    const iter = await uow.create(
      blankPipelineRecord({
        type: "ITERATION",
        refId: input.iterationId,
        iterationId: input.iterationId,
        appId: input.appId,
        team: input.team,
        state: "PENDING",
        stageConfigs: ITERATION_STAGE_DEFAULTS,
      }),
    );
    startIteration(iter, uow.change(SYSTEM, correlationId));
    uow.touch(iter);
    return iter;
  }

  private async iterationCreated(
    uow: UnitOfWork,
    cmd: Extract<CommandWithContext, { kind: "iterationCreated" }>,
  ): Promise<MessageOutcome> {
    if (await uow.findByRef("ITERATION", cmd.data.iterationId)) return "duplicate";
    await this.createIteration(uow, cmd.data, cmd.correlationId);
    return "done";
  }

  private replyOf(iter: PipelineRecord, child: PipelineRecord | null): ProceedIterationReply {
    return {
      iterationId: iter.iterationId,
      iterationPipelineId: iter.id,
      currentPhase: iter.state as IterationMachineState,
      phasePipelineId: child?.id ?? null,
      phasePipelineStatus: child?.status ?? null,
      iterationStatus: iterationStatusOf(iter.state as IterationMachineState, iter.latestChildStatus),
    };
  }

  /**
   * PROCEED_ITERATION: judge the move by the iteration's rules, move the iteration, and for RELEASE
   * create the phase pipeline, once per iteration_phase (asking again answers the same pipeline).
   */
  private async proceedIteration(
    uow: UnitOfWork,
    cmd: Extract<CommandWithContext, { kind: "proceedIteration" }>,
  ): Promise<ProceedIterationReply | CommittedRefusal> {
    const req: ProceedIterationRequest = cmd.data;
    const settings = await uow.appSettings(req.appId);
    if (req.release) {
      const existing = await uow.findByRef("PHASE", req.release.iterationPhaseId);
      if (existing) {
        if (existing.iterationId !== req.iterationId) {
          throw new DomainError(
            "PRECONDITION_FAILED",
            `iteration_phase ${req.release.iterationPhaseId} belongs to iteration ${existing.iterationId}`,
          );
        }
        if (existing.rejected)
          throw new DomainError("RELEASE_IN_PROGRESS", existing.error ?? "release rejected");
        const parent = existing.parentId !== null ? await uow.get(existing.parentId) : undefined;
        if (!parent) throw new Error(`phase pipeline ${existing.id} has no iteration pipeline`);
        return this.replyOf(parent, existing);
      }
    }

    const phases = normalizePhases(settings?.phases ?? DEFAULT_ITERATION_PHASES);
    const target = targetPhaseRefusal(req.targetPhase, phases);
    if (target.refusal) throw new DomainError(target.refusal.kind, target.refusal.message);

    let iter = await uow.findByRef("ITERATION", req.iterationId);
    // The iteration's creation event may not have been consumed yet: create its pipeline now.
    iter ??= await this.createIteration(
      uow,
      { iterationId: req.iterationId, appId: req.appId, team: req.actor.team },
      cmd.correlationId,
    );
    const state = iter.state as IterationMachineState;
    const ch = uow.change(req.actor.sub, cmd.correlationId);

    if (target.target !== "RELEASE") {
      const refusal = proceedRefusal({
        iterationId: req.iterationId,
        state,
        phases,
        target: target.target,
        rule: "next",
      });
      if (refusal) throw new DomainError(refusal.kind, refusal.message);
      moveIteration(iter, { type: iterationEventFor(state, target.target)! }, ch);
      uow.touch(iter);
      return this.replyOf(iter, null);
    }

    // RELEASE
    const release = req.release;
    if (!release) {
      throw new DomainError("PRECONDITION_FAILED", "release: entering RELEASE needs a tag (release.tag)");
    }
    const latest =
      iter.latestChildId !== null && iter.latestChildStatus !== null
        ? { tag: (await uow.get(iter.latestChildId))?.tag ?? null, status: iter.latestChildStatus }
        : null;
    const refusal = releaseRefusal({
      iterationId: req.iterationId,
      state,
      phases,
      latest,
      rollback: release.rollback,
    });
    if (refusal) throw new DomainError(refusal.kind, refusal.message);

    const child = await uow.create(
      blankPipelineRecord({
        type: "PHASE",
        parentId: iter.id,
        refId: release.iterationPhaseId,
        iterationId: req.iterationId,
        appId: req.appId,
        team: iter.team,
        state: "PENDING",
        stageConfigs: resolvePhaseStageConfigs(settings?.stageConfigs),
        deployConfig: settings?.deployConfig ?? null,
        tag: release.tag,
        rollback: release.rollback,
      }),
    );
    const acquired = await uow.tryAcquireLease(child, ch);
    if (!acquired && settings?.concurrency === "REJECT") {
      const reason = `another release of app ${req.appId} is running (concurrency policy REJECT)`;
      rejectPhase(child, reason, ch);
      uow.touch(child);
      return new CommittedRefusal(new DomainError("RELEASE_IN_PROGRESS", reason));
    }
    if (acquired) startPhase(child, ch);
    else {
      const expiry = await uow.leaseExpiry(req.appId);
      queuePhase(child, Math.min(expiry ?? Infinity, uow.nowMs + this.opts.queueRecheckMs));
    }
    announcePhase(child, ch);
    syncParent(iter, child, ch);
    // After syncParent, so the event of entering RELEASE names the phase pipeline it created.
    if (state !== "RELEASE" && state !== "RELEASED") {
      moveIteration(iter, { type: iterationEventFor(state, "RELEASE")! }, ch);
    }
    uow.touch(child);
    uow.touch(iter);
    return this.replyOf(iter, child);
  }

  // --- results of stage work ----------------------------------------------------------------

  private async onResult(
    uow: UnitOfWork,
    cmd: CommandWithContext,
    pipelineId: number,
    deliveryCount: number,
    apply: (p: PipelineRecord, ch: Change) => Applied,
  ): Promise<MessageOutcome> {
    const p = await uow.get(pipelineId);
    if (!p) {
      if (deliveryCount >= this.opts.unknownPipelineMaxDeliveries) {
        this.opts.log.error(
          { pipelineId, kind: cmd.kind },
          "result for a pipeline that does not exist; dropped",
        );
        return "ignored";
      }
      throw new RetryLater(`pipeline ${pipelineId} not known yet`, Math.min(30_000, 500 * deliveryCount));
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

  private async syncParentOf(uow: UnitOfWork, child: PipelineRecord, ch: Change): Promise<void> {
    if (child.parentId === null) return;
    const parent = await uow.get(child.parentId);
    if (!parent) return;
    syncParent(parent, child, ch);
    uow.touch(parent);
  }

  // --- timers ---------------------------------------------------------------------------------

  private async wake(
    uow: UnitOfWork,
    cmd: Extract<CommandWithContext, { kind: "wake" }>,
  ): Promise<MessageOutcome> {
    const p = await uow.get(cmd.pipelineId);
    if (!p) return "ignored";
    const ch = uow.change(SYSTEM, cmd.correlationId);
    if (p.step === "QUEUED") {
      if (p.status !== "PENDING") {
        p.wakeAt = null;
        p.step = null;
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
  ): Promise<unknown> {
    const p = await uow.get(cmd.pipelineId);
    if (!p || p.team !== cmd.actor.team) {
      throw new DomainError("PIPELINE_NOT_FOUND", `pipeline ${cmd.pipelineId} not found`);
    }
    const parent = p.parentId !== null ? await uow.get(p.parentId) : undefined;
    const latest = !parent || parent.latestChildId === p.id;
    const statusBefore = p.status;
    const ch = uow.change(cmd.actor.sub, cmd.correlationId);
    let answer: unknown;
    try {
      switch (cmd.action) {
        case "PROCEED": {
          if (p.type === "ITERATION") {
            answer = await this.proceedIterationPipeline(uow, p, cmd);
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
            const child = await uow.get(p.latestChildId);
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
      if (err instanceof PipelineRefusal) throw new DomainError(err.kind, err.message);
      throw err;
    }
    uow.touch(p);
    if (p.type === "PHASE" && p.status !== statusBefore) await this.syncParentOf(uow, p, ch);
    else if (p.type === "PHASE" && cmd.action === "RESUME") await this.syncParentOf(uow, p, ch);
    return answer;
  }

  /** `proceed` on an iteration pipeline: its next phase, exactly as the iteration's own proceed. */
  private async proceedIterationPipeline(
    uow: UnitOfWork,
    iter: PipelineRecord,
    cmd: Extract<CommandWithContext, { kind: "action" }>,
  ): Promise<{
    pipelineId: number;
    previousStage: IterationMachineState;
    currentStage: IterationMachineState;
  }> {
    const settings = await uow.appSettings(iter.appId);
    const previous = iter.state as IterationMachineState;
    const decided = pipelineProceedTarget(
      iter.iterationId,
      previous,
      normalizePhases(settings?.phases ?? DEFAULT_ITERATION_PHASES),
    );
    if (decided.refusal) throw new DomainError(decided.refusal.kind, decided.refusal.message);
    const reply = await this.proceedIteration(uow, {
      kind: "proceedIteration",
      data: {
        iterationId: iter.iterationId,
        appId: iter.appId,
        targetPhase: decided.target,
        actor: cmd.actor,
      },
      correlationId: cmd.correlationId,
    });
    if (reply instanceof CommittedRefusal) throw reply.error;
    return { pipelineId: iter.id, previousStage: previous, currentStage: reply.currentPhase };
  }

  private async requireLease(uow: UnitOfWork, p: PipelineRecord, ch: Change): Promise<void> {
    if (!(await uow.tryAcquireLease(p, ch))) {
      throw new DomainError(
        "RELEASE_IN_PROGRESS",
        `another release of app ${p.appId} is running; try again when it has finished`,
      );
    }
  }
}
