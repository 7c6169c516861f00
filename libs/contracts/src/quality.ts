import { z } from "zod";
import { DateTime } from "./envelope.js";

/**
 * The agent quality gate's case files and settings (docs/quality-gate.md): what a repository keeps
 * in `evals/*.jsonl` (one case per line) and `evals/gate.json`. The assertion vocabulary is
 * promptfoo's, so the same cases run locally with promptfoo; `numeric` is the gate's own.
 */

/** The assertion types the gate scores. Every one but `llm-rubric` and `numeric` may take `not-`. */
export const ASSERTION_TYPES = [
  "equals",
  "contains",
  "icontains",
  "contains-any",
  "contains-all",
  "icontains-any",
  "icontains-all",
  "starts-with",
  "regex",
  "is-json",
  "levenshtein",
  "numeric",
  "llm-rubric",
] as const;
export type BaseAssertionType = (typeof ASSERTION_TYPES)[number];
const NEGATABLE = ASSERTION_TYPES.filter((t) => t !== "llm-rubric" && t !== "numeric");

export const AssertionType = z.enum([...ASSERTION_TYPES, ...NEGATABLE.map((t) => `not-${t}` as const)]);
export type AssertionType = z.infer<typeof AssertionType>;

export const EvalAssertion = z
  .object({
    type: AssertionType,
    /** What the type compares with: text, a list of texts, a JSON Schema (is-json), a number, a rubric. */
    value: z.unknown().optional(),
    /** How much this assertion counts in the case's score (default 1). */
    weight: z.number().min(0).max(1000).optional(),
    /** levenshtein: the largest distance that passes (default 5); numeric: the tolerance (default 0); llm-rubric: the lowest score that passes (default 0.5). */
    threshold: z.number().min(0).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const base = a.type.replace(/^not-/, "") as BaseAssertionType;
    const need = (ok: boolean, what: string) => {
      if (!ok) ctx.addIssue({ code: "custom", path: ["value"], message: `${a.type} needs ${what}` });
    };
    const isText = (v: unknown) => typeof v === "string" && v.length <= 100_000;
    const isTexts = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isText);
    switch (base) {
      case "contains-any":
      case "contains-all":
      case "icontains-any":
      case "icontains-all":
        return need(isTexts(a.value), "a non-empty list of texts");
      case "is-json":
        return need(
          a.value === undefined ||
            (typeof a.value === "object" && a.value !== null && !Array.isArray(a.value)),
          "no value or a JSON Schema object",
        );
      case "numeric":
        return need(typeof a.value === "number" && Number.isFinite(a.value), "a number");
      case "regex":
        if (!isText(a.value)) return need(false, "a regular expression");
        try {
          new RegExp(a.value as string);
        } catch (e) {
          ctx.addIssue({ code: "custom", path: ["value"], message: `regex: ${(e as Error).message}` });
        }
        return;
      case "equals":
        return need(a.value !== undefined, "a value");
      default:
        return need(isText(a.value), "a text");
    }
  });
export type EvalAssertion = z.infer<typeof EvalAssertion>;

export const CaseId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "letters, digits and . _ : / -, starting with a letter or digit");

export const EvalCase = z
  .object({
    id: CaseId,
    /** Sent to the agent as `{"input": ...}`. */
    input: z.unknown().refine((v) => v !== undefined, "input is required"),
    assert: z.array(EvalAssertion).min(1).max(50),
    /** The case passes when its weighted score reaches this (default: every assertion passes). */
    threshold: z.number().min(0).max(1).optional(),
    tags: z.array(z.string().min(1).max(50)).max(20).optional(),
    /** Asked this many times (default 1); it passes when at least `minPass` of them pass (default all). */
    repeat: z.number().int().min(1).max(10).optional(),
    minPass: z.number().int().min(1).max(10).optional(),
  })
  .strict()
  .refine((c) => c.minPass === undefined || c.minPass <= (c.repeat ?? 1), {
    message: "minPass cannot exceed repeat",
    path: ["minPass"],
  });
export type EvalCase = z.infer<typeof EvalCase>;

/** The gate's rules: the app's stage settings, overridden field by field by `evals/gate.json`. */
export const GateSettings = z
  .object({
    /** The lowest share of cases that must pass (0..1). */
    minPassRate: z.number().min(0).max(1),
    /** Cases with one of these tags must all pass. */
    requiredTags: z.array(z.string().min(1).max(50)).max(20),
    /** How many cases that passed in the last released version may fail now. */
    maxNewlyFailing: z.number().int().min(0),
    /** How far the pass rate may fall below the last released version's (0..1). */
    maxPassRateDrop: z.number().min(0).max(1),
    /** How long one `/invoke` may take. */
    caseTimeoutMs: z.number().int().min(100).max(600_000),
    /** How many cases are asked at once. */
    concurrency: z.number().int().min(1).max(32),
    /** How long the agent's unit tests may take. */
    testTimeoutMs: z.number().int().min(1000).max(3_600_000),
    /** How long the agent may take to answer its first `GET /healthz` once started. */
    startTimeoutMs: z.number().int().min(1000).max(600_000),
  })
  .strict();
export type GateSettings = z.infer<typeof GateSettings>;

export const DEFAULT_GATE_SETTINGS: GateSettings = {
  minPassRate: 1,
  requiredTags: [],
  maxNewlyFailing: 0,
  maxPassRateDrop: 0,
  caseTimeoutMs: 30_000,
  concurrency: 4,
  testTimeoutMs: 300_000,
  startTimeoutMs: 30_000,
};

/** `evals/gate.json`: any of the settings. */
export const GateFile = GateSettings.partial().strict();
export type GateFile = z.infer<typeof GateFile>;

/**
 * A gate report as `GET /apps/{id}/quality` and `GET /apps/{id}/quality/{reportId}` show it
 * (docs/quality-gate.md, "Reports"). WAIVED is a BLOCK a person let through with a reason.
 */
export const QualityVerdict = z.enum(["PASS", "BLOCK", "CONFIGURATION_ERROR", "WAIVED"]).meta({
  id: "QualityVerdict",
  description: "The gate's verdict; WAIVED: blocked, then let through by a person",
});
export type QualityVerdict = z.infer<typeof QualityVerdict>;

export const QualityUnitTests = z
  .object({
    ran: z.number().int(),
    failed: z.number().int(),
    /** Why they could not run at all; null when they ran. */
    error: z.string().nullable(),
    /** What the test runner printed last (cut), to read a failure. */
    output: z.string().optional(),
  })
  .meta({ id: "QualityUnitTests" });
export type QualityUnitTests = z.infer<typeof QualityUnitTests>;

export const QualityWaiver = z
  .object({ by: z.string(), reason: z.string(), at: DateTime })
  .meta({ id: "QualityWaiver" });
export type QualityWaiver = z.infer<typeof QualityWaiver>;

/** One case of a report: what was sent, what came back, and the assertion that failed. */
export const QualityCase = z
  .object({
    id: z.string(),
    tags: z.array(z.string()),
    input: z.unknown(),
    /** The agent's last answer (cut at 4 KiB when long); null when it gave none. */
    output: z.unknown(),
    pass: z.boolean(),
    /** The agent gave no answer, or not `{"output": ...}`. */
    errored: z.boolean(),
    /** Weighted score of the last run, 0..1. */
    score: z.number(),
    /** Runs that passed of the runs made (repeat). */
    runsPassed: z.number().int(),
    runs: z.number().int(),
    /** The failing assertions of the last failing run: type and why. */
    failed: z.array(z.object({ type: z.string(), reason: z.string() })),
    /** Why the agent gave no answer, when it errored. */
    error: z.string().nullable(),
  })
  .meta({ id: "QualityCase" });
export type QualityCase = z.infer<typeof QualityCase>;

const QualityReportBase = z.object({
  id: z.number().int(),
  appId: z.number().int(),
  pipelineId: z.number().int(),
  attempt: z.number().int(),
  iterationPhaseId: z.number().int().nullable(),
  tag: z.string(),
  commitId: z.string().nullable(),
  verdict: QualityVerdict,
  /** Cases that passed over cases asked (1 when there is none). */
  passRate: z.number(),
  /** 95% Wilson score interval of the pass rate. */
  interval: z.object({ low: z.number(), high: z.number() }),
  passed: z.number().int(),
  total: z.number().int(),
  unitTests: QualityUnitTests.nullable(),
  /** Where the agent ran: "sandbox" (bubblewrap on dev-svc's machine). */
  executor: z.string(),
  /** The last released version's report this one was compared with; null for the first. */
  baseline: z.object({ reportId: z.number().int(), tag: z.string() }).nullable(),
  waiver: QualityWaiver.nullable(),
  durationMs: z.number().int(),
  createdAt: DateTime,
});

export const QualityReportItem = QualityReportBase.extend({
  newlyFailingCount: z.number().int(),
}).meta({ id: "QualityReportItem", description: "One gate run in an app's quality history" });
export type QualityReportItem = z.infer<typeof QualityReportItem>;

export const QualityReport = QualityReportBase.extend({
  /** Why it is blocked, one line per broken rule. */
  reasons: z.array(z.string()),
  /** CONFIGURATION_ERROR: what is wrong with the case set, `file:line: field: problem`. */
  problems: z.array(z.string()),
  byTag: z.record(z.string(), z.object({ passed: z.number().int(), total: z.number().int() })),
  newlyFailing: z.array(QualityCase),
  newlyPassing: z.array(QualityCase),
  /** Cases of the baseline no longer in the set (their baseline input and output). */
  missing: z.array(QualityCase),
  /** Every case that fails now. */
  failing: z.array(QualityCase),
  /** `POST /invoke` latency over every call, ms. */
  latency: z.object({ p50Ms: z.number(), p95Ms: z.number(), calls: z.number().int() }),
  settings: GateSettings.nullable(),
}).meta({ id: "QualityReport", description: "One gate run with its cases" });
export type QualityReport = z.infer<typeof QualityReport>;

export const QualityReportParams = z.object({
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).meta({ description: "The app's id" }),
  reportId: z.coerce
    .number()
    .int()
    .positive()
    .max(Number.MAX_SAFE_INTEGER)
    .meta({ description: "The report's id" }),
});
