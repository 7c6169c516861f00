import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";

/**
 * The live layer. Designed for the platform's event stream (`GET /events`, Server-Sent Events):
 * one EventSource for the whole console; each event invalidates only the queries it concerns (a
 * pipeline, an iteration, an app's lists), so only the row or node concerned re-renders; while
 * the stream is down a banner says so and the pages poll, and only then.
 *
 * The gateway serves the stream, but the console does not open it yet (docs/console.md says why),
 * so `EVENTS_URL` is null: the console polls and shows the banner.
 */
const EVENTS_URL: string | null = null;

type LiveStatus = "connecting" | "live" | "down";

interface LiveState {
  status: LiveStatus;
  /** Why the stream is down, for the banner. */
  reason: string;
}

const LiveContext = createContext<LiveState>({ status: "down", reason: "" });

/** Polling intervals while the stream is down: what a person watches, and lists around it. */
const POLL_FOCUS_MS = 400;
const POLL_LIST_MS = 3000;

/** The ids an event names, from its data (pipelineId, iterationId, appId), whatever its type. */
function idsOf(event: unknown): { pipelineId?: number; iterationId?: number; appId?: number } {
  const data = (event as { data?: Record<string, unknown> } | null)?.data ?? {};
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  return {
    pipelineId: num(data["pipelineId"]),
    iterationId: num(data["iterationId"]),
    appId: num(data["appId"]),
  };
}

/** The queries an event makes stale: only those of the things it names. */
export function queriesOf(event: unknown): QueryKey[] {
  const { pipelineId, iterationId, appId } = idsOf(event);
  const keys: QueryKey[] = [];
  if (pipelineId !== undefined) keys.push(["pipeline", pipelineId]);
  if (iterationId !== undefined) keys.push(["iteration", iterationId]);
  if (appId !== undefined) keys.push(["iterations", appId], ["releases", appId], ["repo", appId]);
  return keys;
}

function applyEvent(client: QueryClient, event: unknown): void {
  for (const queryKey of queriesOf(event)) void client.invalidateQueries({ queryKey, exact: false });
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [state, setState] = useState<LiveState>(
    EVENTS_URL
      ? { status: "connecting", reason: "" }
      : { status: "down", reason: "this console does not follow the event stream yet" },
  );
  useEffect(() => {
    if (!EVENTS_URL) return;
    const source = new EventSource(EVENTS_URL);
    source.onopen = () => setState({ status: "live", reason: "" });
    source.onerror = () =>
      setState({ status: "down", reason: "the event stream is unreachable; reconnecting" });
    source.onmessage = (message: MessageEvent<string>) => {
      try {
        applyEvent(client, JSON.parse(message.data));
      } catch {
        // A line that is not JSON is not an event of ours.
      }
    };
    return () => source.close();
  }, [client]);
  return <LiveContext.Provider value={state}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveState {
  return useContext(LiveContext);
}

/** A query's refetch interval: none while the stream is up or the thing is settled, else a poll. */
export function usePoll(kind: "focus" | "list", settled = false): number | false {
  const { status } = useLive();
  if (status === "live" || settled) return false;
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
