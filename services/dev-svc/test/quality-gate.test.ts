import { describe, expect, it } from "vitest";
import { DEFAULT_GATE_SETTINGS, type EvalAssertion } from "@procode/contracts";
import { loadEvalSet } from "../src/domain/quality/case-files.js";
import {
  casePasses,
  levenshtein,
  scoreAssertion,
  scoreRubric,
  scoreRun,
} from "../src/domain/quality/scorers.js";
import { decideGate, wilson, type CaseOutcome } from "../src/domain/quality/verdict.js";
import { canonicalJson, clipOutput, percentile } from "../src/domain/quality/report.js";
import { readVerdict } from "../src/quality/judge.js";
import { caseKey } from "../src/quality/cases.js";
import { moduleOf } from "../src/quality/quality-gate.runner.js";
import { readUnittest } from "../src/quality/unit-tests.js";

describe("scorers", () => {
  type Case = [EvalAssertion["type"], unknown, unknown, boolean, number?];
  const cases: Case[] = [
    ["equals", "Hello", "Hello", true],
    ["equals", "Hello", "hello", false],
    ["equals", { a: 1, b: [1, 2] }, '{"b":[1,2],"a":1}', true],
    ["equals", { a: 1 }, { a: 1 }, true],
    ["equals", { a: 1 }, '{"a":2}', false],
    ["equals", { a: 1 }, "not json", false],
    ["not-equals", "Hello", "Bye", true],
    ["contains", "Paris", "The capital is Paris.", true],
    ["contains", "paris", "The capital is Paris.", false],
    ["icontains", "paris", "The capital is Paris.", true],
    ["not-contains", "sorry", "Sure, here it is", true],
    ["not-contains", "sorry", "I am sorry", false],
    ["contains-any", ["hi", "hello"], "hello there", true],
    ["contains-any", ["hi", "hey"], "hello there", false],
    ["icontains-any", ["HELLO"], "hello there", true],
    ["contains-all", ["hello", "there"], "hello there", true],
    ["contains-all", ["hello", "you"], "hello there", false],
    ["icontains-all", ["HELLO", "THERE"], "hello there", true],
    ["not-contains-all", ["hello", "you"], "hello there", true],
    ["starts-with", "Hello", "Hello there", true],
    ["starts-with", "there", "Hello there", false],
    ["regex", "^\\d{3}-\\d{4}$", "555-1234", true],
    ["regex", "^\\d{3}$", "5555", false],
    ["not-regex", "error", "all good", true],
    ["is-json", undefined, '{"ok":true}', true],
    ["is-json", undefined, "{ok}", false],
    ["is-json", { type: "object", required: ["answer"] }, '{"answer":4}', true],
    ["is-json", { type: "object", required: ["answer"] }, '{"reply":4}', false],
    ["is-json", { type: "object" }, { answer: 4 }, true],
    ["not-is-json", undefined, "plain text", true],
    ["levenshtein", "kitten", "sitting", true],
    ["numeric", 42, "42", true],
    ["numeric", 42, " 42.0 ", true],
    ["numeric", 42, "41", false],
    ["numeric", 42, "forty-two", false],
  ];
  it.each(cases)("%s %j on %j: %s", (type, value, output, pass) => {
    const r = scoreAssertion({ type, value }, output);
    expect(r.pass).toBe(pass);
    expect(r.score).toBe(pass ? 1 : 0);
    if (!pass) expect(r.reason).not.toBe("");
  });

  it("uses threshold as levenshtein's largest distance and numeric's tolerance", () => {
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(scoreAssertion({ type: "levenshtein", value: "kitten", threshold: 2 }, "sitting").reason).toBe(
      'is 3 edits from "kitten" (at most 2)',
    );
    expect(scoreAssertion({ type: "numeric", value: 42, threshold: 0.5 }, "42.4").pass).toBe(true);
    expect(scoreAssertion({ type: "numeric", value: 42, threshold: 0.5 }, "42.6").pass).toBe(false);
  });

  it("names what is missing", () => {
    expect(scoreAssertion({ type: "contains-all", value: ["a", "b", "c"] }, "a").reason).toBe(
      'does not contain ["b","c"]',
    );
    expect(scoreAssertion({ type: "is-json", value: { type: "object", required: ["x"] } }, "{}").reason).toBe(
      "does not match the schema: / must have required property 'x'",
    );
  });

  it("fails llm-rubric closed without a verdict, and passes it from the judge's score", () => {
    const rubric: EvalAssertion = { type: "llm-rubric", value: "is polite" };
    expect(scoreRubric(rubric, null)).toMatchObject({ pass: false, score: 0 });
    expect(scoreRubric(rubric, "judge answered 503").reason).toBe(
      "no judge verdict: judge answered 503 (llm-rubric fails closed)",
    );
    expect(scoreRubric(rubric, { score: 0.9, reason: "polite" })).toMatchObject({ pass: true, score: 0.9 });
    expect(scoreRubric({ ...rubric, threshold: 0.95 }, { score: 0.9, reason: "curt" })).toMatchObject({
      pass: false,
      reason: "judged 0.9 < 0.95: curt",
    });
  });

  it("scores a run by every assertion, or by the weighted score against the case's threshold", () => {
    const assert: EvalAssertion[] = [
      { type: "contains", value: "a", weight: 3 },
      { type: "contains", value: "b", weight: 1 },
    ];
    const results = [scoreAssertion(assert[0]!, "a"), scoreAssertion(assert[1]!, "a")];
    expect(scoreRun({ assert }, results)).toEqual({ pass: false, score: 0.75 });
    expect(scoreRun({ assert, threshold: 0.7 }, results)).toEqual({ pass: true, score: 0.75 });
    expect(scoreRun({ assert, threshold: 0.8 }, results).pass).toBe(false);
  });

  it("passes a repeated case when minPass runs pass (default: all)", () => {
    const runs = [{ pass: true }, { pass: false }, { pass: true }];
    expect(casePasses({ repeat: 3 }, runs)).toBe(false);
    expect(casePasses({ repeat: 3, minPass: 2 }, runs)).toBe(true);
    expect(casePasses({}, [{ pass: true }])).toBe(true);
  });
});

describe("case files", () => {
  const file = (path: string, ...lines: unknown[]) => ({
    path,
    text: lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"),
  });
  const greet = { id: "greet", input: "hi", assert: [{ type: "icontains", value: "hello" }], tags: ["core"] };

  it("reads cases in file order, skipping blank and // lines, and the gate file's settings", () => {
    const set = loadEvalSet(
      [file("evals/b.jsonl", { ...greet, id: "b1" }), file("evals/a.jsonl", "// greetings", "", greet)],
      '{"minPassRate": 0.9}',
    );
    expect(set).toMatchObject({ ok: true, settings: { minPassRate: 0.9 } });
    expect(set.ok && set.cases.map((c) => [c.id, c.source])).toEqual([
      ["greet", "evals/a.jsonl:3"],
      ["b1", "evals/b.jsonl:1"],
    ]);
  });

  it("is a configuration error with the file, the line and the field", () => {
    const set = loadEvalSet(
      [
        file(
          "evals/a.jsonl",
          greet,
          greet,
          "{not json",
          { id: "x", input: 1, assert: [{ type: "contains" }] },
          { id: "y", input: 1, assert: [{ type: "regex", value: "(" }] },
          { id: "z", input: 1, assert: [{ type: "similar", value: "a" }] },
          { id: "r", input: 1, assert: [{ type: "contains", value: "a" }], repeat: 2, minPass: 3 },
        ),
      ],
      '{"minPassRate": 2, "colour": "red"}',
    );
    expect(set.ok).toBe(false);
    const errors = set.ok ? [] : set.errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^evals\/gate\.json: minPassRate: /),
        expect.stringMatching(/^evals\/gate\.json: .*colour/),
        "evals/a.jsonl:2: id greet is used again (first at evals/a.jsonl:1)",
        expect.stringMatching(/^evals\/a\.jsonl:3: not JSON/),
        "evals/a.jsonl:4: assert.0.value: contains needs a text",
        expect.stringMatching(/^evals\/a\.jsonl:5: assert\.0\.value: regex: /),
        expect.stringMatching(/^evals\/a\.jsonl:6: assert\.0\.type: /),
        "evals/a.jsonl:7: minPass: minPass cannot exceed repeat",
      ]),
    );
  });

  it("needs at least one case file with one case", () => {
    expect(loadEvalSet([], null)).toEqual({ ok: false, errors: ["evals/: no *.jsonl case file"] });
    expect(loadEvalSet([file("evals/a.jsonl", "")], null)).toEqual({
      ok: false,
      errors: ["evals/: the case files hold no case"],
    });
  });
});

describe("the verdict", () => {
  const c = (id: string, pass: boolean, tags: string[] = [], errored = false): CaseOutcome => ({
    key: `${id}#1`,
    id,
    tags,
    pass,
    errored,
  });
  const ok = { ran: 8, failed: 0, error: null };
  const settings = { ...DEFAULT_GATE_SETTINGS, minPassRate: 0.5 };

  it("computes the Wilson interval", () => {
    expect(wilson(8, 10)).toEqual({ low: 0.4902, high: 0.9433 });
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
    expect(wilson(10, 10).high).toBe(1);
  });

  it("passes when every rule holds, and counts per tag", () => {
    const v = decideGate({
      settings,
      cases: [c("a", true, ["core"]), c("b", false, ["extra"])],
      unitTests: ok,
      baseline: null,
    });
    expect(v).toMatchObject({ pass: true, reasons: [], passed: 1, total: 2, passRate: 0.5 });
    expect(v.byTag).toEqual({ core: { passed: 1, total: 1 }, extra: { passed: 0, total: 1 } });
  });

  it("blocks on a failed unit test, an errored case, a low pass rate and a failed required case", () => {
    const v = decideGate({
      settings: { ...settings, minPassRate: 0.9, requiredTags: ["core"] },
      cases: [c("a", false, ["core"]), c("b", true), c("c", false, [], true)],
      unitTests: { ran: 8, failed: 1, error: null },
      baseline: null,
    });
    expect(v.pass).toBe(false);
    expect(v.reasons).toEqual([
      "1 of 8 unit tests failed",
      "1 case(s) errored (the agent gave no answer): c",
      "pass rate 33.3% (1/3) is below 90.0%",
      "required tag core: 1 case(s) failed: a",
    ]);
  });

  it("lists exactly the cases that newly fail against the last released version, and blocks on them", () => {
    const baseline = {
      tag: "v1.0.0",
      passRate: 0.75,
      cases: [
        { key: "a#1", id: "a", pass: true },
        { key: "b#1", id: "b", pass: true },
        { key: "c#1", id: "c", pass: false },
        { key: "gone#1", id: "gone", pass: true },
      ],
    };
    const v = decideGate({
      settings,
      cases: [c("a", true), c("b", false), c("c", true)],
      unitTests: ok,
      baseline,
    });
    expect(v).toMatchObject({
      newlyFailing: ["b"],
      newlyPassing: ["c"],
      missing: ["gone"],
      baselineTag: "v1.0.0",
    });
    expect(v.reasons).toEqual([
      "1 case(s) passed in v1.0.0 and fail now (at most 0): b",
      "pass rate fell from 75.0% in v1.0.0 to 66.7% (at most 0.0% lower)",
    ]);
    const tolerant = decideGate({
      settings: { ...settings, maxNewlyFailing: 1, maxPassRateDrop: 0.1 },
      cases: [c("a", true), c("b", false), c("c", true)],
      unitTests: ok,
      baseline,
    });
    expect(tolerant.pass).toBe(true);
  });
});

describe("report figures", () => {
  it("takes nearest-rank percentiles", () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([5], 95)).toBe(5);
    const ms = [10, 1, 7, 3, 9, 2, 8, 4, 6, 5];
    expect([percentile(ms, 50), percentile(ms, 95), percentile(ms, 100)]).toEqual([5, 10, 10]);
  });

  it("keys a case by its id and a digest of its input and assertions, whatever their key order", () => {
    const a = { id: "x", input: { q: 1, r: 2 }, assert: [{ type: "contains" as const, value: "a" }] };
    expect(caseKey(a)).toBe(caseKey({ ...a, input: { r: 2, q: 1 } }));
    expect(caseKey(a)).toMatch(/^x#[0-9a-f]{16}$/);
    expect(caseKey(a)).not.toBe(caseKey({ ...a, input: { q: 1, r: 3 } }));
    expect(caseKey(a)).not.toBe(caseKey({ ...a, assert: [{ type: "contains", value: "b" }] }));
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: undefined })).toBe('{"b":[1,{"c":2,"d":1}]}');
  });

  it("cuts long outputs", () => {
    expect(clipOutput("x".repeat(5000))).toHaveLength(4097);
    expect(clipOutput({ a: 1 })).toEqual({ a: 1 });
    expect(clipOutput("short")).toBe("short");
  });

  it("runs the entry point as a module", () => {
    expect(moduleOf("app/main.py")).toBe("app.main");
    expect(moduleOf("src/agent/__main__.py")).toBe("src.agent");
    expect(moduleOf("main.py")).toBe("main");
  });
});

describe("unit test summaries", () => {
  it.each([
    ["....\n---\nRan 4 tests in 0.01s\n\nOK\n", 0, { ran: 4, failed: 0, error: null }],
    ["Ran 10 tests in 1.2s\n\nFAILED (failures=1)\n", 1, { ran: 10, failed: 1, error: null }],
    [
      "Ran 10 tests in 1.2s\n\nFAILED (failures=2, errors=1, skipped=3)\n",
      1,
      { ran: 10, failed: 3, error: null },
    ],
    ["\nRan 0 tests in 0.000s\n\nNO TESTS RAN\n", 5, { ran: 0, failed: 0, error: null }],
    [
      "Traceback...\nImportError: Start directory is not importable: 'tests'\n",
      1,
      {
        ran: 0,
        failed: 0,
        error:
          "the test runner ended (code 1) without a summary: Traceback... / ImportError: Start directory is not importable: 'tests'",
      },
    ],
  ] as const)("%j (code %d)", (text, code, expected) => {
    expect(readUnittest(text, code, false, 1000)).toEqual(expected);
  });

  it("says the tests ran out of time", () => {
    expect(readUnittest("", null, true, 5000).error).toBe("the tests did not finish within 5000 ms");
  });
});

describe("judge verdicts", () => {
  it.each([
    ['{"reason": "fine", "pass": true, "score": 0.8}', { score: 0.8, reason: "fine" }],
    ['```json\n{"pass": false, "reason": "rude"}\n```', { score: 0, reason: "rude" }],
    ['{"pass": true}', { score: 1, reason: "" }],
    ["I think it is fine", "judge's message holds no JSON verdict"],
    ['{"reason": "no score"}', "judge's verdict has neither a score nor pass"],
    ["{not json}", "judge's verdict is not JSON"],
  ] as const)("%s", (content, expected) => {
    expect(readVerdict(content)).toEqual(expected);
  });
});
