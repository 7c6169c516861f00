import type { Pipeline } from "@procode/contracts";
import { api, CliError, type Connection } from "./client.js";
import { dim, green, isFinished, red, renderPipeline } from "./render.js";

export interface WatchOptions {
  json: boolean;
  intervalMs?: number;
  /** Where to draw (stdout by default); tests pass their own. */
  write?: (s: string) => void;
  isTTY?: boolean;
}

/**
 * Follows a pipeline until it ends, redrawing its stages in place on a terminal (or printing each
 * change otherwise; NDJSON with --json). Resolves to the exit code: 0 on SUCCESS, 1 when it failed
 * or was cancelled. A pipeline waiting for a person keeps being watched, with the command to run.
 * Connection trouble is retried for a while before giving up (exit 3).
 */
export async function watchPipeline(conn: Connection, id: number, opts: WatchOptions): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const tty = opts.isTTY ?? Boolean(process.stdout.isTTY);
  const interval = opts.intervalMs ?? 1000;
  let drawn = 0;
  let lastKey = "";
  let failures = 0;
  for (;;) {
    let p: Pipeline;
    try {
      p = await api<Pipeline>(conn, "GET", `/pipelines/${id}`);
      failures = 0;
    } catch (err) {
      if (err instanceof CliError && err.exitCode === 3 && ++failures < 30) {
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
    if (isFinished(p)) {
      if (!opts.json)
        write(
          p.status === "SUCCESS"
            ? `${green("pipeline succeeded")}\n`
            : `${red(`pipeline ${p.status.toLowerCase()}`)}\n`,
        );
      return p.status === "SUCCESS" ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
