import { IterationPhaseChanged, PhasePipelineStatusChanged } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import { notificationsOfIteration, notificationsOfPhase } from "../../domain/notification.js";
import type { NotificationService } from "../../services/notification.service.js";

/**
 * pipeline-engine's events that people can be notified of. Each is turned into deliveries for the
 * app's subscriptions in the transaction that records it as processed; a redelivered event is a
 * duplicate (acked, nothing written), one that no subscription asks for is ignored, a failure is
 * redelivered with increasing delay by the consumer group.
 */
export function addNotificationEventConsumers(
  consumers: ConsumerGroup,
  notifications: NotificationService,
): void {
  const phase = "app-svc-notify-phase-pipeline-status-changed";
  consumers.add({
    durable: phase,
    def: PhasePipelineStatusChanged,
    concurrency: 8,
    handle: (message) => notifications.onEvent(phase, message, notificationsOfPhase(message.data)),
  });
  const iteration = "app-svc-notify-iteration-phase-changed";
  consumers.add({
    durable: iteration,
    def: IterationPhaseChanged,
    concurrency: 8,
    handle: (message) => notifications.onEvent(iteration, message, notificationsOfIteration(message.data)),
  });
}
