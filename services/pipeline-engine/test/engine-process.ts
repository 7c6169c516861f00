import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { eventually } from "@procode/test-kit";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The engine as a real process running `src/main.ts` through tsx, as `npm start` runs it. Node is
 * started directly with tsx's loader (the `tsx` command would put a wrapper process in between, and
 * a SIGKILL must reach the engine itself).
 */
export class EngineProcess {
  private child: ChildProcess | undefined;
  url: string | null = null;
  readonly lines: string[] = [];
  exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly name = "engine",
  ) {}

  async start(timeoutMs = 30000): Promise<void> {
    this.url = null;
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: packageDir,
      env: { ...process.env, ...this.env, LOG_LEVEL: process.env["ENGINE_LOG_LEVEL"] ?? "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        this.lines.push(line);
        if (this.lines.length > 2000) this.lines.shift();
        const m = /"url":"(http:[^"]+)"/.exec(line);
        if (m && line.includes("listening")) this.url = m[1]!;
      });
    }
    await eventually(
      () => this.url,
      `${this.name} listening (last lines: ${this.lines.slice(-3).join(" | ")})`,
      timeoutMs,
      50,
    );
  }

  /** SIGKILL: no shutdown work at all, as in a crash. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 8000))]);
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** A counter from the engine's /metrics. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return line ? Number(line.split(" ").at(-1)) : 0;
  }
}
