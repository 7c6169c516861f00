import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

/** The repository root (where services/ and tools/ are). */
export const REPO_ROOT = path.resolve(import.meta.dirname, "../../..");

export interface ServiceProcessOptions {
  /** A label for messages. */
  name: string;
  /** The package directory relative to the repository root, e.g. "services/pipeline-engine". */
  dir: string;
  env: NodeJS.ProcessEnv;
  /** A JSON log line with `url` and a `msg` matching this says the process listens (kit: "<name> listening"). */
  ready: RegExp;
  /** Entry point relative to `dir`. */
  entry?: string;
  timeoutMs?: number;
}

/**
 * A service started as a real process, as `npm start` runs it: `node --import tsx src/main.ts`.
 * One process (the `tsx` command would put a wrapper in between, and a SIGKILL must reach the
 * service itself). Found by the URL it logs once listening; its output is kept for assertions.
 */
export class ServiceProcess {
  readonly output: string[] = [];
  /**
   * How the process ended (`SIGSEGV`, `1`, ...) when nobody stopped or killed it through this
   * object: a crash, since a service waits for what it depends on rather than exit.
   */
  endedOnItsOwn: string | undefined;
  private stopping = false;
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    public url = "",
  ) {
    this.exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        if (!this.stopping) this.endedOnItsOwn = signal ?? String(code);
        resolve(code);
      }),
    );
  }

  static async start(opts: ServiceProcessOptions): Promise<ServiceProcess> {
    const proc = spawn(process.execPath, ["--import", "tsx", opts.entry ?? "src/main.ts"], {
      cwd: path.join(REPO_ROOT, opts.dir),
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = new ServiceProcess(opts.name, proc);
    child.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${opts.name} did not start in time:\n${child.tail()}`)),
        opts.timeoutMs ?? 45_000,
      );
      const onLine = (line: string) => {
        child.output.push(line);
        if (child.output.length > 5000) child.output.splice(0, 1000);
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
    return child;
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join("\n");
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /**
   * Sends `signal` and waits for the process to end (SIGKILL after `graceMs`). Fails, with its last
   * lines, when the process had already ended on its own: it crashed while the test ran.
   */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
    await this.end(signal, graceMs);
    const crash = this.crashReport();
    if (crash) throw new Error(crash);
  }

  /** When the process ended on its own: its name, how it ended and its last lines. */
  crashReport(): string | undefined {
    if (this.endedOnItsOwn === undefined) return undefined;
    return `${this.name} ended on its own (${this.endedOnItsOwn}):\n${this.tail(60)}`;
  }

  /** SIGKILL: no shutdown work at all, as in a crash (a process already gone is left as it is). */
  async kill(): Promise<void> {
    await this.end("SIGKILL", 0);
  }

  private async end(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** A value from the process's Prometheus /metrics (0 when absent). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return line ? Number(line.split(" ").at(-1)) : 0;
  }
}
