import type { GitType } from "./enums.js";

/**
 * The one grammar of a repository URL (docs/api.md, apps): app-svc reads a user's `gitRepoUrl` with
 * it before storing the URL and its provider, and dev-svc reads the stored pair with it to reach the
 * provider's API. Whatever app-svc accepts, dev-svc can bind. Decided without I/O.
 */

export type RemoteGitType = Exclude<GitType, "LOCAL">;

/** A repository of a hosted or self-hosted GitLab, GitHub (Enterprise) or Gitee. */
export interface RemoteLocation {
  kind: "remote";
  gitType: RemoteGitType;
  /** `https://host[:port]`. */
  origin: string;
  /** The provider's REST API base, e.g. `https://gitlab.example.com/api/v4`. */
  apiBase: string;
  /** `group/sub/name` (GitLab) or `owner/name` (GitHub, Gitee), without `.git`. */
  projectPath: string;
  owner: string;
  name: string;
  /** The URL to clone over HTTPS. */
  cloneUrl: string;
}

/** A repository of the LOCAL provider, by name (without `.git`). */
export interface LocalLocation {
  kind: "local";
  gitType: "LOCAL";
  name: string;
}

export type RepositoryLocation = RemoteLocation | LocalLocation;

/** A rule the input breaks: the field it concerns (the URL, or the gitType given with it) and the rule. */
export interface RepositoryUrlProblem {
  field: "gitRepoUrl" | "gitType";
  rule: string;
}

export type RepositoryUrlReading =
  | {
      ok: true;
      /** The URL as stored: as given, trimmed, the host in lowercase, no default port, no trailing slash. */
      url: string;
      location: RepositoryLocation;
    }
  | { ok: false; problem: RepositoryUrlProblem };

/** A LOCAL repository name: one path segment, no traversal, no option-like leading dash. */
export const LOCAL_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const LOCAL_URL_PATTERN = /^local:\/\/([^/?#]*)\/?$/;
/** One segment of a repository path, as the providers allow it (no `%`, no spaces, no traversal). */
const SEGMENT_PATTERN = /^[A-Za-z0-9_.][A-Za-z0-9._-]*$/;

const refuse = (field: RepositoryUrlProblem["field"], rule: string): RepositoryUrlReading => ({
  ok: false,
  problem: { field, rule },
});

/** The provider a host obviously belongs to, or null for a host that says nothing (self-hosted). */
export function detectGitType(host: string): RemoteGitType | null {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (h === "github.com" || h.endsWith(".github.com")) return "GITHUB";
  if (h === "gitee.com" || h.endsWith(".gitee.com")) return "GITEE";
  if (h.includes("gitlab")) return "GITLAB";
  return null;
}

function apiBaseOf(gitType: RemoteGitType, origin: string, host: string): string {
  if (gitType === "GITLAB") return `${origin}/api/v4`;
  if (gitType === "GITHUB")
    return host === "github.com" || host === "www.github.com" ? "https://api.github.com" : `${origin}/api/v3`;
  return host === "gitee.com" || host === "www.gitee.com" ? "https://gitee.com/api/v5" : `${origin}/api/v5`;
}

/**
 * Reads a repository URL. `given` is the gitType that comes with it, which must agree with what the
 * URL shows; for a host that shows nothing, `given` decides, and a self-hosted GitLab is the default.
 */
export function readRepositoryUrl(raw: string, given?: GitType): RepositoryUrlReading {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse("gitRepoUrl", "must be a URL, e.g. https://gitlab.example.com/team/agent.git");
  }

  if (url.protocol === "local:") {
    const written = LOCAL_URL_PATTERN.exec(text)?.[1] ?? "";
    const name = written.replace(/\.git$/, "");
    if (!LOCAL_NAME_PATTERN.test(written) || !LOCAL_NAME_PATTERN.test(name)) {
      return refuse(
        "gitRepoUrl",
        "a local repository is named local://<name>, the name made of letters, digits, '.', '_' and '-' (no path)",
      );
    }
    if (given && given !== "LOCAL")
      return refuse("gitType", `${given} contradicts a local:// repository URL (LOCAL)`);
    return { ok: true, url: `local://${written}`, location: { kind: "local", gitType: "LOCAL", name } };
  }

  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return refuse(
      "gitRepoUrl",
      `scheme ${url.protocol} is not supported; use https (or local://<name> for a local repository)`,
    );
  }
  if (url.username || url.password) {
    return refuse("gitRepoUrl", "must not carry credentials; bind a credential (credentialId) instead");
  }
  if (url.search || url.hash || text.includes("?") || text.includes("#")) {
    return refuse("gitRepoUrl", "must not have a query or a fragment");
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (given === "LOCAL") return refuse("gitType", "LOCAL repositories are named local://<name>");
  const detected = detectGitType(url.hostname);
  if (detected && given && detected !== given) {
    return refuse("gitType", `${given} contradicts the repository host ${url.hostname} (${detected})`);
  }
  const gitType = detected ?? given ?? "GITLAB";

  const segments = path
    .replace(/\.git$/, "")
    .split("/")
    .filter(Boolean);
  if (segments.some((s) => !SEGMENT_PATTERN.test(s) || s === "." || s === "..")) {
    return refuse(
      "gitRepoUrl",
      "the repository path may hold only letters, digits, '.', '_' and '-' between its slashes",
    );
  }
  if (segments.length < 2 || (gitType !== "GITLAB" && segments.length !== 2)) {
    return refuse(
      "gitRepoUrl",
      gitType === "GITLAB"
        ? "must name a project, e.g. https://gitlab.example.com/group/project.git"
        : `must be https://<host>/<owner>/<name> for ${gitType}`,
    );
  }
  const origin = `${url.protocol}//${url.host}`;
  const projectPath = segments.join("/");
  return {
    ok: true,
    // As given, without trailing slashes; the probe and dev-svc append their own paths.
    url: `${origin}${path}`,
    location: {
      kind: "remote",
      gitType,
      origin,
      apiBase: apiBaseOf(gitType, origin, url.hostname.toLowerCase()),
      projectPath,
      owner: segments.slice(0, -1).join("/"),
      name: segments.at(-1)!,
      cloneUrl: `${origin}/${projectPath}.git`,
    },
  };
}
