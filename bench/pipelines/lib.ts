import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A service or helper started as a real process with tsx's loader (no wrapper process in between). */
export class Proc {
  child!: ChildProcess;
  url: string | null = null;
  readonly lines: string[] = [];
  startedAt = 0;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly cwd: string,
    private readonly script: string,
    private readonly env: NodeJS.ProcessEnv,
    /** Extra node flags (e.g. --cpu-prof) */
    private readonly nodeArgs: string[] = [],
    /** Run `script` through tsx's loader (false: a built bundle). */
    private readonly viaTsx = true,
  ) {}

  start(): void {
    this.url = null;
    this.startedAt = performance.now();
    this.child = spawn(
      process.execPath,
      [...this.nodeArgs, ...(this.viaTsx ? ["--import", "tsx"] : []), this.script],
      {
        cwd: this.cwd,
        env: { ...process.env, ...this.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const child = this.child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        this.lines.push(line);
        if (this.lines.length > 500) this.lines.shift();
        if (line.includes('"level":50') || line.includes('"level":60'))
          process.stderr.write(`[${this.name}] ${line}\n`);
        const m = /"url":"(http:[^"]+)"/.exec(line);
        if (m && line.includes("listening")) this.url = m[1]!;
      });
    }
  }

  async waitListening(timeoutMs = 60000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.url) {
      if (Date.now() > deadline)
        throw new Error(`${this.name} did not start: ${this.lines.slice(-5).join("\n")}`);
      await sleep(10);
    }
    return performance.now() - this.startedAt;
  }

  /** Resident set size in bytes, from /proc. */
  rss(): number {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await Promise.race([this.exited, sleep(10000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One value of a Prometheus text exposition (first sample of that name). */
export function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(" ").at(-1)) : NaN;
}

/**
 * An open-loop HTTP GET load at a fixed rate (requests are scheduled on the clock, and latency is
 * measured from the scheduled time, so a slow server cannot hide its queueing).
 */
export async function getLoad(opts: {
  url: string;
  paths: () => string;
  token: string;
  ratePerSec: number;
  durationMs: number;
}): Promise<{
  sent: number;
  ok: number;
  failed: number;
  latencies: number[];
  statuses: Record<string, number>;
}> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(opts.url);
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const one = (scheduled: number) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: opts.paths(),
          headers: { authorization: `Bearer ${opts.token}` },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            latencies.push(performance.now() - scheduled);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        statuses[err.message] = (statuses[err.message] ?? 0) + 1;
        failed++;
        resolve();
      });
      req.end();
    });
  while (performance.now() - start < opts.durationMs) {
    const due = Math.floor(((performance.now() - start) / 1000) * opts.ratePerSec);
    while (sent < due) {
      const scheduled = start + (sent / opts.ratePerSec) * 1000;
      sent++;
      const p = one(scheduled);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await sleep(1);
  }
  await Promise.all([...inflight]);
  agent.destroy();
  return { sent, ok, failed, latencies, statuses };
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 when it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** pids of processes whose command line contains `needle`. */
export function pidsOf(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}
