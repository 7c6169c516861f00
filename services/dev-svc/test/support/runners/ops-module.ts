import { ServiceProcess } from "@procode/test-kit";

/** The reference ops module as a real process (its build endpoint is PACKAGE's image builder). */
export class OpsModuleProcess {
  private constructor(readonly proc: ServiceProcess) {}

  static async start(env: Record<string, string> = {}): Promise<OpsModuleProcess> {
    const proc = await ServiceProcess.start({
      name: "ops-module",
      dir: "tools/ops-module",
      env: { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", DEFAULT_DURATION_MS: "400", ...env },
      ready: /listening/,
    });
    return new OpsModuleProcess(proc);
  }

  get url(): string {
    return this.proc.url;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      ...(body !== undefined
        ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
        : {}),
    });
    const json = (await res.json()) as { code: number; message: string; data: T };
    if (json.code !== 0) throw new Error(`${method} ${path}: ${json.message}`);
    return json.data;
  }

  /** Builds and create calls seen so far (`builds` counts distinct builds, `creates` every create call). */
  stats(): Promise<{ builds: number; creates: number; statusCalls: number }> {
    return this.call("GET", "/_control/stats");
  }

  build(id: string): Promise<{
    request: { commitId: string; dockerfile: string; image: string; appId: number };
    createCalls: number;
  }> {
    return this.call("GET", `/_control/builds/${encodeURIComponent(id)}`);
  }

  outage(mode: "5xx" | "unreachable", durationMs: number): Promise<unknown> {
    return this.call("POST", "/_control/outage", { mode, durationMs, scope: "build" });
  }

  endOutage(): Promise<unknown> {
    return this.call("DELETE", "/_control/outage");
  }

  nextBuilds(count: number, behaviour: Record<string, unknown>): Promise<unknown> {
    return this.call("POST", "/_control/next", { kind: "build", count, behaviour });
  }

  /** Forgets every build and deployment, as a restart of the ops module would. */
  reset(): Promise<unknown> {
    return this.call("POST", "/_control/reset");
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}
