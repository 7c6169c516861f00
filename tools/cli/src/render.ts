import {
  formatDuration as duration,
  isRetryAccepted,
  STAGE_VIEWS,
  stagesOf,
  stageView,
  type Pipeline,
} from "@procode/contracts";

const useColor = process.stdout.isTTY && !process.env["NO_COLOR"];
const paint = (code: number, s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = (s: string) => paint(32, s);
export const red = (s: string) => paint(31, s);
export const yellow = (s: string) => paint(33, s);
const cyan = (s: string) => paint(36, s);
export const dim = (s: string) => paint(90, s);
export const bold = (s: string) => paint(1, s);
const TONES = { green, red, yellow, cyan, dim };

/**
 * What the platform sends back, fit for a terminal: text anyone can write (an iteration name, a
 * cancel reason, a commit message in a stage error) may hold control characters, and an escape
 * sequence printed as is would move the cursor, recolour, retitle or rewrite the screen. Every C0
 * and C1 control character but line breaks and tabs is shown as its \u escape instead, in every
 * string of `value`; the CLI's own colours are added after.
 */
export function printable<T>(value: T): T {
  if (typeof value === "string") {
    return value.replace(
      // eslint-disable-next-line no-control-regex
      /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    ) as T;
  }
  if (Array.isArray(value)) return value.map(printable) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v)])) as T;
  }
  return value;
}

/** A plain table: header, rows, columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [bold(line(headers)), ...cells.map(line)].join("\n");
}

/** The lines `procode pipeline watch` draws for a pipeline at time `now` (its text made printable). */
export function renderPipeline(pipeline: Pipeline, now = Date.now()): string[] {
  const p = printable(pipeline);
  const stages = stagesOf(p);
  const head = `${bold(`pipeline ${p.id}`)} ${dim(`${p.type}${p.tag ? ` ${p.tag}` : ""}${p.rollback ? " rollback" : ""}`)}  ${statusText(p)}`;
  const lines = [head];
  for (const stage of stages) {
    const { view, latest } = stageView(p, stage);
    const attempt = latest && latest.attempt > 1 ? dim(` (attempt ${latest.attempt})`) : "";
    const started = latest
      ? Date.parse(latest.startedAt)
      : view === "running"
        ? Date.parse(p.updatedAt)
        : NaN;
    const ended = latest?.finishedAt ? Date.parse(latest.finishedAt) : now;
    const took = Number.isFinite(started) ? duration(ended - started) : "";
    const look = STAGE_VIEWS[view];
    const paintView = TONES[look.tone];
    const timed = view === "running" || view === "succeeded" || view === "failed" ? ` ${took}` : "";
    const deploy =
      view === "running" && stage === "DEPLOY" && p.deployStatus
        ? dim(` ${p.deployStatus}${p.deployId ? ` ${p.deployId}` : ""}`)
        : "";
    const error = view === "failed" && latest?.error ? `: ${latest.error}` : "";
    // An outside system that does not answer: the attempt waits by itself, nobody needs to act.
    const waits =
      view === "running" && latest?.status === "RUNNING" && latest.waiting
        ? yellow(` ${latest.waiting.state}: ${latest.waiting.reason}`)
        : "";
    const tries = view === "pending" || view === "cancelled" || view === "waiting" ? "" : attempt;
    const text = `${paintView(look.symbol)} ${stage.padEnd(11)} ${paintView(`${look.word}${timed}`)}${tries}${deploy}${waits}${error}`;
    lines.push(`  ${text}`);
  }
  const commands = nextCommands(p);
  if (commands.length) lines.push(`  ${yellow("→")} ${commands.join(dim("   or   "))}`);
  if (p.queued) lines.push(`  ${dim("queued behind another release of this app")}`);
  return lines;
}

function statusText(p: Pipeline): string {
  const s = `${p.status}${p.state !== p.status ? ` (${p.state})` : ""}`;
  if (p.status === "SUCCESS") return green(s);
  if (p.status === "FAILED" || p.status === "CANCELLED") return red(s);
  return cyan(s);
}

/**
 * The commands a person may run now to move a waiting pipeline on, and only those the API accepts
 * now: proceed at a MANUAL gate; after a failure, retry while the failed stage's retries are not used
 * up (`currentRetries` < its `maxRetries`, else retry answers 3002), and resume.
 */
function nextCommands(p: Pipeline): string[] {
  if (!p.awaiting) return [];
  if (p.awaiting.action === "PROCEED") {
    if (p.type === "PHASE") return [`procode pipeline proceed ${p.id}`];
    // An iteration pipeline moves with its iteration; the API's hint names the next phase.
    const next = /targetPhase (\w+)/.exec(p.awaiting.hint)?.[1];
    if (next === "RELEASE") return [`procode iteration release ${p.iterationId} --tag <vX.Y.Z>`];
    return next ? [`procode iteration proceed ${p.iterationId} --to ${next}`] : [];
  }
  return [
    ...(isRetryAccepted(p) ? [`procode pipeline retry ${p.id}`] : []),
    `procode pipeline resume ${p.id}`,
  ];
}
