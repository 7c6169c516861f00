import { z } from "zod";
import { IterationMachineState, PhaseStage, PipelineStatus } from "../enums.js";
import { DateTime, PageQuery } from "../envelope.js";
import { NOTIFICATION_EVENT_TYPES } from "../notification-events.js";

export const NotificationEventType = z.enum(NOTIFICATION_EVENT_TYPES).meta({
  id: "NotificationEventType",
  description: "A kind of event a notification subscription can ask for",
});
export type NotificationEventType = z.infer<typeof NotificationEventType>;

/** Standard Webhooks secrets: `whsec_` and the base64 of 24 to 64 random bytes. */
export const NOTIFICATION_SECRET_PREFIX = "whsec_";
const SECRET_RULE = "must be whsec_ followed by the base64 of 24 to 64 bytes";

function secretBytes(secret: string): number | null {
  const b64 = secret.slice(NOTIFICATION_SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
  try {
    return atob(b64).length;
  } catch {
    return null;
  }
}

export const NotificationSecret = z
  .string()
  .max(200, SECRET_RULE)
  .refine((v) => v.startsWith(NOTIFICATION_SECRET_PREFIX), SECRET_RULE)
  .refine((v) => {
    const n = secretBytes(v);
    return n !== null && n >= 24 && n <= 64;
  }, SECRET_RULE)
  .meta({
    description:
      "The signing secret (Standard Webhooks): whsec_ and the base64 of 24 to 64 bytes. Write-only; generated when left out and shown once.",
    examples: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
  });

/** At most this many subscriptions per app. */
export const MAX_NOTIFICATIONS_PER_APP = 25;

/** `POST /apps/{id}/notifications` body. */
export const CreateNotificationRequest = z
  .object({
    url: z
      .string()
      .trim()
      .min(1)
      .max(2000)
      .refine((v) => URL.canParse(v), { message: "must be a URL, e.g. https://hooks.example.com/procode" })
      .meta({
        format: "uri",
        description:
          "Where deliveries are POSTed: https (http only where the installation allows it); never a private, loopback or link-local address",
      }),
    eventTypes: z
      .array(NotificationEventType)
      .min(1, "name at least one event type")
      .max(NOTIFICATION_EVENT_TYPES.length)
      .refine((v) => new Set(v).size === v.length, "must not repeat an event type"),
    secret: NotificationSecret.optional(),
  })
  .meta({
    id: "CreateNotificationRequest",
    description: "A notification subscription of an app",
    examples: [{ url: "https://hooks.example.com/procode", eventTypes: ["pipeline.failed"] }],
  });
export type CreateNotificationRequest = z.infer<typeof CreateNotificationRequest>;

export const Notification = z
  .object({
    id: z.number().int(),
    appId: z.number().int(),
    url: z.string().meta({ format: "uri" }),
    eventTypes: z.array(NotificationEventType),
    createdBy: z.string(),
    createdAt: DateTime,
  })
  .meta({
    id: "Notification",
    description: "A notification subscription (its secret is never shown again after creation)",
    examples: [
      {
        id: 7,
        appId: 123,
        url: "https://hooks.example.com/procode",
        eventTypes: ["pipeline.failed", "deployment.succeeded"],
        createdBy: "alice",
        createdAt: "2026-02-27T10:00:00Z",
      },
    ],
  });
export type Notification = z.infer<typeof Notification>;

export const CreatedNotification = Notification.extend({
  secret: z.string().meta({
    description:
      "The signing secret; shown in this answer only. Verify deliveries with it (webhook-signature).",
  }),
}).meta({
  id: "CreatedNotification",
  description: "A new subscription with its signing secret, shown this once",
});
export type CreatedNotification = z.infer<typeof CreatedNotification>;

export const NotificationIdParams = z.object({
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).meta({ description: "The app's id" }),
  subscriptionId: z.coerce
    .number()
    .int()
    .positive()
    .max(Number.MAX_SAFE_INTEGER)
    .meta({ description: "The subscription's id" }),
});
export type NotificationIdParams = z.infer<typeof NotificationIdParams>;

export const DeletedNotification = z
  .object({ id: z.number().int(), deleted: z.literal(true) })
  .meta({ id: "DeletedNotification", description: "The subscription is gone, with its delivery log" });
export type DeletedNotification = z.infer<typeof DeletedNotification>;

/**
 * PENDING: not delivered yet (the next attempt is due at nextAttemptAt); DELIVERED: a 2xx answer;
 * FAILED: no 2xx answer within the retry window (24 h), no more attempts.
 */
export const NotificationDeliveryStatus = z
  .enum(["PENDING", "DELIVERED", "FAILED"])
  .meta({ id: "NotificationDeliveryStatus" });
export type NotificationDeliveryStatus = z.infer<typeof NotificationDeliveryStatus>;

export const NotificationDelivery = z
  .object({
    id: z.string().meta({ description: "The webhook-id header of every attempt (a receiver dedupes on it)" }),
    eventType: NotificationEventType,
    eventId: z.string().meta({ description: "The platform event the delivery is for" }),
    status: NotificationDeliveryStatus,
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable().meta({ description: "The HTTP status of the last attempt" }),
    lastError: z
      .string()
      .nullable()
      .meta({ description: "Why the last attempt did not deliver (refused, timed out, not 2xx)" }),
    lastAttemptAt: DateTime.nullable(),
    nextAttemptAt: DateTime.nullable().meta({ description: "When the next attempt is due (PENDING only)" }),
    deliveredAt: DateTime.nullable(),
    createdAt: DateTime,
  })
  .meta({ id: "NotificationDelivery", description: "One event's delivery to a subscription" });
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;

export const ListNotificationDeliveriesQuery = PageQuery.extend({
  status: NotificationDeliveryStatus.optional().meta({ description: "Only deliveries in this status" }),
});
export type ListNotificationDeliveriesQuery = z.infer<typeof ListNotificationDeliveriesQuery>;

/** What a delivery says about the event (its `data`); fields that do not apply are null. */
export const NotificationData = z
  .object({
    appId: z.number().int(),
    iterationId: z.number().int(),
    pipelineId: z
      .number()
      .int()
      .meta({ description: "The release (phase) pipeline, or the iteration pipeline" }),
    pipelineStatus: PipelineStatus.nullable(),
    iterationPhase: IterationMachineState.nullable(),
    failedStage: PhaseStage.nullable(),
    error: z.string().nullable(),
    rollback: z.boolean(),
  })
  .meta({ id: "NotificationData" });
export type NotificationData = z.infer<typeof NotificationData>;

/**
 * The JSON body of a delivery (Standard Webhooks): `type`, `timestamp` (when the event happened)
 * and `data`. Signed in `webhook-signature` over `webhook-id.webhook-timestamp.body`.
 */
export const NotificationBody = z
  .object({ type: NotificationEventType, timestamp: DateTime, data: NotificationData })
  .meta({ id: "NotificationBody" });
export type NotificationBody = z.infer<typeof NotificationBody>;
