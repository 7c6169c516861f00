import { EvalCase, GateFile, type GateSettings } from "@procode/contracts";

/**
 * Reading a repository's evaluation set (docs/quality-gate.md, "Case files"): `evals/*.jsonl`, one
 * case per line (blank lines and lines starting with `//` are skipped), and `evals/gate.json`. A set
 * that does not parse is a configuration error, reported apart from a low score, with the file, the
 * line and the field.
 */

export interface CaseFile {
  /** The path in the repository, e.g. `evals/greeting.jsonl`. */
  path: string;
  text: string;
}

interface LoadedCase extends EvalCase {
  /** Where it was read: `evals/greeting.jsonl:3`. */
  source: string;
}

export type EvalSet =
  { ok: true; cases: LoadedCase[]; settings: Partial<GateSettings> } | { ok: false; errors: string[] };

const MAX_CASES = 2000;
const MAX_FILE_BYTES = 5 * 1024 * 1024;

function issues(where: string, e: { issues: { path: PropertyKey[]; message: string }[] }): string[] {
  return e.issues
    .slice(0, 5)
    .map((i) => `${where}: ${i.path.length ? `${i.path.map(String).join(".")}: ` : ""}${i.message}`);
}

/** Parses the case files and the gate file (null when the repository has none). */
export function loadEvalSet(files: readonly CaseFile[], gateJson: string | null): EvalSet {
  const errors: string[] = [];
  const cases: LoadedCase[] = [];
  const seen = new Map<string, string>();
  let settings: Partial<GateSettings> = {};
  if (gateJson !== null) {
    let raw: unknown;
    try {
      raw = JSON.parse(gateJson);
    } catch (e) {
      errors.push(`evals/gate.json: not JSON (${(e as Error).message})`);
    }
    if (raw !== undefined) {
      const parsed = GateFile.safeParse(raw);
      if (parsed.success) settings = parsed.data;
      else errors.push(...issues("evals/gate.json", parsed.error));
    }
  }
  if (files.length === 0) errors.push("evals/: no *.jsonl case file");
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (f.text.length > MAX_FILE_BYTES) {
      errors.push(`${f.path}: larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
      continue;
    }
    f.text.split("\n").forEach((line, i) => {
      const where = `${f.path}:${i + 1}`;
      const t = line.trim();
      if (t === "" || t.startsWith("//")) return;
      let raw: unknown;
      try {
        raw = JSON.parse(t);
      } catch (e) {
        errors.push(`${where}: not JSON (${(e as Error).message})`);
        return;
      }
      const parsed = EvalCase.safeParse(raw);
      if (!parsed.success) {
        errors.push(...issues(where, parsed.error));
        return;
      }
      const first = seen.get(parsed.data.id);
      if (first) {
        errors.push(`${where}: id ${parsed.data.id} is used again (first at ${first})`);
        return;
      }
      seen.set(parsed.data.id, where);
      cases.push({ ...parsed.data, source: where });
    });
  }
  if (cases.length > MAX_CASES) errors.push(`evals/: ${cases.length} cases, at most ${MAX_CASES}`);
  if (errors.length === 0 && cases.length === 0) errors.push("evals/: the case files hold no case");
  return errors.length ? { ok: false, errors: errors.slice(0, 50) } : { ok: true, cases, settings };
}
