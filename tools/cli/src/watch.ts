import type { ApiClient, Connection } from "./client.js";
import { CliError, EXIT, unwrap } from "./client.js";
import { LiveFeed } from "./live-feed.js";
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
  /** Follow the platform's event stream (`GET /events`) here; without it, or while it is down, poll. */
  stream?: Connection;
}

/** The longest a single wait on the stream lasts before it is simply waited on again. */
const MAX_WAIT_MS = 2 ** 31 - 1;

/**
 * Follows a pipeline until it ends or waits for a person, redrawing its stages in place on a
 * terminal (or printing each change otherwise; NDJSON with --json). Resolves to the exit code
 * (docs/cli.md): 0 SUCCESS, 1 FAILED, 4 CANCELLED, 5 waiting for a person (the command that moves it
 * on is printed), 6 timed out. Connection trouble is retried for a while before giving up (exit 3).
 *
 * With the event stream (docs/cli.md, "Live"), the pipeline is read again only when an event about it
 * arrives; a stream that breaks is resumed with Last-Event-ID, and while it cannot be opened the
 * pipeline is polled every `intervalMs`.
 */
export async function watchPipeline(api: ApiClient, id: number, opts: WatchOptions): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const tty = opts.isTTY ?? Boolean(process.stdout.isTTY);
  const interval = opts.intervalMs ?? 1000;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let drawn = 0;
  let lastKey = "";
  let failures = 0;
  const query = `pipelineId=${id}&types=pipeline`;
  // Opened before the first read, so nothing that happens after that read is missed.
  let feed = opts.stream ? await LiveFeed.open(opts.stream, query, null) : null;
  let lastEventId: string | null = null;
  try {
    return await follow();
  } finally {
    feed?.close();
  }

  /** Waits for news of the pipeline: an event on the stream, or one interval when polling. */
  async function waitForNews(): Promise<void> {
    while (feed) {
      const outcome = await feed.next(Math.min(MAX_WAIT_MS, deadline - Date.now()));
      lastEventId = feed.lastEventId;
      if (outcome === "news") return;
      if (outcome === "timeout") {
        if (Date.now() >= deadline) return;
        continue;
      }
      feed.close();
      feed = await LiveFeed.open(opts.stream!, query, lastEventId);
      // Read again after a break: an event may have come and gone while it was down.
      if (feed) return;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(interval, deadline - Date.now()))));
    if (opts.stream) feed = await LiveFeed.open(opts.stream, query, lastEventId);
  }

  async function follow(): Promise<number> {
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
        p.checkpoints.map((c) => [c.status, c.attempt, c.waiting?.reason ?? null]),
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
      if (Date.now() + (feed ? 0 : interval) > deadline) {
        say(yellow(`still ${p.status} (${p.state}) when the timeout ran out`));
        return EXIT.TIMED_OUT;
      }
      await waitForNews();
    }
  }
}
