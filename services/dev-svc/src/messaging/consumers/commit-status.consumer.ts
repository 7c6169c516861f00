import { PhasePipelineStatusChanged, StageRequested } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { CommitStatuses } from "../../commit-statuses/commit-statuses.service.js";

/**
 * The engine's events a release's commit statuses follow: its phase pipeline's status (created,
 * started, finished, resumed) and every stage attempt it requests (DEPLOY's included, which
 * ops-gateway runs). Durable consumers of their own, apart from the ones that act on these events;
 * recording a state is idempotent and only ever moves a context forward, so redeliveries and
 * reordering between the two streams change nothing.
 */
export function addCommitStatusConsumers(consumers: ConsumerGroup, statuses: CommitStatuses): void {
  consumers.add({
    durable: "dev-svc-commit-status-phase",
    def: PhasePipelineStatusChanged,
    concurrency: 4,
    handle: (message) => statuses.onPhaseStatus(message.data),
  });
  consumers.add({
    durable: "dev-svc-commit-status-stage",
    def: StageRequested,
    suffix: "*",
    concurrency: 4,
    handle: (message) => statuses.onStageRequested(message.data),
  });
}
