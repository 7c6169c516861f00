import {
  AppIdParam,
  CreatedNotification,
  CreateNotificationRequest,
  DeletedNotification,
  Envelope,
  ListNotificationDeliveriesQuery,
  Notification,
  NotificationDelivery,
  NotificationIdParams,
  ok,
  Page,
  PageQuery,
} from "@procode/contracts";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { NotificationService } from "../../services/notification.service.js";

/** An app's notification subscriptions and their delivery log (docs/services/app-svc.md, "Notifications"). */
export function registerNotificationRoutes(app: HttpServer, notifications: NotificationService): void {
  app.post(
    "/apps/:id/notifications",
    {
      schema: {
        operationId: "createNotification",
        tags: ["notifications"],
        summary: "Subscribe a URL to an app's events (signed Standard Webhooks deliveries)",
        description:
          "The URL must pass the SSRF rules now (https; no private, loopback or link-local address, by literal or by name: 1001 naming url) and again at each delivery. The secret (`whsec_...`) is generated when left out and shown in this answer only. At most 25 subscriptions per app (1010).",
        params: AppIdParam,
        body: CreateNotificationRequest,
        response: { 200: Envelope(CreatedNotification) },
        errors: ["APP_NOT_FOUND", "NOTIFICATION_LIMIT_REACHED"],
      },
    },
    async (request) =>
      ok(await notifications.create(actorOf(request), request.params.id, request.body, request.id)),
  );

  app.get(
    "/apps/:id/notifications",
    {
      schema: {
        operationId: "listNotifications",
        tags: ["notifications"],
        summary: "List an app's notification subscriptions (never their secrets)",
        params: AppIdParam,
        querystring: PageQuery,
        response: { 200: Envelope(Page(Notification)) },
        errors: ["APP_NOT_FOUND"],
      },
    },
    async (request) => ok(await notifications.list(actorOf(request), request.params.id, request.query)),
  );

  app.delete(
    "/apps/:id/notifications/:subscriptionId",
    {
      schema: {
        operationId: "deleteNotification",
        tags: ["notifications"],
        summary: "Delete a subscription and its delivery log; nothing more is sent to it",
        params: NotificationIdParams,
        response: { 200: Envelope(DeletedNotification) },
        errors: ["APP_NOT_FOUND", "NOTIFICATION_NOT_FOUND"],
      },
    },
    async (request) =>
      ok(
        await notifications.delete(
          actorOf(request),
          request.params.id,
          request.params.subscriptionId,
          request.id,
        ),
      ),
  );

  app.get(
    "/apps/:id/notifications/:subscriptionId/deliveries",
    {
      schema: {
        operationId: "listNotificationDeliveries",
        tags: ["notifications"],
        summary: "A subscription's delivery log, newest first (paged; filter by status)",
        description:
          "Each delivery: its webhook-id, the event, attempts, the last status code or error, the next attempt (PENDING), when it was delivered. Deliveries are retried with backoff for 24 h, then FAILED.",
        params: NotificationIdParams,
        querystring: ListNotificationDeliveriesQuery,
        response: { 200: Envelope(Page(NotificationDelivery)) },
        errors: ["APP_NOT_FOUND", "NOTIFICATION_NOT_FOUND"],
      },
    },
    async (request) =>
      ok(
        await notifications.deliveries(
          actorOf(request),
          request.params.id,
          request.params.subscriptionId,
          request.query,
        ),
      ),
  );
}
