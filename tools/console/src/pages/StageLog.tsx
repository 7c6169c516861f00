import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { useStageLog } from "../api/queries";
import type { LogLine, StageLog as Log } from "../api/types";
import { ErrorNote, Loading } from "../ui/feedback";

/** How near the bottom (px) still counts as "at the end": the log keeps following from there. */
const AT_END_PX = 8;

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
/** A line's time, local, to the second; to the millisecond, with its date, in its tooltip. */
function clock(at: string): { short: string; long: string } {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return { short: at, long: at };
  const short = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return { short, long: `${d.toLocaleDateString()} ${short}.${pad(d.getMilliseconds(), 3)}` };
}

function Line({ line }: { line: LogLine }) {
  const time = clock(line.at);
  return (
    <div className={`log-line log-${line.level.toLowerCase()}`} data-level={line.level} data-seq={line.seq}>
      <time className="log-at" dateTime={line.at} title={time.long}>
        {time.short}
      </time>
      <span className="log-level">{line.level}</span>
      <span className="log-text">{line.text}</span>
    </div>
  );
}

/**
 * An attempt's log lines, monospace, ERROR lines marked. It follows the end as lines come, until the
 * person scrolls up; scrolling back to the end (or "Follow the log") follows again.
 */
export function LogLines({
  lines,
  truncated,
  running,
  label,
}: {
  lines: LogLine[];
  truncated: boolean;
  running: boolean;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  const last = lines.at(-1)?.seq ?? 0;

  useLayoutEffect(() => {
    const el = box.current;
    if (el && following) el.scrollTop = el.scrollHeight;
  }, [last, following]);

  if (lines.length === 0) {
    return (
      <p className="muted small" data-testid="stage-log-empty">
        {running
          ? "No log lines yet: they show here as the stage writes them."
          : "This attempt wrote no log lines."}
      </p>
    );
  }
  const errors = lines.filter((l) => l.level === "ERROR").length;
  return (
    <div className="log">
      {truncated ? (
        <p className="note note-wait small" data-testid="stage-log-truncated">
          ◆ This attempt wrote more than the platform keeps (1 MiB per attempt): not every line is here.
        </p>
      ) : null}
      <div
        ref={box}
        className="log-lines"
        role="log"
        aria-label={label}
        // Scrollable, so reachable by keyboard too.
        tabIndex={0}
        data-testid="stage-log"
        onScroll={(e) => {
          const el = e.currentTarget;
          setFollowing(el.scrollHeight - el.scrollTop - el.clientHeight <= AT_END_PX);
        }}
      >
        {lines.map((l) => (
          <Line key={l.seq} line={l} />
        ))}
      </div>
      <p className="log-foot muted small">
        {lines.length} {lines.length === 1 ? "line" : "lines"}
        {errors ? (
          <>
            {" "}
            · <span className="error-text">✖ {errors} ERROR</span>
          </>
        ) : null}
        {following ? null : (
          <button
            type="button"
            className="button button-quiet log-follow"
            onClick={() => setFollowing(true)}
            data-testid="stage-log-follow"
          >
            ↓ Follow the log
          </button>
        )}
      </p>
    </div>
  );
}

/** What a log read is: loading, failed with the API's error, or there. */
export type LogState = { kind: "loading" } | { kind: "error"; error: unknown } | { kind: "ready"; log: Log };

/** The log of one attempt as a read left it: loading, the API's error, or its lines. */
export function StageLogView({
  state,
  running,
  label,
}: {
  state: LogState;
  running: boolean;
  label: string;
}) {
  if (state.kind === "loading") return <Loading what="the log" />;
  if (state.kind === "error") return <ErrorNote error={state.error} title="The log could not be read." />;
  return <LogLines lines={state.log.lines} truncated={state.log.truncated} running={running} label={label} />;
}

/** A stage attempt's log, read and then followed live. */
export function StageLog({
  pipelineId,
  stage,
  attempt,
  running,
}: {
  pipelineId: number;
  stage: string;
  attempt: number;
  running: boolean;
}) {
  const log = useStageLog(pipelineId, stage, attempt, running);
  const { refetch } = log;
  // The attempt has just ended: its last lines may have come after the last read.
  const wasRunning = useRef(running);
  useEffect(() => {
    if (wasRunning.current && !running) void refetch();
    wasRunning.current = running;
  }, [running, refetch]);
  // Lines once read stay in view when a later read fails.
  const state: LogState = log.data
    ? { kind: "ready", log: log.data }
    : log.isError
      ? { kind: "error", error: log.error }
      : { kind: "loading" };
  return <StageLogView state={state} running={running} label={`${stage} attempt ${attempt} log`} />;
}
