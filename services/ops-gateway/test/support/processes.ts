import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../../../..");

/**
 * A service started as a real process (`tsx src/main.ts`), found by the URL it logs once listening.
 * It runs as `node --import tsx src/main.ts`: one process, so a signal (SIGKILL above all) reaches
 * the service itself and not a wrapper that would leave it running.
 */
export class ChildService {
  readonly output: string[] = [];
  private exitCode: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    public url = "",
  ) {
    this.exitCode = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
  }

  /** Starts `src/main.ts` in `dir` and waits for a JSON log line with `url` and a message matching `ready`. */
  static async start(opts: {
    name: string;
    dir: string;
    env: NodeJS.ProcessEnv;
    ready: RegExp;
    timeoutMs?: number;
  }): Promise<ChildService> {
    const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: path.join(REPO_ROOT, opts.dir),
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = new ChildService(opts.name, proc);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${opts.name} did not start in time:\n${child.tail()}`)),
        opts.timeoutMs ?? 45_000,
      );
      const onLine = (line: string) => {
        child.output.push(line);
        if (child.output.length > 2000) child.output.splice(0, 500);
        try {
          const rec = JSON.parse(line) as { msg?: string; url?: string };
          if (rec.url && rec.msg && opts.ready.test(rec.msg)) {
            clearTimeout(timer);
            resolve(rec.url);
          }
        } catch {
          // not a JSON log line
        }
      };
      readline.createInterface({ input: proc.stdout }).on("line", onLine);
      readline.createInterface({ input: proc.stderr }).on("line", onLine);
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${opts.name} exited (${signal ?? code}) before it was ready:\n${child.tail()}`));
      });
    });
    child.url = url;
    return child;
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join("\n");
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends `signal` and waits for the process to end (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.exitCode;
    clearTimeout(timer);
  }
}

/** ops-gateway as a real process (`tsx src/main.ts`), on port 0, logging at info. */
export function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<ChildService> {
  return ChildService.start({
    name: "ops-gateway",
    dir: "services/ops-gateway",
    env: { ...env, PORT: "0", LOG_LEVEL: "info" },
    ready: /ops-gateway listening/,
  });
}
