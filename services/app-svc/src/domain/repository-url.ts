import { readRepositoryUrl, type GitType } from "@procode/contracts";

/**
 * Rules for a repository URL given by a user, decided before any I/O: which
 * provider it is, whether its form is acceptable, and what the reachability probe must contact.
 */

/** What the probe contacts: a smart-HTTP remote, or a repository under the LOCAL provider's root. */
export type RepositoryTarget =
  | { kind: "http"; url: string; gitType: Exclude<GitType, "LOCAL"> }
  | { kind: "local"; url: string; name: string; gitType: "LOCAL" };

/** A rule the input breaks: which error it is, the field it concerns and the rule, for the message. */
export interface Problem {
  kind: "INVALID_PARAMETER" | "GIT_REPO_UNREACHABLE";
  field: string;
  rule: string;
}

export type Ruling<T> = { ok: true; value: T } | { ok: false; problem: Problem };

const invalid = (field: string, rule: string): Ruling<never> => ({
  ok: false,
  problem: { kind: "INVALID_PARAMETER", field, rule },
});

/**
 * Classifies a repository URL with the platform's one grammar (contracts `readRepositoryUrl`, the
 * one dev-svc binds with). `given` is the caller's gitType; LOCAL repositories need the LOCAL
 * provider to be enabled here.
 */
export function classifyRepositoryUrl(
  raw: string,
  given: GitType | undefined,
  opts: { localEnabled: boolean },
): Ruling<RepositoryTarget> {
  const reading = readRepositoryUrl(raw, given);
  if (!reading.ok) return invalid(reading.problem.field, reading.problem.rule);
  const { url, location } = reading;
  if (location.kind === "local") {
    if (!opts.localEnabled) return invalid("gitRepoUrl", "local repositories are not enabled");
    return { ok: true, value: { kind: "local", url, name: location.name, gitType: "LOCAL" } };
  }
  return { ok: true, value: { kind: "http", url, gitType: location.gitType } };
}

/** Where the repository's provider delivers webhooks for this app (through the gateway). */
export function webhookUrlFor(publicBaseUrl: string, gitType: GitType, appId: number): string {
  return `${publicBaseUrl.replace(/\/+$/, "")}/webhooks/${gitType.toLowerCase()}/${appId}`;
}
