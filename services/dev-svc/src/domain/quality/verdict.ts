import type { GateSettings } from "@procode/contracts";

/**
 * The gate's verdict (docs/quality-gate.md, "Rules"): the run of this release against its rules and
 * against the report of the app's last RELEASED version (never the latest run, which may be a
 * blocked one). Pure.
 */

/** One case of a run, as the verdict and the report need it. */
export interface CaseOutcome {
  /** The case's id and a digest of its input and assertions: a case that changed is another case. */
  key: string;
  id: string;
  tags: readonly string[];
  pass: boolean;
  /** The agent did not answer, or answered something that is not `{"output": ...}`. */
  errored: boolean;
}

export interface UnitTestOutcome {
  ran: number;
  failed: number;
  /** The tests could not run at all (no tests found is not an error: ran 0). */
  error: string | null;
}

export interface Baseline {
  /** The version (tag) whose report this is. */
  tag: string;
  passRate: number;
  cases: readonly Pick<CaseOutcome, "key" | "id" | "pass">[];
}

export interface GateVerdict {
  pass: boolean;
  /** Why it is blocked, one line each (empty when it passes). */
  reasons: string[];
  passed: number;
  total: number;
  passRate: number;
  /** 95% Wilson score interval of the pass rate. */
  interval: { low: number; high: number };
  byTag: Record<string, { passed: number; total: number }>;
  /** Against the baseline: ids of cases that passed there and fail now, the reverse, and those gone. */
  newlyFailing: string[];
  newlyPassing: string[];
  missing: string[];
  baselineTag: string | null;
}

/** The Wilson score interval of `passed` successes in `n` trials (z = 1.96: 95%). */
export function wilson(passed: number, n: number, z = 1.96): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = passed / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const denom = 1 + z2 / n;
  const round = (x: number) => Math.round(x * 10000) / 10000;
  return {
    low: round(Math.max(0, (centre - margin) / denom)),
    high: round(Math.min(1, (centre + margin) / denom)),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function decideGate(input: {
  settings: GateSettings;
  cases: readonly CaseOutcome[];
  unitTests: UnitTestOutcome;
  baseline: Baseline | null;
}): GateVerdict {
  const { settings, cases, unitTests, baseline } = input;
  const reasons: string[] = [];
  if (unitTests.error) reasons.push(`unit tests could not run: ${unitTests.error}`);
  else if (unitTests.failed > 0) reasons.push(`${unitTests.failed} of ${unitTests.ran} unit tests failed`);

  const total = cases.length;
  const passed = cases.filter((c) => c.pass).length;
  const passRate = total === 0 ? 1 : passed / total;
  const errored = cases.filter((c) => c.errored);
  if (errored.length) {
    reasons.push(
      `${errored.length} case(s) errored (the agent gave no answer): ${errored
        .slice(0, 5)
        .map((c) => c.id)
        .join(", ")}`,
    );
  }
  if (passRate < settings.minPassRate) {
    reasons.push(`pass rate ${pct(passRate)} (${passed}/${total}) is below ${pct(settings.minPassRate)}`);
  }

  const byTag: GateVerdict["byTag"] = {};
  for (const c of cases) {
    for (const t of c.tags) {
      const e = (byTag[t] ??= { passed: 0, total: 0 });
      e.total++;
      if (c.pass) e.passed++;
    }
  }
  for (const tag of settings.requiredTags) {
    const failing = cases.filter((c) => c.tags.includes(tag) && !c.pass).map((c) => c.id);
    if (failing.length)
      reasons.push(`required tag ${tag}: ${failing.length} case(s) failed: ${failing.join(", ")}`);
  }

  const now = new Map(cases.map((c) => [c.key, c]));
  const newlyFailing: string[] = [];
  const newlyPassing: string[] = [];
  const missing: string[] = [];
  if (baseline) {
    for (const b of baseline.cases) {
      const c = now.get(b.key);
      if (!c) missing.push(b.id);
      else if (b.pass && !c.pass) newlyFailing.push(c.id);
      else if (!b.pass && c.pass) newlyPassing.push(c.id);
    }
    if (newlyFailing.length > settings.maxNewlyFailing) {
      reasons.push(
        `${newlyFailing.length} case(s) passed in ${baseline.tag} and fail now (at most ${settings.maxNewlyFailing}): ${newlyFailing.join(", ")}`,
      );
    }
    const drop = baseline.passRate - passRate;
    if (drop > settings.maxPassRateDrop + 1e-9) {
      reasons.push(
        `pass rate fell from ${pct(baseline.passRate)} in ${baseline.tag} to ${pct(passRate)} (at most ${pct(settings.maxPassRateDrop)} lower)`,
      );
    }
  }
  return {
    pass: reasons.length === 0,
    reasons,
    passed,
    total,
    passRate,
    interval: wilson(passed, total),
    byTag,
    newlyFailing,
    newlyPassing,
    missing,
    baselineTag: baseline?.tag ?? null,
  };
}
