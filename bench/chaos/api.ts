/**
 * The bench's REST client: every call through the gateway with a bearer token, as a user would
 * make it. Under chaos a call may meet a killed service (the gateway answers 503), a database that
 * is restarting (503) or no gateway at all; `retrying` repeats such calls until they are answered.
 */
import { randomUUID } from "node:crypto";
import { sleep } from "./infra.js";

export interface Reply<T> {
  status: number;
  code: number;
  message: string;
  data: T;
}

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly what: string,
    readonly reply: Reply<unknown>,
  ) {
    super(`${what}: HTTP ${reply.status}, code ${reply.code}: ${reply.message}`);
  }
}

/** What the bench counts about its own calls (figures of the run). */
export const callStats = { calls: 0, retried: 0, networkErrors: 0, unavailable: 0 };

export class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** One call; a network failure is answered as status 0. */
  async call<T>(method: string, url: string, body?: unknown, idempotencyKey?: string): Promise<Reply<T>> {
    callStats.calls++;
    try {
      const res = await fetch(`${this.baseUrl}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      try {
        const env = JSON.parse(text) as { code: number; message: string; data: T };
        return { status: res.status, ...env };
      } catch {
        return { status: res.status, code: -1, message: text.slice(0, 200), data: null as T };
      }
    } catch (err) {
      callStats.networkErrors++;
      return { status: 0, code: -1, message: (err as Error).message, data: null as T };
    }
  }

  /**
   * A call repeated until it is answered: network errors, 5xx (a service or the database is down)
   * and 409 "retry in a moment" (a release lock, or an Idempotency-Key still being answered) are
   * retried with increasing delay until `deadlineMs`; any other answer is returned (`ok` turns
   * errors into exceptions). Every attempt of a POST carries the same Idempotency-Key, so a create
   * whose answer was lost is answered again, not made twice.
   */
  async retrying<T>(method: string, url: string, body?: unknown, deadlineMs = 600_000): Promise<Reply<T>> {
    const deadline = Date.now() + deadlineMs;
    const key = method === "POST" ? randomUUID() : undefined;
    for (let attempt = 1; ; attempt++) {
      const r = await this.call<T>(method, url, body, key);
      const transient =
        r.status === 0 ||
        r.status >= 500 ||
        (r.status === 409 && (/moment/i.test(r.message) || r.code === 9011));
      if (!transient || Date.now() > deadline) return r;
      if (r.status === 503) callStats.unavailable++;
      callStats.retried++;
      await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
    }
  }

  async ok<T>(method: string, url: string, body?: unknown, deadlineMs?: number): Promise<T> {
    const r = await this.retrying<T>(method, url, body, deadlineMs);
    if (r.code !== 0) throw new ApiError(`${method} ${url}`, r);
    return r.data;
  }
}
