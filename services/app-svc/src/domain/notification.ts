import { backoffDelay } from "@procode/service-kit/backoff";
import type {
  IterationPhaseChanged,
  MessageData,
  NotificationData,
  NotificationEventType,
  PhasePipelineStatusChanged,
} from "@procode/contracts";

/** One notification an event makes: its type and what it says. */
export interface NotificationOf {
  type: NotificationEventType;
  data: NotificationData;
}

/**
 * What a release (phase) pipeline's status change tells people: RUNNING is a start (again after a
 * retry or resume), SUCCESS a success and its deployment's, FAILED a failure (and the deployment's
 * when DEPLOY failed), CANCELLED a cancellation. PENDING (queued behind another release) says nothing.
 */
export function notificationsOfPhase(e: MessageData<typeof PhasePipelineStatusChanged>): NotificationOf[] {
  const data: NotificationData = {
    appId: e.appId,
    iterationId: e.iterationId,
    pipelineId: e.pipelineId,
    pipelineStatus: e.status,
    iterationPhase: null,
    failedStage: e.failedStage,
    error: e.error,
    rollback: e.rollback,
  };
  const of = (...types: NotificationEventType[]) => types.map((type) => ({ type, data }));
  switch (e.status) {
    case "RUNNING":
      return of("pipeline.started");
    case "SUCCESS":
      return of("pipeline.succeeded", "deployment.succeeded");
    case "FAILED":
      return e.failedStage === "DEPLOY" ? of("pipeline.failed", "deployment.failed") : of("pipeline.failed");
    case "CANCELLED":
      return of("pipeline.cancelled");
    case "PENDING":
      return [];
  }
}

/**
 * What an iteration's change tells people: entering DEVELOPING, TESTING or STAGING it waits for a
 * person to proceed; RELEASED (by a release that succeeded) is a release; a cancelled iteration
 * pipeline is a cancellation. Its status changes while in RELEASE are the phase pipeline's to tell.
 */
export function notificationsOfIteration(e: MessageData<typeof IterationPhaseChanged>): NotificationOf[] {
  const data: NotificationData = {
    appId: e.appId,
    iterationId: e.iterationId,
    pipelineId: e.pipelineId,
    pipelineStatus: null,
    iterationPhase: e.phase,
    failedStage: null,
    error: null,
    rollback: false,
  };
  switch (e.phase) {
    case "DEVELOPING":
    case "TESTING":
    case "STAGING":
      return [{ type: "iteration.waiting", data }];
    case "RELEASED":
      return e.iterationStatus === "RELEASED" ? [{ type: "iteration.released", data }] : [];
    case "CANCELLED":
      return [{ type: "pipeline.cancelled", data: { ...data, pipelineStatus: "CANCELLED" } }];
    case "PENDING":
    case "RELEASE":
      return [];
  }
}

export interface RetryPolicy {
  /** Delay before the second attempt; doubles per attempt. */
  baseMs: number;
  /** Longest delay between two attempts. */
  capMs: number;
}

/** Where a delivery stands after an attempt. */
export type AfterAttempt =
  { status: "DELIVERED" } | { status: "PENDING"; nextAttemptAtMs: number } | { status: "FAILED" };

/**
 * A 2xx answer delivers. Anything else is tried again after an exponential delay with jitter (half
 * the delay either way, so receivers that come back do not get every sender at once) while the next
 * attempt still falls before `giveUpAtMs`; after that the delivery is FAILED.
 */
export function afterAttempt(a: {
  delivered: boolean;
  /** Attempts made, this one included. */
  attempts: number;
  nowMs: number;
  giveUpAtMs: number;
  policy: RetryPolicy;
  /** In [0, 1): the jitter's draw. */
  random: number;
}): AfterAttempt {
  if (a.delivered) return { status: "DELIVERED" };
  const next = a.nowMs + backoffDelay(a.attempts, a.policy.baseMs, a.policy.capMs, 0.5, a.random);
  return next < a.giveUpAtMs ? { status: "PENDING", nextAttemptAtMs: next } : { status: "FAILED" };
}

/** Whether an HTTP status delivers (Standard Webhooks: any 2xx). */
export const isDelivered = (status: number): boolean => status >= 200 && status < 300;
