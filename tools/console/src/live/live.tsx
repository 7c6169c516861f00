import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from "react";
import { applyLogEvent } from "../api/logs";
import { onTokenChange, readToken } from "../auth/session";
import { noteRepository } from "./repositories";

/**
 * The live layer, on the platform's event stream (`GET /events`, Server-Sent Events; docs/api.md
 * "Live events"): one EventSource for the whole console; each event invalidates only the queries it
 * concerns (a pipeline, an iteration, an app's lists), so only the row or node concerned re-renders;
 * while the stream is down a banner says so and the pages poll what it announces, and only then
 * (`usePoll`).
 *
 * EventSource cannot send an Authorization header: the token goes as `access_token`, which the
 * gateway accepts on this route only and never logs. The browser reconnects by itself with
 * `Last-Event-ID`, so nothing that happened meanwhile is missed.
 */
const EVENTS_URL = "/events";
/**
 * The events (their `event:` names) that make stale the queries of what they name; a `log` event adds
 * a line to a stage log instead, and `reset` means "reload everything shown". A `repository` event
 * is also noted, for a new app's dialog (./repositories.ts).
 */
const EVENT_NAMES = ["pipeline", "iteration", "repository", "app", "webhook", "notification"] as const;

type LiveStatus = "connecting" | "live" | "down";

interface LiveState {
  status: LiveStatus;
  /** Why the stream is down, for the banner. */
  reason: string;
}

export const LiveContext = createContext<LiveState>({ status: "down", reason: "" });

/** Polling intervals, only while the stream is down: what a person watches, and the lists around it. */
const POLL_FOCUS_MS = 400;
const POLL_LIST_MS = 3000;

/** The ids an event names, from its data (pipelineId, iterationId, appId, subscriptionId), whatever its type. */
function idsOf(event: unknown): {
  pipelineId?: number;
  iterationId?: number;
  appId?: number;
  subscriptionId?: number;
} {
  const data = (event as { data?: Record<string, unknown> } | null)?.data ?? {};
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  return {
    pipelineId: num(data["pipelineId"]),
    iterationId: num(data["iterationId"]),
    appId: num(data["appId"]),
    subscriptionId: num(data["subscriptionId"]),
  };
}

/** The queries an event makes stale: only those of the things it names. */
export function queriesOf(event: unknown): QueryKey[] {
  const { pipelineId, iterationId, appId, subscriptionId } = idsOf(event);
  const type = (event as { type?: unknown } | null)?.type;
  // Events about an app and its repository and notifications: only the reads of what they name.
  if (type === "live.repository.v1" || type === "live.app.v1" || type === "live.webhook_delivery.v1") {
    if (appId === undefined) return [];
    // A binding: its repository's reads (binding, webhook deliveries, tags), no list.
    if (type === "live.repository.v1") return [["repo", appId]];
    // An app created or reconfigured: the apps lists and that app.
    if (type === "live.app.v1") return [["apps"], ["app", appId]];
    return [["repo", appId, "webhook-deliveries"]];
  }
  if (type === "live.notification_delivery.v1") {
    return appId === undefined || subscriptionId === undefined
      ? []
      : [["notifications", appId, subscriptionId, "deliveries"]];
  }
  const keys: QueryKey[] = [];
  if (pipelineId !== undefined) keys.push(["pipeline", pipelineId]);
  if (iterationId !== undefined) keys.push(["iteration", iterationId]);
  if (appId !== undefined)
    keys.push(["iterations", appId], ["releases", appId], ["repo", appId], ["quality", appId]);
  return keys;
}

/**
 * Reads again what `queryKey` names (everything without one). A query whose first read is still in
 * flight is not read anew by `invalidateQueries`: TanStack Query joins that read (it cancels only
 * reads of queries that already hold data), which may have been answered before the change the event
 * announces. So such a query is read once more after it.
 */
function readAgain(client: QueryClient, queryKey?: QueryKey): void {
  const filters = queryKey ? { queryKey, exact: false } : {};
  const firstReads = client
    .getQueryCache()
    .findAll(filters)
    .filter((q) => q.state.fetchStatus === "fetching" && q.state.data === undefined);
  void client.invalidateQueries(filters).then(() => {
    for (const q of firstReads) void client.refetchQueries({ queryKey: q.queryKey, exact: true });
  });
}

function applyEvent(client: QueryClient, event: unknown): void {
  for (const queryKey of queriesOf(event)) readAgain(client, queryKey);
}

const SIGNED_OUT: LiveState = { status: "down", reason: "not signed in" };
const CONNECTING: LiveState = { status: "connecting", reason: "" };

export function LiveProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const token = useSyncExternalStore(onTokenChange, readToken);
  // What the stream of this token last said; a new token starts again from "connecting".
  const [said, setSaid] = useState<{ token: string; state: LiveState } | null>(null);
  const state = !token ? SIGNED_OUT : said?.token === token ? said.state : CONNECTING;
  useEffect(() => {
    if (!token) return;
    const set = (s: LiveState) => setSaid({ token, state: s });
    const source = new EventSource(`${EVENTS_URL}?access_token=${encodeURIComponent(token)}`);
    source.onopen = () => {
      set({ status: "live", reason: "" });
      // Opened, or opened again without an event to resume from: what happened before is not in
      // the stream, so what is shown is read once more.
      readAgain(client);
    };
    source.onerror = () =>
      set({
        status: "down",
        reason:
          source.readyState === EventSource.CLOSED
            ? "the event stream refused this session; reload the page"
            : "the event stream is unreachable; reconnecting",
      });
    const onEvent = (message: MessageEvent<string>) => {
      try {
        const event: unknown = JSON.parse(message.data);
        const { appId } = idsOf(event);
        if (message.type === "repository" && appId !== undefined) noteRepository(appId);
        applyEvent(client, event);
      } catch {
        // A line that is not JSON is not an event of ours.
      }
    };
    for (const name of EVENT_NAMES) source.addEventListener(name, onEvent);
    // A stage log line: added to its attempt's log where it is shown; nothing else is stale.
    source.addEventListener("log", (message: MessageEvent<string>) => {
      try {
        void applyLogEvent(client, JSON.parse(message.data));
      } catch {
        // Not JSON: not an event of ours.
      }
    });
    // Events were missed (the client was away longer than the stream keeps them): reload all.
    source.addEventListener("reset", () => readAgain(client));
    return () => source.close();
  }, [client, token]);
  return <LiveContext.Provider value={state}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveState {
  return useContext(LiveContext);
}

/**
 * A query's refetch interval. `focus` (the pipeline or iteration in view) and `list` (an app's
 * iterations and releases, the apps and an app, its repository's binding, webhook and notification
 * deliveries) are all announced by the stream's events: no poll while it is up, a poll while it is
 * down (docs/console.md).
 */
export function usePoll(kind: "focus" | "list"): number | false {
  const { status } = useLive();
  if (status === "live") return false;
  return kind === "focus" ? POLL_FOCUS_MS : POLL_LIST_MS;
}

/** The current time, ticking: relative times and running durations follow it. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
