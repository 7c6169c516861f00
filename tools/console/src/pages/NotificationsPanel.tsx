import { NOTIFICATION_EVENT_TYPES } from "@procode/contracts/notification-events";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { useNotificationDeliveries, useNotifications } from "../api/queries";
import type { Notification, NotificationEventType } from "../api/types";
import { ActionButton } from "../ui/action";
import { Empty, ErrorNote, Loading } from "../ui/feedback";
import { StatusBadge } from "../ui/state";
import { Ago } from "../ui/time";

/**
 * An app's notification subscriptions (signed webhooks to a URL of the team's): the list with each
 * one's recent deliveries, a form to add one (its secret shown once), delete
 * (docs/services/app-svc.md "Notifications").
 */
export function NotificationsPanel({ appId }: { appId: number }) {
  const list = useNotifications(appId);
  return (
    <section className="card" aria-labelledby="notifications-title">
      <h2 id="notifications-title">Notifications</h2>
      {list.isPending ? (
        <Loading what="subscriptions" />
      ) : list.isError ? (
        <ErrorNote error={list.error} />
      ) : list.data.items.length === 0 ? (
        <Empty title="No subscriptions yet.">
          Add a URL to be told when a release starts, fails or succeeds.
        </Empty>
      ) : (
        <ul className="list" data-testid="notifications">
          {list.data.items.map((n) => (
            <Subscription key={n.id} appId={appId} subscription={n} />
          ))}
        </ul>
      )}
      <AddNotification appId={appId} />
    </section>
  );
}

function Subscription({ appId, subscription: n }: { appId: number; subscription: Notification }) {
  const client = useQueryClient();
  const deliveries = useNotificationDeliveries(appId, n.id);
  return (
    <li className="notification" data-testid={`notification-${n.id}`}>
      <div className="list-row">
        <span className="mono truncate" title={n.url}>
          {n.url}
        </span>
        <span className="muted">{n.eventTypes.join(", ")}</span>
        <ActionButton
          label="Delete"
          tone="danger"
          disabledReason={null}
          run={async () => {
            await unwrap(
              api.DELETE("/apps/{id}/notifications/{subscriptionId}", {
                params: { path: { id: appId, subscriptionId: n.id } },
              }),
            );
            await client.invalidateQueries({ queryKey: ["notifications", appId] });
            return "deleted";
          }}
        />
      </div>
      {deliveries.isPending ? null : deliveries.isError ? (
        <ErrorNote error={deliveries.error} />
      ) : deliveries.data.items.length === 0 ? (
        <p className="muted">No deliveries yet.</p>
      ) : (
        <ul className="list" aria-label="Recent deliveries">
          {deliveries.data.items.map((d) => (
            <li key={d.id} className="list-row long-kind" data-testid="notification-delivery">
              <StatusBadge status={d.status} />
              <span className="mono">{d.eventType}</span>
              <span className="muted truncate">
                {d.attempts} attempt{d.attempts === 1 ? "" : "s"}
                {d.lastError ? `: ${d.lastError}` : d.lastStatusCode ? `: ${d.lastStatusCode}` : ""}
              </span>
              <Ago at={d.deliveredAt ?? d.lastAttemptAt ?? d.createdAt} />
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

function AddNotification({ appId }: { appId: number }) {
  const client = useQueryClient();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<NotificationEventType[]>(["pipeline.failed"]);
  const add = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/apps/{id}/notifications", {
          params: { path: { id: appId } },
          body: { url: url.trim(), eventTypes: types },
        }),
      ),
    onSuccess: async () => {
      setUrl("");
      await client.invalidateQueries({ queryKey: ["notifications", appId] });
    },
  });
  const toggle = (t: NotificationEventType, on: boolean) =>
    setTypes((old) => (on ? [...old, t] : old.filter((x) => x !== t)));
  return (
    <form
      className="form"
      aria-label="Add a notification"
      onSubmit={(e) => {
        e.preventDefault();
        if (!add.isPending) add.mutate();
      }}
    >
      <label htmlFor="notification-url">Webhook URL</label>
      <input
        id="notification-url"
        required
        value={url}
        onChange={(e) => setUrl(e.target.value)}
        placeholder="https://hooks.example.com/procode"
        spellCheck={false}
      />
      <fieldset className="checks">
        <legend>Events</legend>
        {NOTIFICATION_EVENT_TYPES.map((t) => (
          <label key={t} className="check">
            <input
              type="checkbox"
              checked={types.includes(t)}
              onChange={(e) => toggle(t, e.target.checked)}
            />
            <span className="mono">{t}</span>
          </label>
        ))}
      </fieldset>
      {add.isError ? <ErrorNote error={add.error} title="Not added." /> : null}
      {add.isSuccess ? (
        <div className="note note-ok" role="status" data-testid="notification-secret">
          Added. Its signing secret, shown this once: <code className="mono">{add.data.secret}</code>
        </div>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" aria-disabled={add.isPending}>
          {add.isPending ? "Adding…" : "Add notification"}
        </button>
      </div>
    </form>
  );
}
