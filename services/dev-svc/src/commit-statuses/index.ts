import type { ServiceDeps } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { GitIntegration } from "../git/index.js";
import { addCommitStatusConsumers } from "../messaging/consumers/commit-status.consumer.js";
import { CommitStatuses } from "./commit-statuses.service.js";

/** Commit statuses of releases on GitLab, GitHub and Gitee, built on the git integration's access. */
export function createCommitStatuses(deps: ServiceDeps<Config>, git: GitIntegration): CommitStatuses {
  const { config } = deps;
  const statuses = new CommitStatuses(
    deps.db,
    git.access,
    deps.log.child({ part: "commit-statuses" }),
    deps.metrics,
    {
      pollMs: config.COMMIT_STATUS_POLL_MS,
      // One push is one provider call, bounded by GIT_TIMEOUT_MS.
      leaseMs: config.GIT_TIMEOUT_MS + 10_000,
      retryBaseMs: config.COMMIT_STATUS_RETRY_BASE_MS,
      retryMaxMs: config.COMMIT_STATUS_RETRY_MAX_MS,
      maxAttempts: config.COMMIT_STATUS_MAX_ATTEMPTS,
      publicBaseUrl: config.PUBLIC_BASE_URL,
    },
  );
  addCommitStatusConsumers(deps.consumers, statuses);
  return statuses;
}
