/**
 * The product's error codes. 0 is success; the others carry the HTTP status they are sent
 * with. Ranges: 1xxx app, 2xxx iteration, 3xxx pipeline, 4xxx ops/deploy, 5xxx auth/security,
 * 9xxx internal. New codes are added here and nowhere else.
 */
export const ErrorCodes = {
  SUCCESS: { code: 0, httpStatus: 200, meaning: "success" },

  INVALID_PARAMETER: { code: 1001, httpStatus: 400, meaning: "invalid parameter" },
  APP_NAME_TAKEN: { code: 1002, httpStatus: 409, meaning: "app name already exists" },
  GIT_REPO_UNREACHABLE: { code: 1003, httpStatus: 400, meaning: "git repository not reachable" },
  APP_NOT_FOUND: { code: 1004, httpStatus: 404, meaning: "app not found" },
  REPO_NOT_BOUND: { code: 1005, httpStatus: 409, meaning: "the app has no repository binding yet" },
  GIT_PROVIDER_UNAVAILABLE: { code: 1006, httpStatus: 503, meaning: "git provider unavailable" },
  GIT_PROVIDER_REJECTED: { code: 1007, httpStatus: 502, meaning: "git provider rejected the request" },
  GIT_REF_NOT_FOUND: {
    code: 1008,
    httpStatus: 404,
    meaning: "branch, tag, commit or file not found in the repository",
  },
  NOTIFICATION_NOT_FOUND: { code: 1009, httpStatus: 404, meaning: "notification subscription not found" },
  NOTIFICATION_LIMIT_REACHED: {
    code: 1010,
    httpStatus: 409,
    meaning: "the app has as many notification subscriptions as it may have",
  },

  QUALITY_REPORT_NOT_FOUND: { code: 1011, httpStatus: 404, meaning: "quality gate report not found" },

  PHASE_CANNOT_PROCEED: { code: 2001, httpStatus: 409, meaning: "iteration's current phase cannot proceed" },
  INVALID_TARGET_PHASE: { code: 2002, httpStatus: 400, meaning: "invalid target phase" },
  PRECONDITION_FAILED: { code: 2003, httpStatus: 409, meaning: "precondition not met" },
  ITERATION_NOT_FOUND: { code: 2004, httpStatus: 404, meaning: "iteration not found" },

  PIPELINE_STATE_CONFLICT: {
    code: 3001,
    httpStatus: 409,
    meaning: "pipeline state does not allow this action",
  },
  MAX_RETRIES_REACHED: { code: 3002, httpStatus: 409, meaning: "maximum retries reached" },
  PIPELINE_NOT_FOUND: { code: 3004, httpStatus: 404, meaning: "pipeline not found" },
  RELEASE_IN_PROGRESS: { code: 3005, httpStatus: 409, meaning: "another release of this app is running" },

  DEPLOYMENT_NOT_FOUND: { code: 4004, httpStatus: 404, meaning: "deployment not found" },
  OPS_UNAVAILABLE: { code: 4005, httpStatus: 503, meaning: "ops module unavailable" },

  UNAUTHENTICATED: { code: 5001, httpStatus: 401, meaning: "missing or invalid credentials" },
  BAD_SIGNATURE: { code: 5002, httpStatus: 401, meaning: "signature missing, invalid or stale" },
  FORBIDDEN: { code: 5003, httpStatus: 403, meaning: "not allowed" },
  CREDENTIAL_NOT_FOUND: { code: 5004, httpStatus: 404, meaning: "credential not found" },
  CREDENTIAL_IN_USE: {
    code: 5005,
    httpStatus: 409,
    meaning: "credential is bound to an app's repository",
  },
  RATE_LIMITED: {
    code: 5006,
    httpStatus: 429,
    meaning: "too many requests from this source on a public route; retry after the time given",
  },

  INTERNAL: { code: 9001, httpStatus: 500, meaning: "internal error" },
  ROUTE_NOT_FOUND: { code: 9002, httpStatus: 404, meaning: "no such route" },
  DEPENDENCY_UNAVAILABLE: {
    code: 9003,
    httpStatus: 503,
    meaning: "a service this call needs did not answer",
  },
  PAYLOAD_TOO_LARGE: { code: 9004, httpStatus: 413, meaning: "request body too large" },
  UNSUPPORTED_MEDIA_TYPE: { code: 9005, httpStatus: 415, meaning: "unsupported content type" },
  MALFORMED_REQUEST: {
    code: 9006,
    httpStatus: 400,
    meaning: "malformed HTTP request (a request target not in origin form, a URL that does not decode)",
  },
  URI_TOO_LONG: { code: 9007, httpStatus: 414, meaning: "request target too long" },
  HEADERS_TOO_LARGE: { code: 9008, httpStatus: 431, meaning: "request headers too large" },
  REQUEST_TIMEOUT: { code: 9009, httpStatus: 408, meaning: "request body not received in time" },
  IDEMPOTENCY_KEY_REUSED: {
    code: 9010,
    httpStatus: 422,
    meaning: "Idempotency-Key already used with a different request",
  },
  IDEMPOTENCY_KEY_IN_USE: {
    code: 9011,
    httpStatus: 409,
    meaning: "a request with this Idempotency-Key is still being answered; retry",
  },
} as const;

export type ErrorName = Exclude<keyof typeof ErrorCodes, "SUCCESS">;
export type ErrorCode = (typeof ErrorCodes)[ErrorName]["code"];

const byCode = new Map<number, { name: ErrorName; httpStatus: number; meaning: string }>(
  (Object.entries(ErrorCodes) as [keyof typeof ErrorCodes, (typeof ErrorCodes)[keyof typeof ErrorCodes]][])
    .filter(([name]) => name !== "SUCCESS")
    .map(([name, e]) => [e.code, { name: name as ErrorName, httpStatus: e.httpStatus, meaning: e.meaning }]),
);

/** Looks a code up; unknown codes are treated as internal errors. */
export function describeErrorCode(code: number): { name: ErrorName; httpStatus: number; meaning: string } {
  return byCode.get(code) ?? { name: "INTERNAL", httpStatus: 500, meaning: ErrorCodes.INTERNAL.meaning };
}
