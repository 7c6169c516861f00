/**
 * What a person can be told about an app (docs/services/app-svc.md "Notifications"), derived from
 * the platform's events: a release pipeline started (or started again by retry or resume),
 * succeeded, failed, was cancelled; its deployment succeeded or failed; an iteration waits for a
 * person to proceed; an iteration was released. No imports: the web console lists them too.
 */
export const NOTIFICATION_EVENT_TYPES = [
  "pipeline.started",
  "pipeline.succeeded",
  "pipeline.failed",
  "pipeline.cancelled",
  "deployment.succeeded",
  "deployment.failed",
  "iteration.waiting",
  "iteration.released",
] as const;
