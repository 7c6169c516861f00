import type { Connection } from "./client.js";
import { readEventStream, type SseItem } from "./sse.js";

/** What waiting on the feed came to: news (an event, or a reset: look again), its end, or time up. */
export type FeedOutcome = "news" | "ended" | "timeout";

/**
 * The platform's event stream (`GET /events`, docs/cli.md "Live") for one command: opened with the
 * Authorization header, resumed with Last-Event-ID after a break. `open` answers null when the
 * stream is not available (an older gateway, NATS down), and the caller polls instead.
 */
export class LiveFeed {
  private pending: Promise<IteratorResult<SseItem>> | null = null;
  /** The event the last "news" was (its name and data), for a caller that reads events themselves. */
  public event: { name: string; data: string } | null = null;

  private constructor(
    private readonly items: AsyncGenerator<SseItem>,
    private readonly abort: AbortController,
    /** The id of the last event received, to resume after it. */
    public lastEventId: string | null,
  ) {}

  static async open(conn: Connection, query: string, lastEventId: string | null): Promise<LiveFeed | null> {
    const abort = new AbortController();
    try {
      const res = await fetch(`${conn.url}/events?${query}`, {
        headers: {
          accept: "text/event-stream",
          ...(conn.token ? { authorization: `Bearer ${conn.token}` } : {}),
          ...(lastEventId ? { "last-event-id": lastEventId } : {}),
        },
        signal: abort.signal,
      });
      const type = res.headers.get("content-type") ?? "";
      if (res.status !== 200 || !type.startsWith("text/event-stream") || !res.body) {
        abort.abort();
        return null;
      }
      return new LiveFeed(readEventStream(res.body), abort, lastEventId);
    } catch {
      abort.abort();
      return null;
    }
  }

  /** Waits for the next event (heartbeats are not news) for at most `timeoutMs`. */
  async next(timeoutMs: number): Promise<FeedOutcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      this.pending ??= this.items.next();
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([
        this.pending.catch(() => ({ done: true, value: undefined }) as const),
        new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left))),
      ]);
      clearTimeout(timer);
      if (got === "timeout") return "timeout";
      this.pending = null;
      if (got.done) return "ended";
      if (got.value.kind === "comment") continue;
      if (got.value.id !== null) this.lastEventId = got.value.id;
      this.event = { name: got.value.event, data: got.value.data };
      return "news";
    }
  }

  close(): void {
    this.abort.abort();
  }
}
