import { isFinished, type PhaseStage } from "@procode/contracts";
import type { components } from "@procode/contracts/api-types";
import type { ApiClient, Connection } from "./client.js";
import { CliError, EXIT, unwrap } from "./client.js";
import { LiveFeed } from "./live-feed.js";
import { dim, printable, red, yellow } from "./render.js";

type Line = components["schemas"]["StageLogLine"];

export interface LogsOptions {
  stage?: PhaseStage;
  attempt?: number;
  json: boolean;
  /** Follow until the pipeline ends: on the event stream at `stream`, else polling every `intervalMs`. */
  follow?: { stream?: Connection; intervalMs: number };
  write?: (s: string) => void;
}

const keyOf = (l: Pick<Line, "stage" | "attempt">) => `${l.stage}#${l.attempt}`;

/** One line as a person reads it: time, stage and attempt, level, text (made printable). */
function human(l: Line): string {
  const level = l.level === "ERROR" ? red(l.level) : l.level === "WARN" ? yellow(l.level) : l.level;
  return `${dim(l.at)} ${`${l.stage}#${l.attempt}`.padEnd(13)} ${level.padEnd(5)} ${printable(l.text)}`;
}

/**
 * `procode pipeline logs` (docs/cli.md): prints a pipeline's stage logs; with `follow`, goes on with
 * the lines as they are written (`log` events on `GET /events`, filtered by pipelineId), and ends
 * when the pipeline ends, with `watch`'s exit codes. A line is printed once: each attempt's lines
 * are printed in seq order, and a gap (an event missed, a stream that broke) is filled by reading
 * the logs again. Without the stream it polls.
 */
export async function printLogs(api: ApiClient, id: number, opts: LogsOptions): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const query = {
    ...(opts.stage ? { stage: opts.stage } : {}),
    ...(opts.attempt !== undefined ? { attempt: opts.attempt } : {}),
  };
  const read = () => unwrap(api.GET("/pipelines/{id}/logs", { params: { path: { id }, query } }));
  if (!opts.follow) {
    const logs = await read();
    if (opts.json) write(`${JSON.stringify(logs, null, 2)}\n`);
    else {
      for (const l of logs.lines) write(`${human(l)}\n`);
      if (logs.truncated) write(`${yellow("an attempt's log was cut at its 1 MiB bound")}\n`);
    }
    return EXIT.OK;
  }

  /** The last seq printed of each attempt. */
  const printed = new Map<string, number>();
  const print = (l: Line) => {
    printed.set(keyOf(l), l.seq);
    write(opts.json ? `${JSON.stringify(l)}\n` : `${human(l)}\n`);
  };
  const wanted = (l: Pick<Line, "stage" | "attempt">) =>
    (!opts.stage || l.stage === opts.stage) && (opts.attempt === undefined || l.attempt === opts.attempt);
  /** Reads the logs again and prints what was not printed yet. */
  const catchUp = async () => {
    for (const l of (await read()).lines) if (l.seq > (printed.get(keyOf(l)) ?? 0)) print(l);
  };
  const ended = async (): Promise<number | null> => {
    const p = await unwrap(api.GET("/pipelines/{id}", { params: { path: { id } } }));
    if (!isFinished(p)) return null;
    await catchUp();
    return p.status === "SUCCESS" ? EXIT.OK : p.status === "CANCELLED" ? EXIT.CANCELLED : EXIT.FAILED;
  };

  const { stream, intervalMs } = opts.follow;
  const feedQuery = `pipelineId=${id}&types=log,pipeline`;
  // Opened before the first read, so no line written after that read is missed.
  let feed = stream ? await LiveFeed.open(stream, feedQuery, null) : null;
  let lastEventId: string | null = null;
  try {
    await catchUp();
    const first = await ended();
    if (first !== null) return first;
    for (;;) {
      if (!feed) {
        await new Promise((r) => setTimeout(r, intervalMs));
        await catchUp();
        const done = await ended();
        if (done !== null) return done;
        if (stream) feed = await LiveFeed.open(stream, feedQuery, lastEventId);
        continue;
      }
      const outcome = await feed.next(2 ** 31 - 1);
      lastEventId = feed.lastEventId;
      if (outcome !== "news") {
        // The stream broke: resume after the last event; read again for what passed meanwhile.
        feed.close();
        feed = await LiveFeed.open(stream!, feedQuery, lastEventId);
        await catchUp();
        continue;
      }
      const event = feed.event!;
      if (event.name === "reset") {
        await catchUp();
      } else if (event.name === "log") {
        const d = (JSON.parse(event.data) as { data: Line }).data;
        const line: Line = {
          stage: d.stage,
          attempt: d.attempt,
          seq: d.seq,
          at: d.at,
          level: d.level,
          text: d.text,
        };
        if (!wanted(line)) continue;
        const last = printed.get(keyOf(line)) ?? 0;
        if (line.seq === last + 1) print(line);
        else if (line.seq > last + 1) await catchUp();
      } else if (event.name === "pipeline") {
        const done = await ended();
        if (done !== null) return done;
      }
    }
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new CliError(`the event stream sent what is not JSON: ${err.message}`);
    throw err;
  } finally {
    feed?.close();
  }
}
