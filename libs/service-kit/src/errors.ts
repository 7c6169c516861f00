import { ErrorCodes, type ErrorName } from "@procode/contracts";

/**
 * An error the product answers with its own code. The message names the problem and is
 * shown to callers, so it must never contain secrets or internals.
 */
export class DomainError extends Error {
  override name = "DomainError";
  readonly code: number;
  readonly httpStatus: number;
  constructor(
    readonly kind: ErrorName,
    message: string,
    readonly data: unknown = null,
  ) {
    super(message);
    this.code = ErrorCodes[kind].code;
    this.httpStatus = ErrorCodes[kind].httpStatus;
  }
}

export const isDomainError = (err: unknown): err is DomainError => err instanceof DomainError;

/** A 1001 naming the field and the rule. */
export function invalidParameter(field: string, rule: string): DomainError {
  return new DomainError("INVALID_PARAMETER", `${field}: ${rule}`, { fields: [{ field, message: rule }] });
}

/** A peer or an outside system did not answer: 503 with a message saying which. */
export function dependencyUnavailable(what: string, detail?: string): DomainError {
  return new DomainError(
    "DEPENDENCY_UNAVAILABLE",
    `${what} is unavailable${detail ? `: ${detail}` : ""}; retry later`,
  );
}
