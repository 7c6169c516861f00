import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** One Prometheus registry per service instance (no global state, so tests can build many apps). */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const messagesHandled = new Counter({
    name: "messages_handled_total",
    help: "Messages handled by consumer and result (ack, nak, term, duplicate)",
    labelNames: ["consumer", "result"],
    registers: [registry],
  });
  const outboxPublished = new Counter({
    name: "outbox_published_total",
    help: "Outbox events published to JetStream, by path (fast, poll)",
    labelNames: ["path"],
    registers: [registry],
  });
  const outboxBacklog = new Gauge({
    name: "outbox_backlog",
    help: "Outbox events not yet published at the last poll",
    registers: [registry],
  });
  return { registry, httpDuration, messagesHandled, outboxPublished, outboxBacklog };
}
export type Metrics = ReturnType<typeof createMetrics>;
