/** Decisions about an app's repository binding, kept free of I/O. */

/** Hosted providers need a token; LOCAL repositories do not (one rule, shared with app-svc). */
export { needsCredential } from "@procode/contracts";

/** Delay before retry number `attempt` (1-based) of a failed binding: base * 2^(n-1), capped. */
export function bindRetryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/** Delay before retry number `attempt` of a webhook delivery whose processing failed. */
export function deliveryRetryDelayMs(attempt: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.min(20, Math.max(0, attempt - 1)));
}

/** After this many failed attempts a delivery is marked FAILED and left for a person to look at. */
export const MAX_DELIVERY_ATTEMPTS = 10;
