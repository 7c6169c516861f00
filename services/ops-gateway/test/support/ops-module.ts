import { ChildService } from "./processes.js";

export interface ModuleDeployment {
  id: string;
  appId: number;
  status: string;
  cancelled: boolean;
  cancelCalls: number;
  createCalls: number;
  statusCallCount: number;
  statusCalls: { at: string; ms: number; status: string }[];
  maxConcurrentStatusCalls: number;
  callbacks: { at: string; status: string; result: string }[];
  behaviour: Record<string, unknown>;
}

/** The reference ops module as a real process, with its control API (`/_control/*`). */
export class OpsModuleProcess {
  private constructor(readonly child: ChildService) {}

  static async start(env: Record<string, string>): Promise<OpsModuleProcess> {
    const child = await ChildService.start({
      name: "ops-module",
      dir: "tools/ops-module",
      env: { PORT: "0", LOG_LEVEL: "info", ...env },
      ready: /ops module listening/,
    });
    return new OpsModuleProcess(child);
  }

  get url(): string {
    return this.child.url;
  }

  async control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/_control${path}`, {
      method,
      ...(body !== undefined
        ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
        : {}),
    });
    const json = (await res.json()) as { code: number; message: string; data: T };
    if (json.code !== 0) throw new Error(`ops module ${method} ${path}: ${json.message}`);
    return json.data;
  }

  setCallback(url: string | null, secret?: string): Promise<unknown> {
    return this.control("PUT", "/callback", { url, ...(secret ? { secret } : {}) });
  }

  defaults(deploy: Record<string, unknown>): Promise<unknown> {
    return this.control("PUT", "/defaults", { deploy });
  }

  forApp(appId: number, deploy: Record<string, unknown>): Promise<unknown> {
    return this.control("PUT", `/apps/${appId}`, { deploy });
  }

  next(count: number, behaviour: Record<string, unknown>): Promise<unknown> {
    return this.control("POST", "/next", { kind: "deploy", count, behaviour });
  }

  /** Changes the behaviour of running deployments (`{durationMs: 0}`: finish now). */
  async change(
    match: { appId?: number; ids?: string[] },
    behaviour: Record<string, unknown>,
  ): Promise<number> {
    return (await this.control<{ changed: number }>("PATCH", "/deployments", { ...match, behaviour }))
      .changed;
  }

  outage(mode: "5xx" | "unreachable", durationMs: number): Promise<unknown> {
    return this.control("POST", "/outage", { mode, durationMs });
  }

  endOutage(): Promise<unknown> {
    return this.control("DELETE", "/outage");
  }

  deployment(id: string): Promise<ModuleDeployment> {
    return this.control("GET", `/deployments/${encodeURIComponent(id)}`);
  }

  async deploymentsOf(appId: number): Promise<ModuleDeployment[]> {
    return (await this.control<{ items: ModuleDeployment[] }>("GET", `/deployments?appId=${appId}`)).items;
  }

  /** Forgets every deployment, as a restart of the ops module would. */
  reset(): Promise<unknown> {
    return this.control("POST", "/reset");
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}
