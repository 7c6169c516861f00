import { useLocation } from "wouter";
import type { QualityReportItem } from "../api/types";

/** How many runs the trend shows (the newest). */
const SHOWN = 30;
const W = 640;
const H = 140;
const PAD = { left: 40, right: 12, top: 10, bottom: 24 };

const TONE: Record<QualityReportItem["verdict"], string> = {
  PASS: "green",
  BLOCK: "red",
  CONFIGURATION_ERROR: "red",
  WAIVED: "yellow",
};

/**
 * The pass rate of the newest gate runs, oldest on the left: a line through each run's rate, the
 * band of its 95% interval around it, and a point per run in its verdict's colour (a symbol in its
 * label too, never colour alone) that opens its report.
 */
export function QualityTrend({
  items,
  appId,
  selected,
}: {
  items: QualityReportItem[];
  appId: number;
  selected: number | undefined;
}) {
  const [, navigate] = useLocation();
  const runs = items.slice(0, SHOWN).reverse();
  const x = (i: number) =>
    runs.length === 1
      ? (PAD.left + W - PAD.right) / 2
      : PAD.left + (i * (W - PAD.left - PAD.right)) / (runs.length - 1);
  const y = (rate: number) => PAD.top + (1 - rate) * (H - PAD.top - PAD.bottom);
  const line = runs.map((r, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(r.passRate).toFixed(1)}`);
  const band = [
    ...runs.map((r, i) => `${x(i).toFixed(1)},${y(r.interval.high).toFixed(1)}`),
    ...runs.map((r, i) => `${x(i).toFixed(1)},${y(r.interval.low).toFixed(1)}`).reverse(),
  ].join(" ");
  const first = runs[0]!;
  const last = runs.at(-1)!;
  const pct = (v: number) => `${Math.round(v * 100)}%`;
  const open = (id: number) => navigate(`/apps/${appId}/quality?report=${id}`);
  return (
    <figure className="trend" data-testid="quality-trend">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Pass rate of the last ${runs.length} gate runs, from ${pct(first.passRate)} (${first.tag}) to ${pct(last.passRate)} (${last.tag})`}
      >
        {[0, 0.5, 1].map((v) => (
          <g key={v} className="trend-grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end">
              {pct(v)}
            </text>
          </g>
        ))}
        {runs.length > 1 ? <polygon className="trend-band" points={band} /> : null}
        {runs.length > 1 ? <path className="trend-line" d={line.join(" ")} /> : null}
        {runs.map((r, i) => (
          <g
            key={r.id}
            className={`trend-point trend-${TONE[r.verdict]}${r.id === selected ? " trend-selected" : ""}`}
            data-report={r.id}
            role="link"
            tabIndex={0}
            aria-label={`${r.tag}: ${pct(r.passRate)} (${r.passed}/${r.total}), ${r.verdict}`}
            onClick={() => open(r.id)}
            onKeyDown={(e) => {
              if (e.key === "Enter") open(r.id);
            }}
          >
            <title>{`${r.tag}: ${pct(r.passRate)} (${r.passed}/${r.total}), ${r.verdict}`}</title>
            <circle cx={x(i)} cy={y(r.passRate)} r={r.id === selected ? 6 : 4.5} />
          </g>
        ))}
        <text className="trend-axis" x={x(0)} y={H - 6} textAnchor={runs.length === 1 ? "middle" : "start"}>
          {first.tag}
        </text>
        {runs.length > 1 ? (
          <text className="trend-axis" x={x(runs.length - 1)} y={H - 6} textAnchor="end">
            {last.tag}
          </text>
        ) : null}
      </svg>
      <figcaption className="muted">
        ● pass rate per release, the shaded band its 95% interval;{" "}
        <span className="text-green">✔ passed</span>, <span className="text-red">✖ blocked</span>,{" "}
        <span className="text-yellow">◆ waived</span>. Choose a point or a row for its report.
      </figcaption>
    </figure>
  );
}
