import type {
  IterationPhaseChanged,
  MessageData,
  PhasePipelineStatusChanged,
  ProceedIterationReply,
} from "@procode/contracts";
import { RetryLaterError, type HandlerResult, type Logger, type Outbox } from "@procode/service-kit";
import { applyPhasePipelineEvent } from "../store/iteration-phase.repository.js";
import { lockIteration, setEventSeq, setProgress } from "../store/iteration.repository.js";
import { isAhead, isNotBehind } from "../domain/iteration.policy.js";
import { emitIterationChanged } from "./iteration-live.js";

/**
 * Keeps each iteration's status, phase and pipeline ids where pipeline-engine says they are: from its
 * events (ordered by their sequence; each applied once) and from its answers to PROCEED_ITERATION
 * (so a caller reads its own move at once, before the event arrives). An answer has no sequence;
 * the iteration's progress (phase, latest phase pipeline) never goes back, so an event overtaken by an
 * answer only advances the sequence.
 */
export class IterationProgress {
  constructor(
    private readonly outbox: Outbox,
    private readonly log: Logger,
    /** Deliveries of an event for an iteration or release dev-svc does not know before it is dropped. */
    private readonly unknownMaxDeliveries = 30,
  ) {}

  /** Merges an answer of the engine into the iteration, when it is ahead of what is stored. */
  async applyAnswer(iterationId: number, reply: ProceedIterationReply, correlationId: string): Promise<void> {
    await this.outbox.sqlTransaction(correlationId, async (tx) => {
      const { sql } = tx;
      const stored = await lockIteration(sql, iterationId);
      if (!stored) return;
      const incoming = { phase: reply.currentPhase, phasePipelineId: reply.phasePipelineId };
      if (!isAhead(stored, incoming)) return;
      await setProgress(sql, iterationId, {
        status: reply.iterationStatus,
        currentPhase: reply.currentPhase,
        iterationPipelineId: reply.iterationPipelineId,
        phasePipelineId: reply.phasePipelineId,
      });
      await emitIterationChanged(tx, iterationId);
    });
  }

  /** `pipeline.iteration_phase_changed.v1`. */
  async onIterationPhaseChanged(
    e: MessageData<typeof IterationPhaseChanged>,
    ctx: { deliveryCount: number; log: Logger; correlationId: string },
  ): Promise<HandlerResult> {
    const outcome = await this.outbox.sqlTransaction(ctx.correlationId, async (tx) => {
      const { sql } = tx;
      const stored = await lockIteration(sql, e.iterationId);
      if (!stored) return "missing" as const;
      if (e.sequence <= stored.eventSeq) return "duplicate" as const;
      const incoming = { phase: e.phase, phasePipelineId: e.phasePipelineId };
      if (!isNotBehind(stored, incoming)) {
        await setEventSeq(sql, e.iterationId, e.sequence);
        return "overtaken" as const;
      }
      await setProgress(
        sql,
        e.iterationId,
        {
          status: e.iterationStatus,
          currentPhase: e.phase,
          iterationPipelineId: e.pipelineId,
          phasePipelineId: e.phasePipelineId,
        },
        e.sequence,
      );
      await emitIterationChanged(tx, e.iterationId);
      return "done" as const;
    });
    if (outcome === "missing") return this.unknown(`iteration ${e.iterationId}`, ctx);
    if (outcome === "overtaken") {
      ctx.log.debug(
        { iterationId: e.iterationId, sequence: e.sequence },
        "iteration already further than this event",
      );
      return "ignored";
    }
    if (outcome === "done") {
      ctx.log.info(
        { iterationId: e.iterationId, phase: e.phase, status: e.iterationStatus, sequence: e.sequence },
        "iteration progress applied",
      );
    }
    return outcome;
  }

  /** `pipeline.phase_pipeline_status_changed.v1`: the release's iteration_phase row follows its pipeline. */
  async onPhasePipelineStatusChanged(
    e: MessageData<typeof PhasePipelineStatusChanged>,
    ctx: { deliveryCount: number; log: Logger; correlationId: string },
  ): Promise<HandlerResult> {
    const reason =
      e.status === "FAILED" || e.status === "CANCELLED"
        ? [e.failedStage, e.error].filter(Boolean).join(": ") || null
        : null;
    const outcome = await this.outbox.sqlTransaction(ctx.correlationId, async (tx) => {
      const applied = await applyPhasePipelineEvent(tx.sql, {
        iterationPhaseId: e.iterationPhaseId,
        iterationId: e.iterationId,
        pipelineId: e.pipelineId,
        parentId: e.parentId,
        status: e.status,
        reason,
        sequence: e.sequence,
      });
      if (applied === "applied") await emitIterationChanged(tx, e.iterationId);
      return applied;
    });
    if (outcome === "missing") return this.unknown(`iteration phase ${e.iterationPhaseId}`, ctx);
    if (outcome === "stale") return "duplicate";
    ctx.log.info(
      { iterationPhaseId: e.iterationPhaseId, pipelineId: e.pipelineId, status: e.status },
      "release status applied",
    );
    return "done";
  }

  /**
   * An event about something dev-svc has not recorded: its row is written before the engine can
   * hear of it, so this should not happen; it is retried for a while, then dropped with an error.
   */
  private unknown(what: string, ctx: { deliveryCount: number; log: Logger }): HandlerResult {
    if (ctx.deliveryCount >= this.unknownMaxDeliveries) {
      this.log.error(
        { what, deliveries: ctx.deliveryCount },
        "event for something dev-svc never recorded; dropped",
      );
      return "ignored";
    }
    throw new RetryLaterError(`${what} not known yet`, Math.min(30_000, 500 * ctx.deliveryCount));
  }
}
