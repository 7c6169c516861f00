import { readEventStream } from "@procode/cli/sse";

/** One live event as a client of `GET /events` receives it. */
export interface Received {
  id: number;
  event: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * A client of `GET /events` over fetch: collects events and heartbeats as they arrive, and lets a
 * test wait for one (a positive signal) or disconnect at any moment.
 */
export class Subscriber {
  readonly events: Received[] = [];
  readonly resets: string[] = [];
  heartbeats = 0;
  status = 0;
  headers: Headers | null = null;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private ended: Promise<void>;
  private isEnded = false;

  private constructor(response: Response) {
    this.status = response.status;
    this.headers = response.headers;
    this.ended = this.read(response).finally(() => {
      this.isEnded = true;
      this.wake();
    });
  }

  /** Connects; resolves once the stream's headers arrived. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<Subscriber> {
    const controller = new AbortController();
    const res = await fetch(url, { headers, signal: controller.signal });
    const s = new Subscriber(res);
    s.abort.signal.addEventListener("abort", () => controller.abort());
    return s;
  }

  private async read(res: Response): Promise<void> {
    if (!res.body) return;
    try {
      for await (const item of readEventStream(res.body)) {
        if (item.kind === "comment") {
          if (item.text === "heartbeat") this.heartbeats++;
        } else if (item.event === "reset") {
          this.resets.push(item.data);
        } else {
          const msg = JSON.parse(item.data) as { type: string; data: Record<string, unknown> };
          this.events.push({ id: Number(item.id), event: item.event, type: msg.type, data: msg.data });
        }
        this.wake();
      }
    } catch (err) {
      if (!this.abort.signal.aborted) throw err;
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `check` holds over what was received (re-checked on every arrival). */
  async until<T>(check: (s: this) => T | null | undefined | false, what: string, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check(this);
      if (v) return v;
      if (Date.now() > deadline || this.isEnded) {
        throw new Error(
          `${this.isEnded ? "stream ended" : "timed out"} waiting for ${what}; received ${JSON.stringify(this.events.slice(-5))}`,
        );
      }
      await Promise.race([
        new Promise<void>((r) => this.waiters.push(r)),
        new Promise((r) => setTimeout(r, 1000)),
      ]);
    }
  }

  close(): Promise<void> {
    this.abort.abort();
    return this.ended.catch(() => {});
  }
}
