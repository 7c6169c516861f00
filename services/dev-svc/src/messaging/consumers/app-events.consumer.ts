import { AppCreated, ProcodeConfigChanged } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { AppProjectionService } from "../../git/app-projection.service.js";

/**
 * app-svc's app events: each applied once (inbox), the newest revision of an app wins whatever order
 * they arrive in; a failure is redelivered by the consumer group with increasing delay.
 */
export function addAppEventConsumers(consumers: ConsumerGroup, projection: AppProjectionService): void {
  const created = "dev-svc-app-created";
  consumers.add({
    durable: created,
    def: AppCreated,
    concurrency: 4,
    handle: (message, ctx) => projection.apply(created, message.id, ctx.correlationId, message.data),
  });
  const changed = "dev-svc-procode-config-changed";
  consumers.add({
    durable: changed,
    def: ProcodeConfigChanged,
    concurrency: 4,
    handle: (message, ctx) => projection.apply(changed, message.id, ctx.correlationId, message.data),
  });
}
