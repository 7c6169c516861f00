/**
 * An open-model load: requests are sent on a fixed schedule (`rate` per second, evenly spaced),
 * whatever the answers do, and each latency is measured from the moment the request was due, not
 * from when it could be sent, so a server that falls behind shows it in full (no coordinated
 * omission). Requests beyond `connections` in flight wait in the agent's queue, and that wait counts.
 *
 * autocannon's own fixed-rate mode is not used for this: it sends each connection's quota for the
 * second as fast as it can at the start of the second (bursts of `rate` requests), and its
 * correction records every response as if one was expected each millisecond.
 */
import http from "node:http";
import { percentile } from "../pipelines/lib.js";

export interface OpenLoadOptions {
  /** Base URL (http) of the server. */
  url: string;
  rate: number;
  durationS: number;
  connections: number;
  method: "GET" | "POST";
  path: () => string;
  body?: () => string;
  headers: Record<string, string>;
  timeoutMs?: number;
}

export interface OpenLoadResult {
  sent: number;
  ok: number;
  /** Answers that were not 2xx, and network errors or timeouts. */
  failed: number;
  /** Requests per second answered (2xx). */
  throughput: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** The seconds of the run whose P99 was highest: when in the run the tail happened. */
  worstSeconds: { second: number; p99: number; sent: number }[];
  /** How late the generator itself sent a request at worst (ms): its own stalls, not the server's. */
  sendLateMax: number;
}

export async function openLoad(o: OpenLoadOptions): Promise<OpenLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const base = new URL(o.url);
  /** Latencies by the second of the run in which each request was due. */
  const bySecond: number[][] = [];
  let ok = 0;
  let failed = 0;
  const total = Math.round(o.rate * o.durationS);
  const pending = new Set<Promise<void>>();

  const send = (dueAt: number) =>
    new Promise<void>((resolve) => {
      const second = Math.floor((dueAt - start) / 1000);
      const record = () => (bySecond[second] ??= []).push(performance.now() - dueAt);
      const body = o.body?.();
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method: o.method,
          path: o.path(),
          headers: { ...o.headers, ...(body ? { "content-length": Buffer.byteLength(body) } : {}) },
          timeout: o.timeoutMs ?? 10_000,
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            record();
            if (res.statusCode !== undefined && res.statusCode < 300) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        record();
        failed++;
        resolve();
      });
      req.end(body);
    });

  const start = performance.now();
  let sent = 0;
  let sendLateMax = 0;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) / 1000) * o.rate) + 1);
    for (; sent < due; sent++) {
      const dueAt = start + (sent * 1000) / o.rate;
      sendLateMax = Math.max(sendLateMax, performance.now() - dueAt);
      const p = send(dueAt);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    // Wake in time for the next request (timers fire at 1 ms granularity at best).
    const next = start + (sent * 1000) / o.rate;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now() - 0.5)));
  }
  await Promise.all([...pending]);
  const elapsedS = (performance.now() - start) / 1000;
  agent.destroy();
  const latencies = bySecond.flat().sort((a, b) => a - b);
  const at = (p: number) => Math.round(percentile(latencies, p) * 10) / 10;
  const seconds = bySecond.flatMap((l, second) => {
    if (!l) return [];
    l.sort((a, b) => a - b);
    return [{ second, p99: Math.round(percentile(l, 99) * 10) / 10, sent: l.length }];
  });
  return {
    sent,
    ok,
    failed,
    throughput: ok / elapsedS,
    p50: at(50),
    p99: at(99),
    p999: at(99.9),
    max: Math.round((latencies.at(-1) ?? 0) * 10) / 10,
    sendLateMax: Math.round(sendLateMax * 10) / 10,
    worstSeconds: seconds.sort((a, b) => b.p99 - a.p99).slice(0, 3),
  };
}
