import type { ServiceDeps } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { GitIntegration } from "../git/index.js";
import { registerIterationRoutes } from "../http/routes/iterations.routes.js";
import { addPipelineEventConsumers } from "../messaging/consumers/pipeline-events.consumer.js";
import { IterationProgress } from "./iteration-progress.service.js";
import { IterationService } from "./iteration.service.js";
import { ReleaseService } from "./release.service.js";

/**
 * dev-svc's iterations: creation, reads, phase progression and release by tag,
 * built on the git integration's repository access (branch checks, tagging). pipeline-engine owns
 * the iteration and phase pipelines; dev-svc asks it by request/reply and follows its events.
 */
export interface Iterations {
  iterations: IterationService;
  releases: ReleaseService;
  progress: IterationProgress;
}

export function createIterations(deps: ServiceDeps<Config>, git: GitIntegration): Iterations {
  const { config, db, outbox, nats } = deps;
  const log = deps.log.child({ part: "iterations" });
  const progress = new IterationProgress(outbox, log);
  const releases = new ReleaseService(db, outbox, nats, git.access, progress, log, {
    rpcTimeoutMs: config.RPC_TIMEOUT_MS,
    // Resolving the head and tagging are two provider calls, each within GIT_TIMEOUT_MS.
    lockMs: config.GIT_TIMEOUT_MS * 2 + config.RPC_TIMEOUT_MS + 10_000,
    askMs: config.RELEASE_ASK_MS,
  });
  const iterations = new IterationService(db, outbox, nats, git.access, progress, releases, log, {
    rpcTimeoutMs: config.RPC_TIMEOUT_MS,
  });
  registerIterationRoutes(deps.app, iterations, releases, deps.idempotency);
  addPipelineEventConsumers(deps.consumers, progress);
  return { iterations, releases, progress };
}
