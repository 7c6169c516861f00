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
  type ProceedIterationReply,
  type ProceedIterationRequest,
  type ProceedPipelineResponse,
} from "@procode/contracts";
import { DomainError } from "@procode/service-kit";
import { iterationEventFor } from "../domain/iteration.machine.js";
import { moveIteration, startIteration, syncParent } from "../domain/iteration.pipeline.js";
import {
  blankIterationPipeline,
  blankPhasePipeline,
  type IterationPipelineRecord,
  type PhasePipelineRecord,
} from "../domain/pipeline.model.js";
import { announcePhase, queuePhase, rejectPhase, startPhase } from "../domain/phase.pipeline.js";
import { CommittedRefusal, type CommandWithContext, type MessageOutcome } from "./commands.js";
import type { UnitOfWork } from "./unit-of-work.js";

const SYSTEM = "system";

/**
 * The iteration's use cases (docs/services/pipeline-engine.md, "Iterations"): its pipeline created
 * when dev-svc announces it, moved by PROCEED_ITERATION under the iteration's rules, and for a
 * release the phase pipeline created, once per iteration_phase.
 */
export class IterationUseCases {
  constructor(private readonly opts: { queueRecheckMs: number }) {}

  private async create(
    uow: UnitOfWork,
    input: { iterationId: number; appId: number; team: string },
    correlationId: string,
  ): Promise<IterationPipelineRecord> {
    const iter = await uow.create(
      blankIterationPipeline({
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

  async created(
    uow: UnitOfWork,
    cmd: Extract<CommandWithContext, { kind: "iterationCreated" }>,
  ): Promise<MessageOutcome> {
    if (await uow.findByRef("ITERATION", cmd.data.iterationId)) return "duplicate";
    await this.create(uow, cmd.data, cmd.correlationId);
    return "done";
  }

  private replyOf(iter: IterationPipelineRecord, child: PhasePipelineRecord | null): ProceedIterationReply {
    return {
      iterationId: iter.iterationId,
      iterationPipelineId: iter.id,
      currentPhase: iter.state,
      phasePipelineId: child?.id ?? null,
      phasePipelineStatus: child?.status ?? null,
      iterationStatus: iterationStatusOf(iter.state, iter.latestChildStatus),
    };
  }

  /**
   * PROCEED_ITERATION: judge the move by the iteration's rules, move the iteration, and for RELEASE
   * create the phase pipeline, once per iteration_phase (asking again answers the same pipeline).
   */
  async proceed(
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
        const parent = existing.parentId !== null ? await uow.getIteration(existing.parentId) : undefined;
        if (!parent) throw new Error(`phase pipeline ${existing.id} has no iteration pipeline`);
        return this.replyOf(parent, existing);
      }
    }

    const phases = normalizePhases(settings?.phases ?? DEFAULT_ITERATION_PHASES);
    const target = targetPhaseRefusal(req.targetPhase, phases);
    if (target.refusal) throw new DomainError(target.refusal.kind, target.refusal.message);

    let iter = await uow.findByRef("ITERATION", req.iterationId);
    // The iteration's creation event may not have been consumed yet: create its pipeline now.
    iter ??= await this.create(
      uow,
      { iterationId: req.iterationId, appId: req.appId, team: req.actor.team },
      cmd.correlationId,
    );
    const state = iter.state;
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
        ? { tag: (await uow.getPhase(iter.latestChildId))?.tag ?? null, status: iter.latestChildStatus }
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
      blankPhasePipeline({
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

  /** `proceed` on an iteration pipeline: its next phase, exactly as the iteration's own proceed. */
  async proceedPipeline(
    uow: UnitOfWork,
    iter: IterationPipelineRecord,
    cmd: Extract<CommandWithContext, { kind: "action" }>,
  ): Promise<ProceedPipelineResponse> {
    const settings = await uow.appSettings(iter.appId);
    const decided = pipelineProceedTarget(
      iter.iterationId,
      iter.state,
      normalizePhases(settings?.phases ?? DEFAULT_ITERATION_PHASES),
    );
    if (decided.refusal) throw new DomainError(decided.refusal.kind, decided.refusal.message);
    const reply = await this.proceed(uow, {
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
    return { pipelineId: iter.id, previousStage: decided.from, currentStage: decided.target };
  }
}
