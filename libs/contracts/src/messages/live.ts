import { z } from "zod";
import {
  DevMode,
  DeployStatus,
  IterationStatus,
  PhaseStage,
  PipelineState,
  PipelineStatus,
  PipelineType,
  RepoBindingState,
  ScaffoldState,
  StageName,
  IterationMachineState,
} from "../enums.js";
import { WebhookDeliveryStatus } from "../http/dev.js";
import { StageLogLine } from "../http/logs.js";
import { NotificationDeliveryStatus } from "../http/notifications.js";
import { defineMessage } from "../message.js";

/**
 * Live events (docs/api.md, "Live events"): what the platform tells people as it happens, on
 * `GET /events`. Each is published on `<env>.<type>.<team token>` (`liveTeamToken`), kept an hour,
 * and read by nothing but the gateway's event stream; no service acts on them.
 */

export const PipelineChanged = defineMessage({
  type: "live.pipeline.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    pipelineId: z.number().int().positive(),
    appId: z.number().int().positive(),
    iterationId: z.number().int().positive(),
    kind: PipelineType,
    status: PipelineStatus,
    state: PipelineState,
    stage: StageName.nullable(),
    deployStatus: DeployStatus.nullable(),
    attempt: z.number().int().min(0),
    failedStage: PhaseStage.nullable(),
    error: z.string().nullable(),
    /** What the pipeline waits for from a person: PROCEED, RETRY_OR_RESUME, or nothing. */
    awaiting: z.enum(["PROCEED", "RETRY_OR_RESUME"]).nullable(),
    /**
     * Why the current stage attempt waits for an outside system that does not answer (its
     * checkpoint's `waiting.reason`); null when it does not. Absent from events of older engines.
     */
    waiting: z.string().nullable().optional(),
  }),
  publisher: "pipeline-engine",
  consumers: ["gateway"],
  description:
    "A pipeline of either type changed (state, stage, attempt, deploy status, failure or what it waits for); its summary, in the transaction of the change.",
});

export const IterationChanged = defineMessage({
  type: "live.iteration.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    iterationId: z.number().int().positive(),
    appId: z.number().int().positive(),
    status: IterationStatus,
    currentPhase: IterationMachineState.nullable(),
    phasePipelineId: z.number().int().positive().nullable(),
    headCommit: z.string().nullable(),
  }),
  publisher: "dev-svc",
  consumers: ["gateway"],
  description:
    "An iteration was created or changed (status, phase, its release's pipeline, the head of its branch), in the transaction of the change.",
});

export const StageLogWritten = defineMessage({
  type: "live.log.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    pipelineId: z.number().int().positive(),
    appId: z.number().int().positive(),
    ...StageLogLine.shape,
  }),
  publisher: ["dev-svc", "ops-gateway"],
  consumers: ["gateway"],
  description:
    "A line was added to a stage attempt's log (dev-svc: CODE_CHECK, BUILD, PACKAGE; ops-gateway: DEPLOY), in the transaction that stored it.",
});

export const DeploymentChanged = defineMessage({
  type: "live.deployment.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    pipelineId: z.number().int().positive(),
    appId: z.number().int().positive(),
    attempt: z.number().int().min(1),
    /** Null while the ops module has not given one. */
    deployId: z.string().nullable(),
    /** STARTED: ops accepted it (again after a wait); WAITING_OPS: ops does not answer; FINISHED: its outcome. */
    state: z.enum(["STARTED", "WAITING_OPS", "FINISHED"]),
    outcome: z.enum(["SUCCESS", "FAILED", "TIMEOUT", "CANCELLED"]).nullable(),
    /** Why it waits, or the outcome's message. */
    message: z.string().nullable(),
  }),
  publisher: "ops-gateway",
  consumers: ["gateway"],
  description:
    "A deployment started, waits for the ops module, or finished; beside the ops events the engine reads, in the same transaction.",
});

export const RepositoryChanged = defineMessage({
  type: "live.repository.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    appId: z.number().int().positive(),
    /** The binding's state, as `GET /apps/{id}/repo` shows it. */
    state: RepoBindingState,
    /** Why the last binding attempt failed; null when it did not. */
    lastError: z.string().nullable(),
    scaffoldState: ScaffoldState,
  }),
  publisher: "dev-svc",
  consumers: ["gateway"],
  description:
    "An app's repository binding was created or changed (desired binding, binding outcome, scaffold state); its state, in the transaction of the change.",
});

export const AppChanged = defineMessage({
  type: "live.app.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    appId: z.number().int().positive(),
    name: z.string(),
    devMode: DevMode,
    /** The revision of its configuration after the change (1 when created). */
    revision: z.number().int().min(1),
  }),
  publisher: "app-svc",
  consumers: ["gateway"],
  description:
    "An app was created or its pro-code configuration changed; its name, mode and revision, in the transaction of the change.",
});

export const WebhookDeliveryChanged = defineMessage({
  type: "live.webhook_delivery.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    appId: z.number().int().positive(),
    deliveryId: z.string(),
    /** The delivery's state, as `GET /apps/{id}/repo/webhook-deliveries` shows it. */
    status: WebhookDeliveryStatus,
    /** Why it was refused, ignored or failed, or what it recorded; null while queued. */
    reason: z.string().nullable(),
  }),
  publisher: "dev-svc",
  consumers: ["gateway"],
  description:
    "A repository webhook delivery was recorded (queued or refused) or processed (recorded, ignored, failed, or put back for a retry), in the transaction of the change.",
});

export const NotificationDeliveryChanged = defineMessage({
  type: "live.notification_delivery.v1",
  kind: "event",
  perTeam: true,
  data: z.object({
    appId: z.number().int().positive(),
    subscriptionId: z.number().int().positive(),
    /** The delivery's id (its `webhook-id`), as `GET /apps/{id}/notifications/{subscriptionId}/deliveries` shows it. */
    deliveryId: z.string(),
    status: NotificationDeliveryStatus,
    /** Attempts made so far (0: written, not sent yet). */
    attempts: z.number().int().min(0),
  }),
  publisher: "app-svc",
  consumers: ["gateway"],
  description:
    "A notification delivery was written or attempted (delivered, to be retried, or failed for good), in the transaction of the change.",
});

/** The live events, by the name `GET /events` gives them (its `event:` field and `types` filter). */
export const LIVE_EVENTS = {
  pipeline: PipelineChanged,
  iteration: IterationChanged,
  log: StageLogWritten,
  deployment: DeploymentChanged,
  repository: RepositoryChanged,
  app: AppChanged,
  webhook: WebhookDeliveryChanged,
  notification: NotificationDeliveryChanged,
} as const;
export type LiveEventName = keyof typeof LIVE_EVENTS;
