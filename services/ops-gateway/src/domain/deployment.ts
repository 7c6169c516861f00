/**
 * What ops-gateway decides about a deployment, given what the ops module said. Pure: no I/O, no
 * clock (the caller passes `now`), no randomness (the caller passes `random`).
 *
 * A deployment is CREATING until the ops module accepts it, then DEPLOYING until exactly one of
 * poll, callback, timeout or cancel ends it. SUPERSEDED: a newer attempt of the same pipeline's
 * DEPLOY stage took its place (the engine ignores older attempts, so it ends without an outcome).
 */
import type { OpsAnswer } from "@procode/contracts";
import { backoffDelay } from "@procode/service-kit/backoff";

export type { OpsAnswer } from "@procode/contracts";

export type DeploymentStatus =
  "CREATING" | "DEPLOYING" | "SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED" | "SUPERSEDED";

export type Outcome = "SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED";
export type Via = "POLL" | "CALLBACK" | "TIMEOUT" | "CANCEL" | "CREATE";

export function isActive(status: DeploymentStatus): boolean {
  return status === "CREATING" || status === "DEPLOYING";
}

/** SUCCESS / FAILED / CANCELLED in any case are terminal; anything else means "still going". */
export function terminalOutcome(opsStatus: string): "SUCCESS" | "FAILED" | "CANCELLED" | null {
  const s = opsStatus.trim().toUpperCase();
  return s === "SUCCESS" || s === "FAILED" || s === "CANCELLED" ? s : null;
}

/** Delay before call number `failures + 1` after `failures` failed calls: doubling, capped, +-20%. */
export function retryDelayMs(failures: number, baseMs: number, maxMs: number, random: number): number {
  return backoffDelay(failures, baseMs, maxMs, 0.2, random);
}

/** The parts of a deployment a decision needs. */
export interface DeploymentState {
  status: DeploymentStatus;
  deployId: string | null;
  pollIntervalMs: number;
  pollTimeoutMs: number;
  deadline: Date | null;
  failures: number;
  waitingSince: Date | null;
}

export interface RetryTuning {
  retryBaseMs: number;
  retryMaxMs: number;
}

export type StepDecision =
  /** The deployment ends now with this outcome (exactly once: only while DEPLOYING or CREATING). */
  | { kind: "finish"; outcome: Outcome; via: Via; message: string }
  /** ops answered; poll again at `nextPollAt`. `recovered`: it answered after a waiting. */
  | {
      kind: "continue";
      nextPollAt: Date;
      recovered: boolean;
      opsStatus: string | null;
      message: string | null;
    }
  /** ops accepted the deployment. */
  | { kind: "started"; deployId: string; deadline: Date; nextPollAt: Date; recovered: boolean }
  /** ops is down: try again later; `startsOutage` is true on the first failure of an outage. */
  | { kind: "wait"; nextPollAt: Date; startsOutage: boolean; reason: string; failures: number }
  /**
   * ops no longer knows the deployment (404 after its restart): create it again under the same
   * idempotency key, the attempt unchanged.
   */
  | { kind: "recreate"; message: string }
  /** The deployment is no longer this step's to change (finished by another path meanwhile). */
  | { kind: "noop" };

function wait(d: DeploymentState, reason: string, now: Date, t: RetryTuning, random: number): StepDecision {
  const failures = d.failures + 1;
  return {
    kind: "wait",
    nextPollAt: new Date(now.getTime() + retryDelayMs(failures, t.retryBaseMs, t.retryMaxMs, random)),
    startsOutage: d.waitingSince === null,
    reason,
    failures,
  };
}

/** After `POST /deploy/create`. */
/** How long a create answered with a final status waits for the callback before a poll confirms it. */
export const FINAL_CREATE_CONFIRM_MS = 500;

export function decideAfterCreate(
  d: DeploymentState,
  answer: OpsAnswer<{ deployId: string; status: string }>,
  now: Date,
  t: RetryTuning,
  random: number,
): StepDecision {
  if (d.status !== "CREATING") return { kind: "noop" };
  switch (answer.kind) {
    case "unavailable":
      return wait(d, answer.reason, now, t, random);
    case "refused":
      return {
        kind: "finish",
        outcome: "FAILED",
        via: "CREATE",
        message: `ops module refused the deployment: ${answer.message}`,
      };
    case "ok": {
      const deadline = new Date(now.getTime() + d.pollTimeoutMs);
      // A create that already reports a final status is not taken as the outcome ("started" always
      // goes out first): a poll confirms it, FINAL_CREATE_CONFIRM_MS later (at most one poll
      // interval), by when the ops module's callback, sent at once, has usually ended it and no poll
      // goes out (docs/services/ops-gateway.md, "Create").
      const first = terminalOutcome(answer.data.status)
        ? new Date(now.getTime() + Math.min(FINAL_CREATE_CONFIRM_MS, d.pollIntervalMs))
        : new Date(Math.min(now.getTime() + d.pollIntervalMs, deadline.getTime()));
      return {
        kind: "started",
        deployId: answer.data.deployId,
        deadline,
        nextPollAt: first,
        recovered: d.waitingSince !== null,
      };
    }
  }
}

/**
 * After `GET /deploy/{id}/status`. A final status ends the deployment whenever it is seen; past the
 * deadline, a status that is not final ends it as TIMEOUT (this call was the last check). ops being
 * down never ends it: at the deadline the last check is repeated until ops answers. A deployment ops
 * no longer knows (404, e.g. after its restart) is created again under the same idempotency key.
 */
export function decideAfterPoll(
  d: DeploymentState,
  answer: OpsAnswer<{ status: string; message: string }>,
  now: Date,
  t: RetryTuning,
  random: number,
): StepDecision {
  if (d.status !== "DEPLOYING") return { kind: "noop" };
  if (answer.kind === "unavailable") return wait(d, answer.reason, now, t, random);
  const pastDeadline = d.deadline !== null && now.getTime() >= d.deadline.getTime();
  if (answer.kind === "ok") {
    const outcome = terminalOutcome(answer.data.status);
    if (outcome) return { kind: "finish", outcome, via: "POLL", message: answer.data.message };
    if (pastDeadline) {
      return {
        kind: "finish",
        outcome: "TIMEOUT",
        via: "TIMEOUT",
        message: timeoutMessage(
          d,
          `last status ${answer.data.status}${answer.data.message ? `: ${answer.data.message}` : ""}`,
        ),
      };
    }
  } else if (answer.httpStatus === 404 && !pastDeadline) {
    return {
      kind: "recreate",
      message: `the ops module no longer knows deployment ${d.deployId ?? "(none)"}: ${answer.message}`,
    };
  } else if (pastDeadline) {
    return {
      kind: "finish",
      outcome: "TIMEOUT",
      via: "TIMEOUT",
      message: timeoutMessage(d, `the ops module answered HTTP ${answer.httpStatus}: ${answer.message}`),
    };
  }
  const next = now.getTime() + d.pollIntervalMs;
  return {
    kind: "continue",
    nextPollAt: new Date(d.deadline ? Math.min(next, d.deadline.getTime()) : next),
    recovered: d.waitingSince !== null,
    opsStatus: answer.kind === "ok" ? answer.data.status : `HTTP ${answer.httpStatus}`,
    message: answer.kind === "ok" ? answer.data.message : answer.message,
  };
}

function timeoutMessage(d: DeploymentState, last: string): string {
  return `deployment ${d.deployId ?? "(none)"} did not finish within ${Math.round(d.pollTimeoutMs / 1000)} s (${last})`;
}

/** A callback: the first final status of a DEPLOYING deployment applies, anything else is recorded. */
export function decideCallback(
  d: Pick<DeploymentState, "status">,
  opsStatus: string,
): { effect: "APPLIED"; outcome: "SUCCESS" | "FAILED" | "CANCELLED" } | { effect: "RECORDED" } {
  const outcome = terminalOutcome(opsStatus);
  return d.status === "DEPLOYING" && outcome ? { effect: "APPLIED", outcome } : { effect: "RECORDED" };
}

export type CancelState = "PENDING" | "DONE" | "NOT_SUPPORTED" | "GAVE_UP";

/** After `POST /deploy/{id}/cancel` (not in the ops module's API: 404/405/501 mean the server has no such call). */
export function decideAfterCancel(
  attempts: number,
  maxAttempts: number,
  answer: OpsAnswer<unknown>,
): { state: CancelState; retry: boolean } {
  if (answer.kind === "ok") return { state: "DONE", retry: false };
  if (answer.kind === "refused") {
    return [404, 405, 501].includes(answer.httpStatus)
      ? { state: "NOT_SUPPORTED", retry: false }
      : { state: "DONE", retry: false };
  }
  return attempts >= maxAttempts ? { state: "GAVE_UP", retry: false } : { state: "PENDING", retry: true };
}
