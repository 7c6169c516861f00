import {
  type DeploymentCancelRequested,
  type QualityWaived,
  type IterationPhaseChanged,
  type PhasePipelineStatusChanged,
  type StageRequested,
  type ErrorName,
  type MessageData,
  type PhaseStage,
} from "@procode/contracts";
import { decideIteration, type IterationEvent } from "./iteration.machine.js";
import { decidePhase, type PhaseEvent } from "./phase.machine.js";
import type {
  EngineTimings,
  IterationPipelineRecord,
  PhasePipelineRecord,
  PipelineRecord,
  TransitionRecord,
} from "./pipeline.model.js";

/**
 * The engine's domain, by concern (docs/services/pipeline-engine.md, "Domain"): what one command
 * changes (`Change`: transitions, messages, lease hand-backs, at a given time by a given actor), the
 * refusal it may raise, how a machine event becomes a recorded transition, and when an app lease
 * expires. Pure, like every module of domain/.
 */

/** A request the domain refuses, with the product's error (mapped to the envelope by the caller). */
export class PipelineRefusalError extends Error {
  override name = "PipelineRefusalError";
  constructor(
    readonly kind: ErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** A message the engine publishes once the change is committed. */
export type OutMessage =
  | { def: typeof StageRequested; data: MessageData<typeof StageRequested>; suffix: PhaseStage }
  | { def: typeof PhasePipelineStatusChanged; data: MessageData<typeof PhasePipelineStatusChanged> }
  | { def: typeof IterationPhaseChanged; data: MessageData<typeof IterationPhaseChanged> }
  | { def: typeof DeploymentCancelRequested; data: MessageData<typeof DeploymentCancelRequested> }
  | { def: typeof QualityWaived; data: MessageData<typeof QualityWaived> };

/**
 * What one command did, besides the records it changed in place: transitions for the log, messages
 * to publish, leases to hand back. `nowMs` and `actor` are given, so every function here is pure.
 */
export class Change {
  readonly transitions: TransitionRecord[] = [];
  readonly messages: OutMessage[] = [];
  /** Releases whose app lease this change hands back (the next queued one is woken). */
  readonly leaseReleases: { appId: number; pipelineId: number }[] = [];
  constructor(
    readonly nowMs: number,
    readonly actor: string,
    readonly timings: EngineTimings,
  ) {}
  get nowIso(): string {
    return new Date(this.nowMs).toISOString();
  }
}

export function firePhase(p: PhasePipelineRecord, event: PhaseEvent, ch: Change): void {
  const from = p.state;
  p.state = decidePhase(from, event);
  record(p, from, event.type, ch);
}

export function fireIteration(p: IterationPipelineRecord, event: IterationEvent, ch: Change): void {
  const from = p.state;
  p.state = decideIteration(from, event);
  record(p, from, event.type, ch);
}

/** The transition just made (the record is already in its new state), for the log. */
function record(p: PipelineRecord, from: string, event: string, ch: Change): void {
  const to = p.state;
  p.transitionSeq += 1;
  ch.transitions.push({
    pipelineId: p.id,
    seq: p.transitionSeq,
    from,
    to,
    event,
    actor: ch.actor,
    at: ch.nowIso,
  });
}

/**
 * When the app lease held by `p` should expire: never while it waits at a MANUAL gate, the
 * deployment's deadline while DEPLOYING, otherwise LEASE_TTL after its last progress.
 */
export function leaseExpiry(p: PhasePipelineRecord, ch: Change): number | null {
  if (p.waitingFor === "AWAIT_PROCEED") return null;
  const ttl = ch.nowMs + ch.timings.leaseTtlMs;
  return p.deployDeadline ? Math.max(ttl, p.deployDeadline + ch.timings.leaseTtlMs) : ttl;
}
