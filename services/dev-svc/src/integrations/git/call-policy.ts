import { backoffDelay, errorMessage, sleep } from "@procode/service-kit";
import { GitProviderError } from "./errors.js";

/**
 * How every provider call runs: one time budget for the whole call, retries included;
 * up to `maxRetries` retries with increasing delay after transient failures only (network errors,
 * 5xx, 429); none after other 4xx.
 */
export interface CallPolicy {
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
}

/** Told about each attempt (metrics, logs). */
export type CallObserver = (event: {
  provider: string;
  op: string;
  attempt: number;
  outcome: "ok" | "retry" | "failed";
  failure?: string;
}) => void;

export interface CallContext {
  /** Aborts when the call's budget is spent; pass it to every request. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
}

/**
 * Runs `fn` under the policy. `fn` throws GitProviderError (retryable or not); anything else is a
 * bug or an unexpected library error and is treated as a non-retryable rejection with its message.
 */
export async function callWithPolicy<T>(
  policy: CallPolicy,
  provider: string,
  op: string,
  fn: (ctx: CallContext) => Promise<T>,
  observe?: CallObserver,
): Promise<T> {
  const budget = AbortSignal.timeout(policy.timeoutMs);
  const deadline = Date.now() + policy.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await fn({ signal: budget, attempt });
      observe?.({ provider, op, attempt, outcome: "ok" });
      return out;
    } catch (raw) {
      if (budget.aborted) {
        observe?.({ provider, op, attempt, outcome: "failed", failure: "timeout" });
        throw new GitProviderError(
          "timeout",
          `${provider} did not answer within ${policy.timeoutMs} ms (${op}); retry later`,
          null,
          false,
        );
      }
      const err =
        raw instanceof GitProviderError
          ? raw
          : new GitProviderError("rejected", `${provider} ${op} failed: ${errorMessage(raw)}`);
      const delay = backoffDelay(attempt, policy.retryBaseMs, 30000);
      const canRetry = err.retryable && attempt <= policy.maxRetries && Date.now() + delay < deadline;
      if (!canRetry) {
        observe?.({ provider, op, attempt, outcome: "failed", failure: err.failure });
        if (err.retryable && attempt > 1) {
          throw new GitProviderError(
            err.failure,
            `${err.message} (after ${attempt} attempts); retry later`,
            err.status,
            false,
            err.data,
          );
        }
        throw err;
      }
      observe?.({ provider, op, attempt, outcome: "retry", failure: err.failure });
      await sleep(delay, budget);
    }
  }
}
