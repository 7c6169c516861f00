import type { FastifyRequest, RouteOptions } from "fastify";
import { invalidParameter } from "./errors.js";

/**
 * Input the database cannot store, refused before any route looks at it (docs/api.md, "Hostile
 * input"): PostgreSQL's text and jsonb refuse NUL characters, and jsonb refuses an unpaired UTF-16
 * surrogate (`"\ud800"`, legal in JSON, not in UTF-8); nothing the API accepts is nested deeper than a
 * few levels, and a value nested thousands deep would only make every later step that walks it (a
 * recursive copy, a serializer) the one to fail. Each is the 1001 of the field that holds it.
 */
export const MAX_JSON_DEPTH = 64;

export interface InputProblem {
  /** The path of the value, `deployConfig.env.A`; `root` when it is the value itself. */
  field: string;
  rule: string;
}

/** What is wrong with a text for the database, or null. */
function textProblem(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain NUL characters";
  // With the u flag, a paired surrogate is one code point: \p{Cs} matches only unpaired halves.
  const at = text.search(/\p{Cs}/u);
  if (at >= 0) return `must be valid Unicode text (an unpaired surrogate at character ${at + 1})`;
  return null;
}

/**
 * The first value in `value` the database cannot store, or a nesting past MAX_JSON_DEPTH. Walks with
 * an explicit stack and stops at the depth limit, so a hostile nesting costs no recursion and at
 * most MAX_JSON_DEPTH levels of work per branch. Keys are checked as well as values.
 */
export function findHostileInput(value: unknown, root: string): InputProblem | null {
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  const name = (path: string[]) => (path.length ? path.join(".") : root);
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  while (stack.length) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === "string") {
      const rule = textProblem(v);
      if (rule) return { field: name(path), rule };
      continue;
    }
    if (typeof v !== "object" || v === null || Buffer.isBuffer(v)) continue;
    if (path.length >= MAX_JSON_DEPTH) {
      // Named by the field it hangs under (an array body has no field name: the body itself).
      const field = isRecord(value) ? path[0]! : root;
      return { field, rule: `is nested deeper than ${MAX_JSON_DEPTH} levels` };
    }
    const entries = Array.isArray(v) ? v.map((item, i) => [String(i), item] as const) : Object.entries(v);
    // Pushed in reverse so the first field in the document is looked at first.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i]!;
      const keyRule = textProblem(key);
      if (keyRule) return { field: name(path), rule: `keys ${keyRule}` };
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return null;
}

/**
 * The kit's pre-validation check of every route's path parameters, query and parsed body (a raw
 * body, kept as bytes for a signature, is checked by its route once the signature holds). Added
 * after the route's own pre-validation hooks, so a signed route checks its signature first.
 */
export function guardInputOf(route: RouteOptions): void {
  const own = route.preValidation;
  const hooks = own === undefined ? [] : Array.isArray(own) ? own : [own];
  route.preValidation = [...hooks, refuseHostileInput];
}

async function refuseHostileInput(request: FastifyRequest): Promise<void> {
  const problem =
    findHostileInput(request.params, "path") ??
    findHostileInput(request.query, "query") ??
    findHostileInput(request.body, "body");
  if (problem) throw invalidParameter(problem.field, problem.rule);
}

/** A signed body read as JSON after its signature was checked: the same rules, as a 1001. */
export function refuseHostileJson(value: unknown): void {
  const problem = findHostileInput(value, "body");
  if (problem) throw invalidParameter(problem.field, problem.rule);
}
