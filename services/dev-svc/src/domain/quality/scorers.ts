import { Ajv, type ValidateFunction } from "ajv";
import type { BaseAssertionType, EvalAssertion, EvalCase } from "@procode/contracts";

/**
 * The gate's scorers (docs/quality-gate.md, "Assertions"): each assertion of a case against the
 * agent's output, on the trusted side, never inside the sandbox. Pure: the judge of `llm-rubric` is
 * asked elsewhere and its verdict handed in.
 */

export interface AssertionResult {
  type: EvalAssertion["type"];
  pass: boolean;
  /** 0..1: 1 or 0 for the yes/no types, the judge's score for llm-rubric. */
  score: number;
  /** Why it failed (empty when it passed). */
  reason: string;
}

/** The agent's answer as text: a string as it is, anything else as its JSON. */
function outputText(output: unknown): string {
  return typeof output === "string" ? output : (JSON.stringify(output) ?? "");
}

const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);
const q = (s: string) => JSON.stringify(clip(s));

/** Edit distance (insertions, deletions, substitutions), on at most the first 5,000 characters of each. */
export function levenshtein(a: string, b: string): number {
  const x = [...a.slice(0, 5000)];
  const y = [...b.slice(0, 5000)];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/** JSON with its object keys sorted, so that two equal values print the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const ajv = new Ajv({ allErrors: false, strict: false });
const schemas = new Map<string, ValidateFunction>();
function validatorOf(schema: object): ValidateFunction {
  const key = canonical(schema);
  let v = schemas.get(key);
  if (!v) {
    v = ajv.compile(schema);
    schemas.set(key, v);
  }
  return v;
}

/** Whether the positive form of a yes/no assertion holds, and if not, why. */
function holds(base: BaseAssertionType, a: EvalAssertion, output: unknown): string | null {
  const text = outputText(output);
  const value = a.value;
  const list = () => value as string[];
  switch (base) {
    case "equals": {
      if (typeof value === "string") return text === value ? null : `expected ${q(value)}, got ${q(text)}`;
      const parsed = typeof output === "string" ? parseJson(output) : { ok: true as const, value: output };
      return parsed.ok && canonical(parsed.value) === canonical(value)
        ? null
        : `expected ${clip(canonical(value))}, got ${q(text)}`;
    }
    case "contains":
      return text.includes(value as string) ? null : `does not contain ${q(value as string)}`;
    case "icontains":
      return text.toLowerCase().includes((value as string).toLowerCase())
        ? null
        : `does not contain ${q(value as string)} (any case)`;
    case "contains-any":
      return list().some((s) => text.includes(s)) ? null : `contains none of ${clip(JSON.stringify(value))}`;
    case "icontains-any": {
      const t = text.toLowerCase();
      return list().some((s) => t.includes(s.toLowerCase()))
        ? null
        : `contains none of ${clip(JSON.stringify(value))} (any case)`;
    }
    case "contains-all": {
      const missing = list().filter((s) => !text.includes(s));
      return missing.length ? `does not contain ${clip(JSON.stringify(missing))}` : null;
    }
    case "icontains-all": {
      const t = text.toLowerCase();
      const missing = list().filter((s) => !t.includes(s.toLowerCase()));
      return missing.length ? `does not contain ${clip(JSON.stringify(missing))} (any case)` : null;
    }
    case "starts-with":
      return text.startsWith(value as string) ? null : `does not start with ${q(value as string)}`;
    case "regex":
      return new RegExp(value as string).test(text) ? null : `does not match /${clip(value as string)}/`;
    case "is-json": {
      const parsed = typeof output === "string" ? parseJson(output) : { ok: true as const, value: output };
      if (!parsed.ok) return `is not JSON: ${q(text)}`;
      if (value === undefined) return null;
      const validate = validatorOf(value as object);
      if (validate(parsed.value)) return null;
      const e = validate.errors?.[0];
      return `does not match the schema: ${e ? `${e.instancePath || "/"} ${e.message ?? ""}`.trim() : "invalid"}`;
    }
    case "levenshtein": {
      const d = levenshtein(text, value as string);
      const max = a.threshold ?? 5;
      return d <= max ? null : `is ${d} edits from ${q(value as string)} (at most ${max})`;
    }
    case "numeric": {
      const n = text.trim() === "" ? NaN : Number(text.trim());
      if (!Number.isFinite(n)) return `is not a number: ${q(text)}`;
      const tolerance = a.threshold ?? 0;
      return Math.abs(n - (value as number)) <= tolerance
        ? null
        : `is ${n}, not ${value as number} ± ${tolerance}`;
    }
    case "llm-rubric":
      throw new Error("llm-rubric is scored with scoreRubric");
  }
}

/** Scores one assertion that needs no judge (every type but llm-rubric). */
export function scoreAssertion(a: EvalAssertion, output: unknown): AssertionResult {
  const negated = a.type.startsWith("not-");
  const base = a.type.replace(/^not-/, "") as BaseAssertionType;
  const why = holds(base, a, output);
  const pass = negated ? why !== null : why === null;
  const reason = pass ? "" : negated ? `${base} holds but must not` : (why ?? "");
  return { type: a.type, pass, score: pass ? 1 : 0, reason };
}

/** What a judge said of an output against a rubric: a score 0..1 and its reason. */
export interface JudgeVerdict {
  score: number;
  reason: string;
}

/**
 * Scores an llm-rubric assertion from the judge's verdict; with no verdict (no judge set, or none
 * answered) it fails: the gate fails closed.
 */
export function scoreRubric(a: EvalAssertion, verdict: JudgeVerdict | null | string): AssertionResult {
  if (verdict === null || typeof verdict === "string") {
    return {
      type: a.type,
      pass: false,
      score: 0,
      reason: `no judge verdict${typeof verdict === "string" ? `: ${verdict}` : ""} (llm-rubric fails closed)`,
    };
  }
  const min = a.threshold ?? 0.5;
  const score = Math.max(0, Math.min(1, verdict.score));
  const pass = score >= min;
  return {
    type: a.type,
    pass,
    score,
    reason: pass ? "" : `judged ${score} < ${min}: ${clip(verdict.reason, 200)}`,
  };
}

/**
 * One run of a case from its assertions' results: with a `threshold`, the weighted mean score must
 * reach it; without one, every assertion must pass.
 */
export function scoreRun(c: Pick<EvalCase, "assert" | "threshold">, results: readonly AssertionResult[]) {
  const weights = c.assert.map((a) => a.weight ?? 1);
  const total = weights.reduce((s, w) => s + w, 0);
  const score = total === 0 ? 1 : results.reduce((s, r, i) => s + r.score * weights[i]!, 0) / total;
  const pass = c.threshold === undefined ? results.every((r) => r.pass) : score >= c.threshold;
  return { pass, score };
}

/** A case over its repeats: it passes when at least `minPass` runs passed (default: all of them). */
export function casePasses(c: Pick<EvalCase, "repeat" | "minPass">, runs: readonly { pass: boolean }[]) {
  const need = c.minPass ?? c.repeat ?? 1;
  return runs.filter((r) => r.pass).length >= need;
}
