import type { MessageData, PhaseStage, StageError, StageRequested } from "@procode/contracts";
import { errorMessage, isDomainError, type Logger, type StageLog } from "@procode/service-kit";
import { GitProviderError, type GitFailure } from "../integrations/git/errors.js";
import { ImageBuildError } from "../integrations/image-builder/image-builder.js";
import type { AppProjection } from "../store/app-projection.repository.js";
import { RenderError } from "./dockerfile.js";
import { PythonUnavailableError } from "./python/syntax.js";

export type StageRequest = MessageData<typeof StageRequested>;

export type StageResult =
  | { outcome: "SUCCESS"; output: Record<string, unknown> }
  | { outcome: "FAILED"; output: Record<string, unknown> | null; error: StageError };

/** What one attempt of a stage gets to work with. */
export interface StageContext {
  request: StageRequest;
  /** dev-svc's copy of the app (name, tech stack, scaffold template); null if it has not arrived. */
  app: AppProjection | null;
  /** Aborted when the attempt runs out of time (or is no longer this runner's). */
  signal: AbortSignal;
  log: Logger;
  /**
   * The attempt's own log, readable by the team (`GET /pipelines/{id}/logs`): the steps taken, each
   * check and finding, what the outside systems answered. The service's `log` is for operators.
   */
  out: StageLog;
  /** Says what the attempt is doing now: named by a timeout, and by a failure of an outside call. */
  step(what: string): void;
  /**
   * Says the attempt waits for an outside system that does not answer (the reason), or goes on
   * (null). Waiting never fails an attempt, and its time does not count against the attempt's bound.
   */
  waiting(reason: string | null): void;
}

/** The work of one stage (CODE_CHECK, BUILD, PACKAGE). */
export interface StageWork {
  stage: PhaseStage;
  /** Bound of one attempt, after which it is a FAILED result naming what it was doing. */
  timeoutMs: number;
  run(ctx: StageContext): Promise<StageResult>;
}

/** A failure the stage itself decided on, with where it happened and whether re-running can help. */
export class StageFailedError extends Error {
  override name = "StageFailedError";
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
    readonly retryable: boolean,
    readonly output: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

/** The attempt ran out of time. */
export class StageTimeoutError extends Error {
  override name = "StageTimeoutError";
}

/** Git failures that a later attempt may not meet (provider down, slow, or a race). */
const TRANSIENT_GIT: readonly GitFailure[] = ["unavailable", "timeout", "conflict"];

/** An error the stage expects (a finding, an outside system's answer, a timeout), not a bug. */
export function isKnownFailure(err: unknown): boolean {
  return (
    err instanceof StageFailedError ||
    err instanceof StageTimeoutError ||
    err instanceof GitProviderError ||
    err instanceof ImageBuildError ||
    err instanceof RenderError ||
    err instanceof PythonUnavailableError ||
    isDomainError(err)
  );
}

/** Any error of an attempt as its FAILED result: which check, file, or outside call, and whether to retry. */
export function failedResult(
  stage: PhaseStage,
  err: unknown,
  step: string,
): StageResult & { outcome: "FAILED" } {
  if (err instanceof StageFailedError) {
    return {
      outcome: "FAILED",
      output: err.output,
      error: { message: err.message, details: err.details, retryable: err.retryable },
    };
  }
  if (err instanceof StageTimeoutError) {
    return {
      outcome: "FAILED",
      output: null,
      error: { message: err.message, details: { timeout: true, step }, retryable: true },
    };
  }
  if (err instanceof GitProviderError) {
    return {
      outcome: "FAILED",
      output: null,
      error: {
        message: `${stage}: ${err.message}`,
        details: { call: step, failure: err.failure, code: err.code },
        retryable: TRANSIENT_GIT.includes(err.failure),
      },
    };
  }
  if (err instanceof ImageBuildError) {
    return {
      outcome: "FAILED",
      output: null,
      error: {
        message: `${stage}: ${err.message}`,
        details: { call: err.call, failure: err.failure, ...(err.buildId ? { buildId: err.buildId } : {}) },
        retryable: err.failure !== "rejected",
      },
    };
  }
  if (err instanceof RenderError) {
    return {
      outcome: "FAILED",
      output: null,
      error: { message: `${stage}: ${err.message}`, details: { field: err.field }, retryable: false },
    };
  }
  if (err instanceof PythonUnavailableError) {
    return {
      outcome: "FAILED",
      output: null,
      error: { message: `${stage}: ${err.message}`, details: { check: "python-syntax" }, retryable: true },
    };
  }
  if (isDomainError(err)) {
    // No repository binding, a credential that cannot be used: a person has to act first.
    return {
      outcome: "FAILED",
      output: null,
      error: {
        message: `${stage}: ${err.message}`,
        details: { call: step, code: err.code },
        retryable: false,
      },
    };
  }
  return {
    outcome: "FAILED",
    output: null,
    error: {
      message: `${stage} failed while ${step}: ${errorMessage(err)}`,
      details: { step },
      retryable: true,
    },
  };
}
