import { Gitlab } from "@gitbeaker/rest";
import { Octokit } from "@octokit/rest";
import type { GitType } from "@procode/contracts";
import type { GitEmulator } from "@procode/git-emulators";

/** One context's newest status as the provider's own API lists it. */
export interface ListedStatus {
  context: string;
  state: string;
  description: string | null;
  targetUrl: string | null;
}

/**
 * The newest status per context on a commit, read through each provider's list endpoint with its
 * real client library (gitbeaker's `Commits.allStatuses`, Octokit's combined status; Gitee's API over
 * HTTP as dev-svc's client speaks it), and the combined state where the provider has one.
 */
export async function readStatuses(
  gitType: Exclude<GitType, "LOCAL">,
  emu: GitEmulator,
  repoPath: string,
  sha: string,
  token: string,
): Promise<{ statuses: ListedStatus[]; combined: string | null }> {
  const [owner, repo] = repoPath.split("/") as [string, string];
  if (gitType === "GITLAB") {
    const api = new Gitlab({ host: emu.url, token });
    const list = await api.Commits.allStatuses(repoPath, sha);
    return {
      statuses: list.map((s) => ({
        context: s.name,
        state: s.status,
        description: s.description ?? null,
        targetUrl: s.target_url ?? null,
      })),
      combined: null,
    };
  }
  if (gitType === "GITHUB") {
    const api = new Octokit({ auth: token, baseUrl: emu.apiUrl });
    const combined = await api.rest.repos.getCombinedStatusForRef({ owner, repo, ref: sha });
    return {
      statuses: combined.data.statuses.map((s) => ({
        context: s.context,
        state: s.state,
        description: s.description,
        targetUrl: s.target_url,
      })),
      combined: combined.data.state,
    };
  }
  const res = await fetch(`${emu.apiUrl}/repos/${owner}/${repo}/commits/${sha}/status?access_token=${token}`);
  if (!res.ok) throw new Error(`Gitee emulator answered ${res.status}`);
  const body = (await res.json()) as {
    state: string;
    statuses: { context: string; state: string; description: string | null; target_url: string | null }[];
  };
  return {
    statuses: body.statuses.map((s) => ({
      context: s.context,
      state: s.state,
      description: s.description,
      targetUrl: s.target_url,
    })),
    combined: body.state,
  };
}
