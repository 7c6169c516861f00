import type { Check } from "./invariants.js";

/** Prints the pass/fail table and the run's figures as Markdown tables; true when every check passed. */
export function printReport(r: {
  title: string;
  checks: Check[];
  figures: Record<string, string | number>;
}): boolean {
  const out: string[] = [`\n## ${r.title}\n`, "| invariant | result | counts |", "|---|---|---|"];
  for (const c of r.checks) out.push(`| ${c.name} | ${c.ok ? "PASS" : "FAIL"} | ${c.counts} |`);
  const failing = r.checks.filter((c) => !c.ok);
  for (const c of failing) {
    out.push("", `${c.name}: first violations`);
    for (const p of c.problems) out.push(`  - ${p}`);
  }
  out.push("", "| figure | value |", "|---|---|");
  for (const [k, v] of Object.entries(r.figures)) out.push(`| ${k} | ${v} |`);
  out.push("", failing.length ? `${failing.length} invariant(s) FAILED` : "all invariants hold", "");
  process.stdout.write(out.join("\n"));
  return failing.length === 0;
}
