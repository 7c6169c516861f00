import type { ErrorName } from "@procode/contracts";

/** What a call that reaches the app's git provider can answer (integrations/git/errors.ts). */
export const PROVIDER_ERRORS: readonly ErrorName[] = [
  "GIT_REPO_UNREACHABLE",
  "GIT_PROVIDER_UNAVAILABLE",
  "GIT_PROVIDER_REJECTED",
  "GIT_REF_NOT_FOUND",
];

/** A call that uses the app's repository with its credential (repository-access.ts, strict). */
export const REPOSITORY_ERRORS: readonly ErrorName[] = [
  "APP_NOT_FOUND",
  "REPO_NOT_BOUND",
  "CREDENTIAL_NOT_FOUND",
  ...PROVIDER_ERRORS,
];
