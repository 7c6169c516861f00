import type { Logger } from "./logger.js";
import { errorMessage, sleep } from "./util.js";

export interface PollLoopOptions {
  /** Names the loop in its logs. */
  name: string;
  /** Pause between two passes when the last one found nothing more to do. */
  intervalMs: number;
  /** One pass; true when there may be more to do now (the next pass starts without a pause). */
  tick: () => Promise<boolean>;
  log: Logger;
}

/**
 * The background loop every service's pollers run on (the outbox relay, the stream watch, dev-svc's
 * binder and webhook worker, ops-gateway's deployment worker): a pass every `intervalMs`, at once
 * when woken, and again without a pause while a pass reports more. A failing pass is logged once
 * (and its recovery once), and the loop goes on; `stop()` waits for the pass in progress.
 */
export class PollLoop {
  private stopping = false;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private readonly abort = new AbortController();

  constructor(private readonly opts: PollLoopOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Starts the next pass now (or right after the one in progress). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    const { name, log } = this.opts;
    let failing = false;
    while (!this.stopping) {
      this.woken = false;
      let more = false;
      try {
        more = await this.opts.tick();
        if (failing) log.info({ loop: name }, `${name}: works again`);
        failing = false;
      } catch (err) {
        if (!failing) log.warn({ loop: name, err: errorMessage(err) }, `${name}: a pass failed; will retry`);
        failing = true;
      }
      if ((more || this.woken) && !this.stopping) continue;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        void sleep(this.opts.intervalMs, this.abort.signal).then(resolve);
      });
      this.wakeUp = undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.wakeUp?.();
    await this.running;
  }
}
