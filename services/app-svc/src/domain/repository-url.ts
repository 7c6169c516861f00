import type { GitType } from "@procode/contracts";

/**
 * Rules for a repository URL given by a user (SPEC 5, SPEC 10), decided before any I/O: which
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

/** A LOCAL repository name: one path segment, no traversal, no option-like leading dash. */
export const LOCAL_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const LOCAL_URL_PATTERN = /^local:\/\/([^/?#]*)\/?$/;

/** The provider a host obviously belongs to, or null for a host that says nothing (self-hosted). */
export function detectGitType(host: string): Exclude<GitType, "LOCAL"> | null {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (h === "github.com" || h.endsWith(".github.com")) return "GITHUB";
  if (h === "gitee.com" || h.endsWith(".gitee.com")) return "GITEE";
  if (h.includes("gitlab")) return "GITLAB";
  return null;
}

/**
 * Classifies a repository URL. `given` is the caller's gitType, which must agree with what the URL
 * shows; for a host that shows nothing, `given` decides, and a self-hosted GitLab is the default.
 */
export function classifyRepositoryUrl(
  raw: string,
  given: GitType | undefined,
  opts: { localEnabled: boolean },
): Ruling<RepositoryTarget> {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return invalid("gitRepoUrl", "must be a URL, e.g. https://gitlab.example.com/team/agent.git");
  }

  if (url.protocol === "local:") {
    const match = LOCAL_URL_PATTERN.exec(text);
    const name = match?.[1] ?? "";
    if (!match || !LOCAL_NAME_PATTERN.test(name)) {
      return invalid(
        "gitRepoUrl",
        "a local repository is named local://<name>, the name made of letters, digits, '.', '_' and '-' (no path)",
      );
    }
    if (given && given !== "LOCAL") {
      return invalid("gitType", `${given} contradicts a local:// repository URL (LOCAL)`);
    }
    if (!opts.localEnabled) return invalid("gitRepoUrl", "local repositories are not enabled");
    return { ok: true, value: { kind: "local", url: `local://${name}`, name, gitType: "LOCAL" } };
  }

  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return invalid(
      "gitRepoUrl",
      `scheme ${url.protocol} is not supported; use https (or local://<name> for a local repository)`,
    );
  }
  if (url.username || url.password) {
    return invalid("gitRepoUrl", "must not carry credentials; bind a credential (credentialId) instead");
  }
  if (url.search || url.hash || text.includes("?") || text.includes("#")) {
    return invalid("gitRepoUrl", "must not have a query or a fragment");
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path || path === "/") {
    return invalid("gitRepoUrl", "must name a repository, e.g. https://gitlab.example.com/team/agent.git");
  }
  if (given === "LOCAL") {
    return invalid("gitType", "LOCAL repositories are named local://<name>");
  }
  const detected = detectGitType(url.hostname);
  if (detected && given && detected !== given) {
    return invalid("gitType", `${given} contradicts the repository host ${url.hostname} (${detected})`);
  }
  const gitType = detected ?? given ?? "GITLAB";
  // The URL as given, without trailing slashes; the probe and dev-svc append their own paths.
  const normalized = `${url.protocol}//${url.host}${path}`;
  return { ok: true, value: { kind: "http", url: normalized, gitType } };
}

/** Where the repository's provider delivers webhooks for this app (through the gateway). */
export function webhookUrlFor(publicBaseUrl: string, gitType: GitType, appId: number): string {
  return `${publicBaseUrl.replace(/\/+$/, "")}/webhooks/${gitType.toLowerCase()}/${appId}`;
}
