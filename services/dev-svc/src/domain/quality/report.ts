/**
 * Figures of a gate report (docs/quality-gate.md, "Reports"). Pure.
 */

/** The p-th percentile (0..100) of the values, nearest-rank; 0 when there is none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** JSON with sorted object keys: what a case's digest is taken over, so key order does not matter. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** An agent's answer as a report keeps it: long text cut at `max` characters. */
export function clipOutput(output: unknown, max = 4096): unknown {
  if (typeof output === "string") return output.length > max ? `${output.slice(0, max)}…` : output;
  const text = JSON.stringify(output) ?? "null";
  return text.length > max ? `${text.slice(0, max)}…` : output;
}
