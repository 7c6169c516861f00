import type { ChildProcess } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { sleep } from "@procode/service-kit";
import { spawnSandboxed, stopSandboxed } from "./sandbox.js";

/**
 * The agent under test, started in the sandbox and reached through a Unix socket in `/run/agent`
 * (the sandbox has no network): `AGENT_SOCKET` tells it where to listen (docs/quality-gate.md,
 * "Isolation").
 */

/** Where the agent listens inside the sandbox. */
const SOCKET_INSIDE = "/run/agent/agent.sock";
const MAX_ANSWER_BYTES = 1024 * 1024;

type Answer = { status: number; body: string };

function request(
  socketPath: string,
  method: "GET" | "POST",
  route: string,
  body: string | null,
  timeoutMs: number,
  /** What a timeout says (the case's own time, when this call has only what is left of it). */
  timeoutMessage = `no answer within ${timeoutMs} ms`,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path: route,
        agent: false,
        headers:
          body === null
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on("data", (b: Buffer) => {
          size += b.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          parts.push(b);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(timeoutMessage)));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

/**
 * One `POST /invoke`. A full listen backlog refuses a Unix socket connection at once (EAGAIN, where
 * TCP would queue it): the connection is tried again after a short pause, within the case's time.
 */
async function invokeOnce(socketPath: string, body: string, timeoutMs: number): Promise<Answer> {
  const deadline = performance.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    try {
      const left = Math.max(1, Math.round(deadline - performance.now()));
      return await request(socketPath, "POST", "/invoke", body, left, `no answer within ${timeoutMs} ms`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN" || performance.now() + pause >= deadline) throw e;
      await sleep(pause);
    }
  }
}

type InvokeResult = { ok: true; output: unknown; ms: number } | { ok: false; error: string; ms: number };

export interface RunningAgent {
  child: ChildProcess;
  readyMs: number;
  invoke(input: unknown, timeoutMs: number): Promise<InvokeResult>;
  /** What the agent printed (cut), for the log when it fails. */
  stderr(): string;
  stop(): void;
}

/** Ends the agent (and all it started) if it does not become ready. */
export class AgentStartError extends Error {
  override name = "AgentStartError";
}

/**
 * Starts `python3 -m <module>` in the sandbox with the tree at `/app` and waits until `GET /healthz`
 * answers 200 over the socket, or the agent exits, or `startTimeoutMs` passes.
 */
export async function startAgent(opts: {
  tree: string;
  socketDir: string;
  module: string;
  startTimeoutMs: number;
  signal: AbortSignal;
}): Promise<RunningAgent> {
  const started = performance.now();
  const child = spawnSandboxed({
    tree: opts.tree,
    socketDir: opts.socketDir,
    command: ["/usr/bin/python3", "-B", "-m", opts.module],
    env: { AGENT_SOCKET: SOCKET_INSIDE, PYTHONUNBUFFERED: "1" },
  });
  const err: Buffer[] = [];
  let errSize = 0;
  const keep = (b: Buffer) => {
    if (errSize < 16 * 1024) err.push(b);
    errSize += b.length;
  };
  child.stderr?.on("data", keep);
  child.stdout?.on("data", keep);
  // Set by the close handler; read by the calls below (an object, so the reads are not narrowed).
  const status: { exited: string | null } = { exited: null };
  child.once("close", (code, signal) => {
    status.exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  // A sandbox that could not be started at all (no processes left, say) is the agent's failure to
  // start, told as such; left unheard, the error event would end dev-svc.
  child.once("error", (e) => {
    status.exited ??= `could not be started: ${e.message}`;
  });
  const stderr = () => Buffer.concat(err).toString("utf8").slice(-4000);
  const socketPath = path.join(opts.socketDir, "agent.sock");
  const agent: RunningAgent = {
    child,
    readyMs: 0,
    stderr,
    stop: () => stopSandboxed(child),
    async invoke(input, timeoutMs) {
      const t0 = performance.now();
      const ms = () => Math.round(performance.now() - t0);
      try {
        const res = await invokeOnce(socketPath, JSON.stringify({ input }), timeoutMs);
        if (res.status !== 200)
          return { ok: false, error: `answered ${res.status}: ${res.body.slice(0, 200)}`, ms: ms() };
        let body: unknown;
        try {
          body = JSON.parse(res.body);
        } catch {
          return { ok: false, error: `answered what is not JSON: ${res.body.slice(0, 200)}`, ms: ms() };
        }
        if (!body || typeof body !== "object" || !("output" in body))
          return { ok: false, error: `answered without "output": ${res.body.slice(0, 200)}`, ms: ms() };
        return { ok: true, output: body.output, ms: ms() };
      } catch (e) {
        const why = status.exited ? `the agent ${status.exited}` : (e as Error).message;
        return { ok: false, error: why, ms: ms() };
      }
    },
  };
  const deadline = started + opts.startTimeoutMs;
  for (;;) {
    if (opts.signal.aborted) {
      agent.stop();
      throw opts.signal.reason;
    }
    if (status.exited)
      throw new AgentStartError(
        `the agent ${status.exited} before it answered GET /healthz: ${stderr().slice(-1000)}`,
      );
    const left = deadline - performance.now();
    if (left <= 0) {
      agent.stop();
      throw new AgentStartError(
        `the agent did not answer GET /healthz on its socket within ${opts.startTimeoutMs} ms: ${stderr().slice(-1000)}`,
      );
    }
    const ok = await request(socketPath, "GET", "/healthz", null, Math.min(1000, left)).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) {
      agent.readyMs = Math.round(performance.now() - started);
      return agent;
    }
    await sleep(50);
  }
}
