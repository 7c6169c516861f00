import type { ApiClient } from "./client.js";
import { CliError, EXIT, unwrap } from "./client.js";
import { isFinished } from "@procode/contracts";
import { dim, green, red, renderPipeline, yellow } from "./render.js";

export interface WatchOptions {
  json: boolean;
  intervalMs?: number;
  /** Give up after this long (exit 6); none by default. */
  timeoutMs?: number;
  /** Where to draw (stdout by default); tests pass their own. */
  write?: (s: string) => void;
  isTTY?: boolean;
}

/**
 * Follows a pipeline until it ends or waits for a person, redrawing its stages in place on a
 * terminal (or printing each change otherwise; NDJSON with --json). Resolves to the exit code
 * (docs/cli.md): 0 SUCCESS, 1 FAILED, 4 CANCELLED, 5 waiting for a person (the command that moves it
 * on is printed), 6 timed out. Connection trouble is retried for a while before giving up (exit 3).
 */
export async function watchPipeline(api: ApiClient, id: number, opts: WatchOptions): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const tty = opts.isTTY ?? Boolean(process.stdout.isTTY);
  const interval = opts.intervalMs ?? 1000;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let drawn = 0;
  let lastKey = "";
  let failures = 0;
  for (;;) {
    let p;
    try {
      p = await unwrap(api.GET("/pipelines/{id}", { params: { path: { id } } }));
      failures = 0;
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.UNREACHABLE && ++failures < 30) {
        await new Promise((r) => setTimeout(r, interval));
        continue;
      }
      throw err;
    }
    const key = JSON.stringify([
      p.status,
      p.state,
      p.currentStage,
      p.deployStatus,
      p.awaiting,
      p.checkpoints.map((c) => [c.status, c.attempt]),
    ]);
    if (opts.json) {
      if (key !== lastKey) write(`${JSON.stringify(p)}\n`);
    } else if (tty) {
      const lines = renderPipeline(p);
      if (drawn) write(`\x1b[${drawn}A\x1b[0J`);
      write(`${lines.join("\n")}\n`);
      drawn = lines.length;
    } else if (key !== lastKey) {
      write(`${renderPipeline(p).join("\n")}\n${dim("--")}\n`);
    }
    lastKey = key;
    const say = (s: string) => (opts.json ? undefined : write(`${s}\n`));
    if (isFinished(p)) {
      if (p.status === "SUCCESS") say(green("pipeline succeeded"));
      else say(red(`pipeline ${p.status.toLowerCase()}`));
      return p.status === "SUCCESS" ? EXIT.OK : p.status === "CANCELLED" ? EXIT.CANCELLED : EXIT.FAILED;
    }
    if (p.awaiting?.action === "PROCEED") {
      say(yellow(`pipeline ${p.id} is waiting for a person at ${p.awaiting.stage}`));
      return EXIT.WAITING_FOR_PERSON;
    }
    if (Date.now() + interval > deadline) {
      say(yellow(`still ${p.status} (${p.state}) when the timeout ran out`));
      return EXIT.TIMED_OUT;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
