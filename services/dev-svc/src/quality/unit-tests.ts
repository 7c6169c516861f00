import type { QualityUnitTests } from "@procode/contracts";
import { runSandboxed } from "./sandbox.js";

/**
 * The agent's own unit tests in the sandbox (docs/quality-gate.md, "Rules"): Python's unittest
 * discovery over `tests/` with the tree read-only at `/app`. No `tests/` directory is no test (ran
 * 0), not an error.
 */
export async function runUnitTests(opts: {
  tree: string;
  hasTests: boolean;
  timeoutMs: number;
}): Promise<QualityUnitTests & { durationMs: number }> {
  if (!opts.hasTests) return { ran: 0, failed: 0, error: null, output: "no tests/ directory", durationMs: 0 };
  const r = await runSandboxed({
    tree: opts.tree,
    command: ["/usr/bin/python3", "-B", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
    timeoutMs: opts.timeoutMs,
    maxOutputBytes: 64 * 1024,
  });
  const output = `${r.stdout}${r.stderr}`.slice(-4000);
  return { ...readUnittest(r.stderr, r.code, r.timedOut, opts.timeoutMs), output, durationMs: r.durationMs };
}

/** What unittest's summary says: `Ran 8 tests in 0.01s` then `OK` or `FAILED (failures=1, errors=2)`. */
export function readUnittest(
  text: string,
  code: number | null,
  timedOut: boolean,
  timeoutMs: number,
): Omit<QualityUnitTests, "output"> {
  if (timedOut) return { ran: 0, failed: 0, error: `the tests did not finish within ${timeoutMs} ms` };
  const ran = /^Ran (\d+) tests? in /m.exec(text);
  if (!ran) {
    const last = text.trim().split("\n").slice(-3).join(" / ");
    return {
      ran: 0,
      failed: 0,
      error: `the test runner ended (code ${code}) without a summary: ${last.slice(0, 500)}`,
    };
  }
  const n = Number(ran[1]);
  const failed = /^FAILED \(([^)]*)\)/m.exec(text);
  if (failed) {
    const count = (what: string) => Number(new RegExp(`${what}=(\\d+)`).exec(failed[1]!)?.[1] ?? 0);
    return {
      ran: n,
      failed: count("failures") + count("errors") + count("unexpected successes"),
      error: null,
    };
  }
  if (code !== 0 && !/^NO TESTS RAN/m.test(text))
    return { ran: n, failed: 0, error: `the test runner ended with code ${code}` };
  return { ran: n, failed: 0, error: null };
}
