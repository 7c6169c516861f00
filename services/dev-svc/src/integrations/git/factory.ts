import type { GitType } from "@procode/contracts";
import { locateRepository } from "../../domain/repository-location.js";
import type { CallObserver, CallPolicy } from "./call-policy.js";
import { GitProviderError } from "./errors.js";
import { GiteeProvider } from "./gitee.js";
import { GitHubProvider } from "./github.js";
import { GitLabProvider } from "./gitlab.js";
import type { FetchLike } from "./http.js";
import { LocalGitProvider } from "./local.js";
import type { GitProvider } from "./provider.js";

/**
 * What a provider is made for: the repository, the team of the app it is used for (a LOCAL
 * repository serves only the team that owns it) and, when there is one, the decrypted token.
 */
interface ProviderTarget {
  gitType: GitType;
  repoUrl: string;
  team: string;
  token: string | null;
}

export interface ProviderFactoryOptions {
  policy: CallPolicy;
  /** The SSRF-guarded fetch for provider APIs. */
  fetch: FetchLike;
  localRoot: string | undefined;
  localHookTimeoutMs: number;
  observe?: CallObserver;
}

export type ProviderFactory = (target: ProviderTarget) => GitProvider;

/** Makes the adapter for a repository; throws GitProviderError (1003) when the URL cannot be used. */
export function createProviderFactory(opts: ProviderFactoryOptions): ProviderFactory {
  return (target) => {
    const located = locateRepository(target.repoUrl, target.gitType);
    if (!located.ok) throw new GitProviderError("not_allowed", `${target.repoUrl}: ${located.reason}`);
    const loc = located.location;
    if (loc.kind === "local") {
      return new LocalGitProvider(
        loc,
        { root: opts.localRoot, hookTimeoutMs: opts.localHookTimeoutMs, team: target.team },
        opts.policy,
        opts.observe,
      );
    }
    switch (loc.gitType) {
      case "GITLAB":
        return new GitLabProvider(loc, target.token, opts.fetch, opts.policy, opts.observe);
      case "GITHUB":
        return new GitHubProvider(loc, target.token, opts.fetch, opts.policy, opts.observe);
      case "GITEE":
        return new GiteeProvider(loc, target.token, opts.fetch, opts.policy, opts.observe);
    }
  };
}
