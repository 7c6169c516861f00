import type { GitType } from "@procode/contracts";

/**
 * Where an app's repository lives and how its provider's API is reached, derived from the
 * repository URL alone (no I/O): the API base of a hosted or self-hosted GitLab, GitHub (Enterprise)
 * or Gitee, or the name of a LOCAL repository.
 */
export type RemoteGitType = Exclude<GitType, "LOCAL">;

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

export interface LocalLocation {
  kind: "local";
  gitType: "LOCAL";
  name: string;
}

export type RepositoryLocation = RemoteLocation | LocalLocation;

export type Located = { ok: true; location: RepositoryLocation } | { ok: false; reason: string };

/** A LOCAL repository name: one path segment, no traversal, no option-like leading dash. */
export const LOCAL_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const SEGMENT = /^[A-Za-z0-9_.][A-Za-z0-9._-]*$/;

export function locateRepository(rawUrl: string, gitType: GitType): Located {
  if (gitType === "LOCAL") {
    const m = /^local:\/\/([^/?#]+)\/?$/.exec(rawUrl.trim());
    const name = m?.[1]?.replace(/\.git$/, "") ?? "";
    if (!m || !LOCAL_NAME_PATTERN.test(name) || name === "." || name === "..") {
      return {
        ok: false,
        reason: "a LOCAL repository is named local://<name> (letters, digits, '.', '_', '-')",
      };
    }
    return { ok: true, location: { kind: "local", gitType, name } };
  }
  let url: URL;
  try {
    url = new URL(rawUrl.trim());
  } catch {
    return { ok: false, reason: "the repository URL is not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, reason: `scheme ${url.protocol} is not supported for ${gitType}` };
  }
  if (url.username || url.password)
    return { ok: false, reason: "the repository URL must not carry credentials" };
  const segments = url.pathname
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")
    .split("/")
    .filter(Boolean);
  if (segments.some((s) => !SEGMENT.test(s) || s === "." || s === "..")) {
    return { ok: false, reason: "the repository path has characters a repository path cannot have" };
  }
  const minSegments = 2;
  if (segments.length < minSegments || (gitType !== "GITLAB" && segments.length !== 2)) {
    return {
      ok: false,
      reason:
        gitType === "GITLAB"
          ? "the repository URL must name a project, e.g. https://gitlab.example.com/group/project.git"
          : "the repository URL must be https://<host>/<owner>/<name>",
    };
  }
  const origin = `${url.protocol}//${url.host}`;
  const host = url.hostname.toLowerCase();
  const apiBase =
    gitType === "GITLAB"
      ? `${origin}/api/v4`
      : gitType === "GITHUB"
        ? host === "github.com" || host === "www.github.com"
          ? "https://api.github.com"
          : `${origin}/api/v3`
        : host === "gitee.com" || host === "www.gitee.com"
          ? "https://gitee.com/api/v5"
          : `${origin}/api/v5`;
  const projectPath = segments.join("/");
  return {
    ok: true,
    location: {
      kind: "remote",
      gitType,
      origin,
      apiBase,
      projectPath,
      owner: segments.slice(0, -1).join("/"),
      name: segments.at(-1)!,
      cloneUrl: `${origin}/${projectPath}.git`,
    },
  };
}
