import { errorMessage, sleep, type Logger } from "@procode/service-kit";

/**
 * A background loop that runs `tick` every `intervalMs`, at once when woken, and again without
 * waiting while `tick` reports more work. Errors are logged and the loop goes on; `stop()` waits for
 * the tick in progress.
 */
export class PollLoop {
  private stopping = false;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<boolean>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  wake(): void {
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    let failing = false;
    while (!this.stopping) {
      let more = false;
      try {
        more = await this.tick();
        if (failing) this.log.info({ loop: this.name }, "background work recovered");
        failing = false;
      } catch (err) {
        if (!failing)
          this.log.warn({ loop: this.name, err: errorMessage(err) }, "background work failed; will retry");
        failing = true;
      }
      if (more && !this.stopping) continue;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        void sleep(this.intervalMs, this.abort.signal).then(resolve);
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
