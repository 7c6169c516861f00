import { IterationPhaseChanged, PhasePipelineStatusChanged } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { IterationProgress } from "../../iterations/iteration-progress.service.js";

/**
 * pipeline-engine's events about iterations and their releases. Each carries a sequence per
 * iteration (or per phase pipeline): an older or repeated one changes nothing (acked), one for an
 * iteration or release not recorded yet is retried later, a failure is redelivered with increasing
 * delay by the consumer group.
 */
export function addPipelineEventConsumers(consumers: ConsumerGroup, progress: IterationProgress): void {
  consumers.add({
    durable: "dev-svc-iteration-phase-changed",
    def: IterationPhaseChanged,
    concurrency: 8,
    handle: (message, ctx) => progress.onIterationPhaseChanged(message.data, ctx),
  });
  consumers.add({
    durable: "dev-svc-phase-pipeline-status-changed",
    def: PhasePipelineStatusChanged,
    concurrency: 8,
    handle: (message, ctx) => progress.onPhasePipelineStatusChanged(message.data, ctx),
  });
}
