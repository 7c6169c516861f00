import { errorMessage, guardedRequest, type UrlPolicy } from "@procode/service-kit";
import type { JudgeVerdict } from "../domain/quality/scorers.js";

/**
 * The judge of `llm-rubric` assertions (docs/quality-gate.md, "Assertions"): an OpenAI-compatible
 * chat-completions URL set in the app's QUALITY_GATE settings (`judgeUrl`). It is asked for a JSON
 * verdict `{"pass", "score", "reason"}` as promptfoo's grader is. A judge that does not answer, or
 * answers something else, gives a reason instead of a verdict: the assertion fails (fails closed).
 * The URL is an app's, so it is called under the kit's outbound rules (`policy`): https, and no
 * loopback, private, link-local or reserved address unless the installation allows that host.
 */
export type Judge = (rubric: string, output: unknown, signal: AbortSignal) => Promise<JudgeVerdict | string>;

const SYSTEM = [
  "You grade an output against a rubric.",
  'Answer with one JSON object and nothing else: {"reason": "<why>", "pass": true|false, "score": <0.0 to 1.0>}.',
].join(" ");

export function createJudge(opts: {
  url: string;
  model: string;
  timeoutMs: number;
  policy: UrlPolicy;
}): Judge {
  const endpoint = `${opts.url.replace(/\/+$/, "")}/chat/completions`;
  return async (rubric, output, signal) => {
    const text = typeof output === "string" ? output : JSON.stringify(output);
    if (signal.aborted) return "the case's time ran out before the judge was asked";
    let res: Awaited<ReturnType<typeof guardedRequest>>;
    try {
      res = await guardedRequest(endpoint, opts.policy, {
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
        timeoutMs: opts.timeoutMs,
        followRedirects: false,
        maxBodyBytes: 1024 * 1024,
      });
    } catch (e) {
      return `judge at ${endpoint} did not answer: ${errorMessage(e)}`;
    }
    if (res.status < 200 || res.status >= 300) return `judge answered ${res.status}`;
    let content: unknown;
    try {
      const body = JSON.parse(res.body) as { choices?: { message?: { content?: unknown } }[] };
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
