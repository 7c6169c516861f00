import type { Checkpoint } from "../api/types";

/** The outside system a stage's attempt waits for when it does not answer (docs/console.md "Waiting"). */
const OUTSIDE_SYSTEM: Record<string, string> = {
  CODE_CHECK: "the git provider",
  PACKAGE: "the image builder",
  DEPLOY: "the ops module",
};

/** What a running attempt waits for, or null: only a RUNNING attempt with the API's `waiting` waits. */
export function waitingOf(c: Checkpoint | undefined | null): NonNullable<Checkpoint["waiting"]> | null {
  return c && c.status === "RUNNING" && c.finishedAt === null && c.waiting ? c.waiting : null;
}

/**
 * "Waiting for the image builder: <reason> (since 10:02:03)": a running attempt that waits for an
 * outside system which does not answer. Nothing is asked of a person: it goes on by itself.
 */
export function WaitingNote({ stage, c, compact }: { stage: string; c: Checkpoint; compact?: boolean }) {
  const waiting = waitingOf(c);
  if (!waiting) return null;
  const since = new Date(waiting.since);
  const system = OUTSIDE_SYSTEM[stage] ?? "an outside system";
  // On a node it sits inside the node's button, where only phrasing content belongs.
  const Tag = compact ? "span" : "p";
  return (
    <Tag className={`note note-wait small${compact ? " node-waiting-note" : ""}`} data-testid="stage-waiting">
      <span aria-hidden="true">◆ </span>
      Waiting for {system}: {waiting.reason} (since{" "}
      <time dateTime={waiting.since} title={since.toLocaleString()}>
        {Number.isNaN(since.getTime()) ? waiting.since : since.toLocaleTimeString()}
      </time>
      )
      {compact
        ? null
        : ". Nothing to do: the attempt goes on by itself when it answers, and waiting does not count against its time."}
    </Tag>
  );
}
