import type { JudgeVerdict } from "../domain/quality/scorers.js";

/**
 * The judge of `llm-rubric` assertions (docs/quality-gate.md, "Assertions"): an OpenAI-compatible
 * chat-completions URL set in the app's QUALITY_GATE settings (`judgeUrl`). It is asked for a JSON
 * verdict `{"pass", "score", "reason"}` as promptfoo's grader is. A judge that does not answer, or
 * answers something else, gives a reason instead of a verdict: the assertion fails (fails closed).
 */
export type Judge = (rubric: string, output: unknown, signal: AbortSignal) => Promise<JudgeVerdict | string>;

const SYSTEM = [
  "You grade an output against a rubric.",
  'Answer with one JSON object and nothing else: {"reason": "<why>", "pass": true|false, "score": <0.0 to 1.0>}.',
].join(" ");

export function createJudge(opts: { url: string; model: string; timeoutMs: number }): Judge {
  const endpoint = `${opts.url.replace(/\/+$/, "")}/chat/completions`;
  return async (rubric, output, signal) => {
    const text = typeof output === "string" ? output : JSON.stringify(output);
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: opts.model,
          temperature: 0,
          messages: [
            { role: "system", content: SYSTEM },
            { role: "user", content: `<Output>\n${text}\n</Output>\n<Rubric>\n${rubric}\n</Rubric>` },
          ],
        }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)]),
      });
    } catch (e) {
      return `judge at ${endpoint} did not answer: ${(e as Error).message}`;
    }
    if (!res.ok) return `judge answered ${res.status}`;
    let content: unknown;
    try {
      const body = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
      content = body.choices?.[0]?.message?.content;
    } catch {
      return "judge answered what is not JSON";
    }
    if (typeof content !== "string") return "judge answered no message";
    return readVerdict(content);
  };
}

/** The verdict in a judge's message (a JSON object, possibly in a code fence). */
export function readVerdict(content: string): JudgeVerdict | string {
  const m = /\{[\s\S]*\}/.exec(content);
  if (!m) return "judge's message holds no JSON verdict";
  let v: { pass?: unknown; score?: unknown; reason?: unknown };
  try {
    v = JSON.parse(m[0]) as typeof v;
  } catch {
    return "judge's verdict is not JSON";
  }
  // The score decides against the assertion's threshold; a bare pass/fail counts as 1 or 0.
  const score =
    typeof v.score === "number" && Number.isFinite(v.score)
      ? v.score
      : typeof v.pass === "boolean"
        ? Number(v.pass)
        : null;
  if (score === null) return "judge's verdict has neither a score nor pass";
  return { score, reason: typeof v.reason === "string" ? v.reason : "" };
}
