import type { ErrorName } from "@procode/contracts";
import { DomainError } from "@procode/service-kit";

/** Why a provider call failed. */
export type GitFailure =
  /** Network error, 5xx or 429 after the retries, or the provider is down. */
  | "unavailable"
  /** The call's time budget (GIT_TIMEOUT_MS) ran out. */
  | "timeout"
  /** 401/403: the token is missing, wrong or lacks the right. */
  | "unauthorized"
  | "repo_not_found"
  | "ref_not_found"
  | "file_not_found"
  | "tag_exists_elsewhere"
  /** The branch moved under a write, or a similar race. */
  | "conflict"
  /** Any other 4xx. */
  | "rejected"
  /** The repository URL or the configuration does not allow the call (SSRF guard, LOCAL root). */
  | "not_allowed";

const KIND: Record<GitFailure, ErrorName> = {
  unavailable: "GIT_PROVIDER_UNAVAILABLE",
  timeout: "GIT_PROVIDER_UNAVAILABLE",
  unauthorized: "GIT_PROVIDER_REJECTED",
  repo_not_found: "GIT_REPO_UNREACHABLE",
  ref_not_found: "GIT_REF_NOT_FOUND",
  file_not_found: "GIT_REF_NOT_FOUND",
  tag_exists_elsewhere: "PRECONDITION_FAILED",
  conflict: "GIT_PROVIDER_REJECTED",
  rejected: "GIT_PROVIDER_REJECTED",
  not_allowed: "GIT_REPO_UNREACHABLE",
};

/**
 * A failed provider call as a domain error (its code follows the failure: 1006 unavailable, 1007
 * rejected, 1003 repository not found, 1008 ref not found, 2003 tag on another commit). `retryable`
 * marks transient failures the call policy may retry.
 */
export class GitProviderError extends DomainError {
  override name = "GitProviderError";
  constructor(
    readonly failure: GitFailure,
    message: string,
    readonly status: number | null = null,
    readonly retryable = false,
    data: unknown = null,
  ) {
    super(KIND[failure], message, data);
  }
}

/** The failure for an HTTP status from a provider (`what` says which object the call was about). */
export function failureForStatus(status: number, what: "repo" | "ref" | "file" | "other"): GitFailure {
  if (status === 429 || status >= 500) return "unavailable";
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404)
    return what === "ref" ? "ref_not_found" : what === "file" ? "file_not_found" : "repo_not_found";
  if (status === 409) return "conflict";
  return "rejected";
}

/** Transient: worth retrying (network error, 5xx, 429). */
export const isTransientStatus = (status: number) => status === 429 || status >= 500;

/** Removes anything that looks like a credential from a provider's message before we repeat it. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "")
    .replace(/(access_token|private_token|token)=[^&\s"']+/gi, "$1=[redacted]")
    .replace(/(authorization|private-token)\s*[:=]\s*\S+(\s+\S+)?/gi, "$1: [redacted]")
    .replace(/\/\/[^/@\s]+:[^/@\s]+@/g, "//[redacted]@");
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

/** The answer to creating a tag that already exists on another commit (2003 upstream). */
export function tagExistsElsewhere(
  name: string,
  existing: string,
  wanted: string,
  status: number | null,
): GitProviderError {
  return new GitProviderError(
    "tag_exists_elsewhere",
    `tag ${name} already exists on commit ${existing.slice(0, 12)}, not on ${wanted.slice(0, 12)}`,
    status,
    false,
    { tag: name, commitId: existing },
  );
}

/** Runs a delete; a resource that is already gone counts as deleted. */
export async function deleteTolerantly(del: () => Promise<unknown>): Promise<void> {
  try {
    await del();
  } catch (err) {
    if (err instanceof GitProviderError && err.status === 404) return;
    throw err;
  }
}
