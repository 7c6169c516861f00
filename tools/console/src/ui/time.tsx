import { formatDuration } from "@procode/contracts/pipeline-view";
import { useNow } from "../live/live";

function relative(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.round(h / 24)}d ago`;
}

/** "3m ago", ticking; the exact time in the tooltip and the datetime attribute. */
export function Ago({ at }: { at: string }) {
  const now = useNow(5000);
  const t = Date.parse(at);
  return (
    <time dateTime={at} title={new Date(t).toLocaleString()}>
      {relative(now - t)}
    </time>
  );
}

/** A duration from `from` to `to`, or to now (ticking) while it runs. */
export function Elapsed({ from, to }: { from: string; to?: string | null }) {
  const now = useNow(1000);
  const end = to ? Date.parse(to) : now;
  return <span className="elapsed">{formatDuration(end - Date.parse(from))}</span>;
}

export function shortCommit(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 8) : "–";
}
