/**
 * Summarises on-CPU samples of the whole machine taken with Linux `perf` during a bench run: for each
 * process, its share of all samples and what it was doing (V8's optimizing compiler, the garbage
 * collector, the kernel, optimized JavaScript, the interpreter's and inline caches' builtins, JSON,
 * libc, the rest of the runtime). A V8 CPU profile (`--cpu-prof`, `profile-summary`) samples on the
 * wall clock and counts time spent off the CPU inside a system call as busy; these samples are taken
 * only while a CPU runs the process (docs/performance.md, "Round 2, seventh pass").
 *
 *   perf record -a -e cpu-clock -F 499 -g -o /tmp/perf.data -- sleep 14   # while the bench measures
 *   pnpm --filter @procode/bench perf-summary /tmp/perf.data [--names engine=1234,ops-gateway=1240]
 *
 * `pipelines` prints its processes' ids ("processes: engine 1234, ..."); `--names` takes them so the
 * table names the services. `perf` must be on the PATH.
 */
import { spawn } from "node:child_process";
import readline from "node:readline";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { names: { type: "string", default: "" }, min: { type: "string", default: "0.5" } },
});
const file = positionals[0];
if (!file) throw new Error("usage: perf-summary <perf.data> [--names name=pid,...] [--min percent]");
const names = new Map(
  values.names
    .split(",")
    .filter(Boolean)
    .map((pair) => {
      const [name, pid] = pair.split("=");
      if (!name || !pid || !/^\d+$/.test(pid)) throw new Error(`--names: "${pair}" is not name=pid`);
      return [pid, name] as const;
    }),
);

/** What a sample was running, from its symbol and the object it is in; the first match wins. */
const CATEGORIES: [string, (sym: string, dso: string) => boolean][] = [
  ["kernel", (_s, dso) => dso === "[kernel.kallsyms]"],
  [
    "V8 optimizing compiler",
    (s) =>
      /v8::internal::(compiler|maglev|turboshaft|Zone\b|Compiler::)|Builtins_CompileLazy|BytecodeGenerator|v8::internal::Parser/.test(
        s,
      ),
  ],
  [
    "garbage collector",
    (s) =>
      /Scaveng|MarkCompact|ConcurrentMarking|MarkingVisitor|IncrementalMarking|Sweeper|Evacuat|v8::internal::Heap::|MemoryChunk|FreeList|RememberedSet/.test(
        s,
      ),
  ],
  ["JSON", (s) => /JsonParser|JsonStringifier/.test(s)],
  ["optimized JavaScript", (_s, dso) => dso.startsWith("[JIT]") || dso.startsWith("/tmp/perf-")],
  ["builtins (interpreter, inline caches)", (s) => s.startsWith("Builtins_")],
  ["libc and allocator", (_s, dso) => /\/lib(c|stdc\+\+|m|pthread)[.-]/.test(dso)],
];
const OTHER = "the rest (runtime, native code)";

// One line per sample: "  comm  pid/tid  ip symbol (dso)".
const LINE = /^\s*(.+?)\s+(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/;
interface Counts {
  samples: number;
  by: Map<string, number>;
}
const byPid = new Map<string, Counts & { comm: string }>();
let total = 0;

const perf = spawn("perf", ["script", "-i", file, "-F", "comm,pid,tid,ip,sym,dso", "-G"], {
  stdio: ["ignore", "pipe", "inherit"],
});
for await (const line of readline.createInterface({ input: perf.stdout })) {
  const m = LINE.exec(line);
  if (!m) continue;
  const [, comm, pid, tid, sym, dso] = m as unknown as [string, string, string, string, string, string];
  const category = CATEGORIES.find(([, test]) => test(sym, dso))?.[0] ?? OTHER;
  let p = byPid.get(pid);
  if (!p) byPid.set(pid, (p = { comm, samples: 0, by: new Map() }));
  // A thread may carry its own name: the process's is its main thread's.
  if (tid === pid) p.comm = comm;
  p.samples++;
  p.by.set(category, (p.by.get(category) ?? 0) + 1);
  total++;
}
const code = await new Promise<number | null>((resolve) => perf.once("close", resolve));
if (code !== 0) throw new Error(`perf script exited with ${code}`);
if (total === 0) throw new Error(`no samples in ${file}`);

/**
 * A named process has its own row, and so has each unnamed Node.js process; other processes are
 * grouped by their command (PostgreSQL's backends in one row).
 */
function rowOf(pid: string, comm: string): string {
  if (pid === "0") return "(idle)";
  const name = names.get(pid);
  if (name) return `${name} ${pid}`;
  return comm === "node" ? `node ${pid}` : comm;
}
const rows = new Map<string, Counts & { processes: number }>();
for (const [pid, p] of byPid) {
  const key = rowOf(pid, p.comm);
  let row = rows.get(key);
  if (!row) rows.set(key, (row = { samples: 0, by: new Map(), processes: 0 }));
  row.samples += p.samples;
  row.processes++;
  for (const [c, n] of p.by) row.by.set(c, (row.by.get(c) ?? 0) + n);
}

const pct = (n: number, of: number) => `${((n / of) * 100).toFixed(1)}%`;
const min = Number(values.min);
const shown = [...rows.entries()]
  .filter(([, r]) => (r.samples / total) * 100 >= min)
  .sort((a, b) => b[1].samples - a[1].samples);
const columns = [...CATEGORIES.map(([name]) => name), OTHER];
process.stdout.write(`${file}: ${total} samples\n\n`);
process.stdout.write(`| process | share of all samples | ${columns.join(" | ")} |\n`);
process.stdout.write(`|---|---|${columns.map(() => "---|").join("")}\n`);
for (const [key, r] of shown) {
  const name = r.processes > 1 ? `${key} (${r.processes} processes)` : key;
  const cells = columns.map((c) => pct(r.by.get(c) ?? 0, r.samples));
  process.stdout.write(`| ${name} | ${pct(r.samples, total)} | ${cells.join(" | ")} |\n`);
}
process.stdout.write(
  `\nEach category is a share of that row's own samples; rows under ${min}% of all samples are left out (--min).\n`,
);
