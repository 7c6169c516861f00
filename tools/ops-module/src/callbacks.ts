import { OPS_SIGNATURE_HEADER, OPS_TIMESTAMP_HEADER, type DeployCallback } from "@procode/contracts";
import { hmacSha256Hex, type Logger } from "@procode/service-kit";

/** Headers that authenticate a callback body: HMAC-SHA256 over `<timestamp>.<raw body>`. */
function signCallback(
  secret: string,
  rawBody: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    [OPS_TIMESTAMP_HEADER]: String(timestampSeconds),
    [OPS_SIGNATURE_HEADER]: `sha256=${hmacSha256Hex(secret, `${timestampSeconds}.${rawBody}`)}`,
  };
}

export interface CallbackTarget {
  url: string | null;
  secret: string | null;
}

/** One delivery attempt as the control API shows it. */
export interface CallbackAttempt {
  at: string;
  status: string;
  /** HTTP status of the answer, or the network error. */
  result: string;
}

const DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];

/**
 * Sends signed callbacks with a few retries (network error, 5xx, and 404: the receiver may not
 * have stored the deployId yet). While the module is in a simulated outage nothing goes out; the
 * callback waits for the outage to end, as a real module that is down would.
 */
export class CallbackSender {
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    readonly target: CallbackTarget,
    private readonly log: Logger,
    private readonly outageEndsAt: () => number | null,
  ) {}

  send(body: DeployCallback, record: (a: CallbackAttempt) => void): void {
    if (!this.target.url || !this.target.secret) return;
    const p = this.deliver(body, record).catch((err) =>
      this.log.warn({ err, deployId: body.deployId }, "callback failed"),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async deliver(body: DeployCallback, record: (a: CallbackAttempt) => void): Promise<void> {
    for (let attempt = 0; attempt <= DELAYS_MS.length && !this.closed; attempt++) {
      const downUntil = this.outageEndsAt();
      if (downUntil !== null) {
        await sleep(Math.max(0, downUntil - Date.now()) + 50, this.abort.signal);
        attempt--;
        continue;
      }
      const { url, secret } = this.target;
      if (!url || !secret) return;
      const raw = JSON.stringify(body);
      let result: string;
      let retry = false;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...signCallback(secret, raw) },
          body: raw,
          signal: AbortSignal.any([AbortSignal.timeout(5000), this.abort.signal]),
        });
        await res.arrayBuffer();
        result = String(res.status);
        retry = res.status >= 500 || res.status === 404;
      } catch (err) {
        result = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        retry = true;
      }
      record({ at: new Date().toISOString(), status: body.status, result });
      this.log.debug({ deployId: body.deployId, status: body.status, result }, "callback sent");
      if (!retry) return;
      const delay = DELAYS_MS[attempt];
      if (delay === undefined) break;
      await sleep(delay, this.abort.signal);
    }
    if (this.closed) return;
    this.log.warn({ deployId: body.deployId, status: body.status }, "callback given up after retries");
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
