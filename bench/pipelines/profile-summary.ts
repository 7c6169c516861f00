/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. from `pipelines --cpu-prof <dir>`): self time
 * by package (node_modules package, node internals, the repository's own packages, GC, idle), native
 * time (socket writes, the garbage collector's work aside) by the package whose JavaScript called it,
 * the functions with the most self time, and total (inclusive) time of the functions named with
 * --focus. A service run from its bundle (`--bundle`) is split into the packages bundled in it, by
 * the module comments esbuild writes into `dist/main.js`.
 *   pnpm --filter @procode/bench profile-summary <file.cpuprofile> [--top 30] [--focus name,name]
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
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

/** The package a source path belongs to: a node_modules package or the repository's own. */
function packageOfPath(path: string): string | null {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(path);
  if (nm) return nm[1]!;
  const own = /(?:^|\/)(services|libs|tools|bench)\/([^/]+)\//.exec(path);
  return own ? `${own[1]}/${own[2]}` : null;
}

/**
 * Where each module of a bundle starts: esbuild writes `// <path>` before each one. Sorted by line
 * (0-based, as the profile's), with the package of the module.
 */
const bundles = new Map<string, { line: number; pkg: string }[]>();
function bundleModules(url: string) {
  let modules = bundles.get(url);
  if (modules) return modules;
  modules = [];
  const path = url.startsWith("file:") ? fileURLToPath(url) : url;
  if (existsSync(path)) {
    const own = packageOfPath(path) ?? "(bundle)";
    readFileSync(path, "utf8")
      .split("\n")
      .forEach((text, line) => {
        const m = /^\/\/ (\S+\.(?:[cm]?js|ts|json))$/.exec(text);
        if (m) modules.push({ line, pkg: packageOfPath(m[1]!) ?? own });
      });
  }
  bundles.set(url, modules);
  return modules;
}

/** `packageOf` once per node: the callers' walk of every native frame asks again and again. */
const packages = new Map<number, string>();
function packageOf(n: Node): string {
  let pkg = packages.get(n.id);
  if (pkg === undefined) packages.set(n.id, (pkg = packageOfFrame(n)));
  return pkg;
}

function packageOfFrame(n: Node): string {
  const { url, functionName, lineNumber } = n.callFrame;
  if (functionName === "(idle)") return "(idle)";
  if (functionName === "(garbage collector)") return "(gc)";
  if (functionName === "(program)") return "(program)";
  if (!url) return "(native)";
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  if (url.endsWith("/dist/main.js")) {
    const modules = bundleModules(url);
    let found: string | undefined;
    for (const m of modules) {
      if (m.line > lineNumber) break;
      found = m.pkg;
    }
    if (found) return found;
  }
  return packageOfPath(url) ?? url.split("/").slice(-2).join("/");
}

/**
 * The package of the nearest caller outside Node's own code (for native frames such as `writev`,
 * reached through Node's streams), else the nearest of Node's.
 */
function callerPackage(id: number): string {
  let node: string | undefined;
  for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
    const pkg = packageOf(byId.get(cur)!);
    if (pkg.startsWith("node:")) node ??= pkg;
    else if (!pkg.startsWith("(")) return pkg;
  }
  return node ?? "(none)";
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

const nativeByCaller = new Map<string, number>();
for (const [id, us] of self) {
  if (packageOf(byId.get(id)!) !== "(native)") continue;
  const k = callerPackage(id);
  nativeByCaller.set(k, (nativeByCaller.get(k) ?? 0) + us);
}
process.stdout.write(`\nnative self time (socket writes and the like) by the package that called it:\n`);
for (const [k, us] of [...nativeByCaller].sort((a, b) => b[1] - a[1]).slice(0, 10))
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
