import { backoffDelay } from "@procode/service-kit/backoff";

/** Decisions about an app's repository binding, kept free of I/O. */

/** Hosted providers need a token; LOCAL repositories do not (one rule, shared with app-svc). */
export { needsCredential } from "@procode/contracts";

/** Delay before retry number `attempt` (1-based) of a failed binding: doubling from the base, capped. */
export function bindRetryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return backoffDelay(attempt, baseMs, maxMs, 0);
}

/** Delay before retry number `attempt` of a webhook delivery whose processing failed: 1 s doubling to 5 min. */
export function deliveryRetryDelayMs(attempt: number): number {
  return backoffDelay(attempt, 1000, 300_000, 0);
}

/** After this many failed attempts a delivery is marked FAILED and left for a person to look at. */
export const MAX_DELIVERY_ATTEMPTS = 10;
