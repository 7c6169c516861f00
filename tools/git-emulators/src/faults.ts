/**
 * Faults a test can inject into an emulator: fail the next N requests with a status, add latency to
 * every request, or go down (every connection destroyed) and come back. The emulator's own control
 * endpoints (`/_emulator/...`) are never affected.
 */
export interface FailNext {
  count: number;
  status: number;
  /** Only requests whose path matches this pattern count (default: every API or git request). */
  pathPattern?: string;
  /** Extra headers, e.g. `retry-after` with a 429. */
  headers?: Record<string, string>;
}

export interface FaultState {
  failNext: FailNext | null;
  latencyMs: number;
  down: boolean;
}

export class Faults {
  private state: FaultState = { failNext: null, latencyMs: 0, down: false };
  private comeBackTimer: NodeJS.Timeout | undefined;
  /** Called when the emulator goes down, so open connections are cut at once. */
  onDown: () => void = () => {};

  get current(): Readonly<FaultState> {
    return this.state;
  }

  failNext(
    count: number,
    status: number,
    opts: { pathPattern?: string; headers?: Record<string, string> } = {},
  ) {
    this.state.failNext = count > 0 ? { count, status, ...opts } : null;
  }

  setLatency(ms: number): void {
    this.state.latencyMs = Math.max(0, ms);
  }

  goDown(forMs?: number): void {
    this.state.down = true;
    clearTimeout(this.comeBackTimer);
    if (forMs && forMs > 0) this.comeBackTimer = setTimeout(() => this.comeBack(), forMs);
    this.onDown();
  }

  comeBack(): void {
    clearTimeout(this.comeBackTimer);
    this.state.down = false;
  }

  reset(): void {
    clearTimeout(this.comeBackTimer);
    this.state = { failNext: null, latencyMs: 0, down: false };
  }

  /** The status to fail this request with, if a failNext fault applies (and counts it down). */
  takeFailure(path: string): FailNext | null {
    const f = this.state.failNext;
    if (!f) return null;
    if (f.pathPattern && !new RegExp(f.pathPattern).test(path)) return null;
    f.count--;
    if (f.count <= 0) this.state.failNext = null;
    return f;
  }
}
