import { ServiceProcess } from "@procode/test-kit";

/** The engine as a real process (`node --import tsx src/main.ts`, as `npm start` runs it), restartable. */
export class EngineProcess {
  private process: ServiceProcess | undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly name = "engine",
  ) {}

  get url(): string | null {
    return this.process?.url ?? null;
  }

  get lines(): string[] {
    return this.process?.output ?? [];
  }

  async start(timeoutMs = 30000): Promise<void> {
    this.process = await ServiceProcess.start({
      name: this.name,
      dir: "services/pipeline-engine",
      env: { ...this.env, LOG_LEVEL: process.env["ENGINE_LOG_LEVEL"] ?? "info" },
      ready: /pipeline-engine listening/,
      timeoutMs,
    });
  }

  /** SIGKILL: no shutdown work at all, as in a crash. */
  async kill(): Promise<void> {
    await this.process?.kill();
  }

  async stop(): Promise<void> {
    await this.process?.stop("SIGTERM", 8000);
  }

  /** A counter from the engine's /metrics. */
  async metric(name: string): Promise<number> {
    return this.process ? this.process.metric(name) : 0;
  }
}
