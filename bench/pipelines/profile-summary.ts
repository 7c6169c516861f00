/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from `pipelines --cpu-prof <dir>`): self time
 * by package (node_modules package, node internals, the repository's own packages, GC, idle) and
 * the functions with the most self time, and total (inclusive) time of the functions named with
 * --focus.
 *   pnpm --filter @procode/bench profile-summary <file.cpuprofile> [--top 30] [--focus name,name]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" }, focus: { type: "string", default: "" } },
});
const file = positionals[0];
if (!file) throw new Error("usage: profile-summary <file.cpuprofile> [--top N] [--focus a,b]");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function packageOf(n: Node): string {
  const { url, functionName } = n.callFrame;
  if (functionName === "(idle)") return "(idle)";
  if (functionName === "(garbage collector)") return "(gc)";
  if (functionName === "(program)") return "(program)";
  if (!url) return "(native)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  const own = /\/(services|libs|tools|bench)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url.split("/").slice(-2).join("/");
}

const pct = (us: number) => `${((us * 100) / total).toFixed(1)}%`.padStart(6);
const byPackage = new Map<string, number>();
for (const [id, us] of self) {
  const k = packageOf(byId.get(id)!);
  byPackage.set(k, (byPackage.get(k) ?? 0) + us);
}
const seconds = (profile.endTime - profile.startTime) / 1e6;
const busy = total - (byPackage.get("(idle)") ?? 0);
process.stdout.write(
  `${file}: ${seconds.toFixed(1)} s profiled, busy ${((busy * 100) / total).toFixed(0)}%\n\nself time by package:\n`,
);
for (const [k, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 25))
  process.stdout.write(`  ${pct(us)}  ${k}\n`);

const byFunction = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const k = `${n.callFrame.functionName || "(anonymous)"} ${packageOf(n)}:${n.callFrame.lineNumber + 1}`;
  byFunction.set(k, (byFunction.get(k) ?? 0) + us);
}
process.stdout.write(`\nself time by function:\n`);
for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  process.stdout.write(`  ${pct(us)}  ${k}\n`);

if (values.focus) {
  process.stdout.write(`\ninclusive time:\n`);
  for (const name of values.focus.split(",")) {
    let us = 0;
    for (const [id, t] of self) {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        if (byId.get(cur)!.callFrame.functionName === name) {
          us += t;
          break;
        }
      }
    }
    process.stdout.write(`  ${pct(us)}  ${name}\n`);
  }
}
