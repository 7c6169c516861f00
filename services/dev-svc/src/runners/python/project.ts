import { parse as parseToml, TomlError } from "smol-toml";

/**
 * What CODE_CHECK decides about a Python repository from its file list and a few small files, with
 * no I/O: the dependency file (pip's requirement lines, PEP 621 pyproject.toml), the entry point
 * (declared or by convention) and the Python version. Each finding says which file and line.
 */

interface Finding {
  ok: boolean;
  message: string;
  file?: string;
  line?: number;
}

/** Python versions the base images (`python:<version>-slim`) are used for. */
const SUPPORTED_PYTHON_MINORS = [13, 12, 11, 10, 9, 8] as const;
export const DEFAULT_PYTHON_VERSION = "3.12";

// ---------------------------------------------------------------------------------------------------
// PEP 508 requirements and pip's requirement files

const NAME = String.raw`[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`;
const EXTRAS = String.raw`\[\s*(?:${NAME}(?:\s*,\s*${NAME})*)?\s*\]`;
const VERSION_ONE = String.raw`(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9_.*+!-]+`;
const VERSIONS = String.raw`${VERSION_ONE}(?:\s*,\s*${VERSION_ONE})*`;
const MARKER = String.raw`;\s*\S.*`;
/** `name[extras] (versions | @ url) ; marker`, PEP 508. */
const REQUIREMENT = new RegExp(
  String.raw`^${NAME}\s*(?:${EXTRAS})?\s*(?:@\s*\S+(?:\s+${MARKER})?|(?:\(\s*${VERSIONS}\s*\)|${VERSIONS})?\s*(?:${MARKER})?)$`,
);
/** A line pip reads as a path or URL to a project, a wheel or an sdist. */
const PATH_OR_URL =
  /^(?:[a-z][a-z0-9+.-]*:\/\/|file:|\.{1,2}\/|\/)|\.(?:whl|zip|tar\.gz|tar\.bz2|tgz)(?:[#?].*)?$/i;

/** Options pip accepts on a line of its own in a requirements file. */
const FILE_OPTIONS = new Map<string, "value" | "flag">([
  ["-r", "value"],
  ["--requirement", "value"],
  ["-c", "value"],
  ["--constraint", "value"],
  ["-e", "value"],
  ["--editable", "value"],
  ["-i", "value"],
  ["--index-url", "value"],
  ["--extra-index-url", "value"],
  ["--no-index", "flag"],
  ["-f", "value"],
  ["--find-links", "value"],
  ["--no-binary", "value"],
  ["--only-binary", "value"],
  ["--prefer-binary", "flag"],
  ["--require-hashes", "flag"],
  ["--pre", "flag"],
  ["--trusted-host", "value"],
  ["--use-feature", "value"],
]);
/** Options pip accepts after a requirement on the same line. */
const PER_REQUIREMENT_OPTIONS = new Set([
  "--hash",
  "--config-settings",
  "--global-option",
  "--install-option",
]);

/** True when `text` is a PEP 508 dependency specifier (as in `[project] dependencies`). */
export function isRequirement(text: string): boolean {
  return REQUIREMENT.test(text.trim());
}

export interface RequirementsFile {
  errors: { line: number; message: string }[];
  /** Files named by `-r` / `-c`, relative to the repository root, with the line naming them. */
  includes: { path: string; line: number }[];
  requirements: number;
}

/** Reads a requirements file as pip does (comments, continuations, options, PEP 508 lines, paths, URLs). */
export function parseRequirements(text: string, file: string): RequirementsFile {
  const out: RequirementsFile = { errors: [], includes: [], requirements: 0 };
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const physical = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < physical.length; i++) {
    const first = i + 1;
    let logical = physical[i]!;
    while (logical.endsWith("\\") && i + 1 < physical.length) {
      logical = logical.slice(0, -1) + physical[++i]!;
    }
    // A comment starts at a '#' at the beginning of a line or after whitespace.
    const line = logical.replace(/(^|\s)#.*$/, "").trim();
    if (!line) continue;
    const error = (message: string) => out.errors.push({ line: first, message });
    if (line.startsWith("-")) {
      const m = /^(--?[A-Za-z][A-Za-z-]*)(?:[=\s]\s*(.*))?$/.exec(line);
      const kind = m ? FILE_OPTIONS.get(m[1]!) : undefined;
      if (!m || !kind) {
        error(`"${line}" is not an option pip accepts in a requirements file`);
        continue;
      }
      const value = m[2]?.trim() ?? "";
      if (kind === "value" && !value) error(`${m[1]} needs a value`);
      else if (kind === "flag" && value) error(`${m[1]} takes no value`);
      else if (["-r", "--requirement", "-c", "--constraint"].includes(m[1]!)) {
        // A URL is fetched by pip as it is; a path is relative to the including file.
        const isUrl = /^[a-z][a-z0-9+.-]*:/i.test(value);
        out.includes.push({ path: isUrl ? value : normalizePath(dir + value), line: first });
      }
      continue;
    }
    // Per-requirement options (`--hash=...`) follow the requirement after whitespace.
    const opt = /\s--?[A-Za-z]/.exec(line);
    const spec = opt ? line.slice(0, opt.index).trim() : line;
    if (opt) {
      const names = [...line.slice(opt.index).matchAll(/\s(--?[A-Za-z][A-Za-z-]*)/g)].map((x) => x[1]!);
      const bad = names.find((n) => !PER_REQUIREMENT_OPTIONS.has(n));
      if (bad) {
        error(`"${bad}" is not an option pip accepts after a requirement`);
        continue;
      }
    }
    if (REQUIREMENT.test(spec) || PATH_OR_URL.test(spec)) {
      out.requirements++;
      continue;
    }
    const single = new RegExp(String.raw`^(${NAME})\s*=\s*([A-Za-z0-9_.*+!-]+)$`).exec(spec);
    error(
      single
        ? `"${spec}" is not a requirement pip understands; did you mean "${single[1]}==${single[2]}"?`
        : `"${spec}" is not a requirement pip understands (PEP 508, e.g. "requests>=2.31")`,
    );
  }
  return out;
}

function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return parts.join("/");
}

// ---------------------------------------------------------------------------------------------------
// pyproject.toml

export interface Pyproject {
  hasProject: boolean;
  hasBuildSystem: boolean;
  requiresPython: string | null;
  /** `[project.scripts]` in declaration order: name -> `module:function`. */
  scripts: [string, string][];
  /** `[tool.procode] entrypoint`. */
  declaredEntryPoint: string | null;
  /** Where a key was written, for messages. */
  lineOf(key: RegExp): number | undefined;
}

export type PyprojectResult =
  | { ok: true; value: Pyproject; problems: { line?: number; message: string }[] }
  | { ok: false; line?: number; message: string };

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses pyproject.toml as TOML and checks the PEP 621 fields pip needs to install it. */
export function parsePyproject(text: string): PyprojectResult {
  let doc: Table;
  try {
    doc = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      return { ok: false, line: err.line, message: err.message.split("\n")[0]! };
    }
    return { ok: false, message: `not TOML: ${(err as Error).message}` };
  }
  const lines = text.split(/\r?\n/);
  const lineOf = (key: RegExp): number | undefined => {
    const i = lines.findIndex((l) => key.test(l));
    return i >= 0 ? i + 1 : undefined;
  };
  const problems: { line?: number; message: string }[] = [];
  const project = doc["project"];
  let requiresPython: string | null = null;
  let scripts: [string, string][] = [];
  if (project !== undefined) {
    if (!isTable(project)) {
      problems.push({ line: lineOf(/^\s*project\s*=/), message: "[project] must be a table" });
    } else {
      if (typeof project["name"] !== "string" || !project["name"]) {
        problems.push({
          line: lineOf(/^\s*\[project\]/),
          message: "[project] has no name (PEP 621 requires it)",
        });
      }
      const deps = project["dependencies"];
      if (deps !== undefined) {
        if (!Array.isArray(deps)) {
          problems.push({
            line: lineOf(/^\s*dependencies\s*=/),
            message: "[project] dependencies must be an array",
          });
        } else {
          for (const d of deps) {
            if (typeof d !== "string" || !isRequirement(d)) {
              problems.push({
                line: lineOf(new RegExp(escapeRegExp(JSON.stringify(d)))) ?? lineOf(/^\s*dependencies\s*=/),
                message: `dependency ${JSON.stringify(d)} is not a PEP 508 requirement`,
              });
            }
          }
        }
      }
      const rp = project["requires-python"];
      if (rp !== undefined) {
        if (typeof rp === "string") requiresPython = rp;
        else
          problems.push({
            line: lineOf(/^\s*requires-python\s*=/),
            message: "requires-python must be a string",
          });
      }
      const s = project["scripts"];
      if (s !== undefined) {
        if (!isTable(s))
          problems.push({
            line: lineOf(/^\s*\[project\.scripts\]/),
            message: "[project.scripts] must be a table",
          });
        else scripts = Object.entries(s).map(([k, v]) => [k, String(v)]);
      }
    }
  }
  const tool = doc["tool"];
  const procode = isTable(tool) ? tool["procode"] : undefined;
  let declaredEntryPoint: string | null = null;
  if (isTable(procode) && procode["entrypoint"] !== undefined) {
    if (typeof procode["entrypoint"] === "string" && procode["entrypoint"].trim()) {
      declaredEntryPoint = procode["entrypoint"].trim();
    } else {
      problems.push({
        line: lineOf(/^\s*entrypoint\s*=/),
        message: "[tool.procode] entrypoint must be a non-empty string",
      });
    }
  }
  return {
    ok: true,
    problems,
    value: {
      hasProject: isTable(project),
      hasBuildSystem: isTable(doc["build-system"]),
      requiresPython,
      scripts,
      declaredEntryPoint,
      lineOf,
    },
  };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// ---------------------------------------------------------------------------------------------------
// Dependency file

/** Which file the image installs dependencies from (`pip install .` or `pip install -r`). */
export function chooseDependencyFile(
  files: ReadonlySet<string>,
  pyproject: Pyproject | null,
):
  | { ok: true; file: "pyproject.toml" | "requirements.txt"; message: string }
  | { ok: false; file?: string; message: string } {
  if (pyproject?.hasProject) {
    return {
      ok: true,
      file: "pyproject.toml",
      message: "pyproject.toml declares [project]: installed with pip install .",
    };
  }
  if (files.has("requirements.txt")) {
    return { ok: true, file: "requirements.txt", message: "requirements.txt: installed with pip install -r" };
  }
  if (pyproject?.hasBuildSystem) {
    return {
      ok: true,
      file: "pyproject.toml",
      message: "pyproject.toml declares [build-system]: installed with pip install .",
    };
  }
  if (files.has("pyproject.toml")) {
    return {
      ok: false,
      file: "pyproject.toml",
      message:
        "pyproject.toml has neither [project] nor [build-system], so pip cannot install it; add a [project] table or a requirements.txt",
    };
  }
  return {
    ok: false,
    message: "no dependency file: add requirements.txt or pyproject.toml at the repository root",
  };
}

// ---------------------------------------------------------------------------------------------------
// Entry point

/** A repository path Docker can copy and a Dockerfile can name without quoting trouble. */
export const SAFE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
/** A console script name (`[project.scripts]`). */
export const SAFE_SCRIPT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const CONVENTION = ["main.py", "app.py", "app/main.py"];

export interface EntryPointFinding extends Finding {
  entryPoint?: string;
}

/**
 * The entry point: `[tool.procode] entrypoint` (a file, or a module as `pkg.mod`), else the first of
 * `[project.scripts]` (a console script, named without `.py`), else by convention `main.py`, `app.py`,
 * `app/main.py`, `src/<pkg>/__main__.py`, `__main__.py`. A file entry point is a path ending in `.py`.
 */
export function findEntryPoint(files: ReadonlySet<string>, pyproject: Pyproject | null): EntryPointFinding {
  const declared = pyproject?.declaredEntryPoint;
  if (declared) {
    const line = pyproject.lineOf(/^\s*entrypoint\s*=/);
    const candidates = declared.endsWith(".py")
      ? [declared.replace(/^\.\//, "")]
      : /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(declared)
        ? [".py", "/__main__.py"].flatMap((suffix) => {
            const p = declared.replaceAll(".", "/") + suffix;
            return [p, `src/${p}`];
          })
        : [];
    const found = candidates.find((c) => files.has(c));
    if (!found) {
      return {
        ok: false,
        file: "pyproject.toml",
        ...(line ? { line } : {}),
        message: `[tool.procode] entrypoint "${declared}" names no Python file of the repository${
          candidates.length ? ` (looked for ${candidates.join(", ")})` : ""
        }`,
      };
    }
    if (!SAFE_PATH.test(found)) {
      return {
        ok: false,
        file: found,
        message: `entry point path "${found}" has characters a Dockerfile cannot carry`,
      };
    }
    return {
      ok: true,
      entryPoint: found,
      file: found,
      message: `declared in pyproject.toml [tool.procode]: ${found}`,
    };
  }
  const script = pyproject?.scripts[0];
  if (script) {
    const [name, target] = script;
    const line = pyproject.lineOf(new RegExp(`^\\s*"?${escapeRegExp(name)}"?\\s*=`));
    if (!SAFE_SCRIPT.test(name) || name.endsWith(".py")) {
      return {
        ok: false,
        file: "pyproject.toml",
        ...(line ? { line } : {}),
        message: `[project.scripts] name "${name}" cannot be used as a command`,
      };
    }
    if (!/^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$/.test(target)) {
      return {
        ok: false,
        file: "pyproject.toml",
        ...(line ? { line } : {}),
        message: `[project.scripts] ${name} = "${target}" is not "module:function"`,
      };
    }
    return {
      ok: true,
      entryPoint: name,
      file: "pyproject.toml",
      message: `console script ${name} -> ${target} ([project.scripts])`,
    };
  }
  const sorted = [...files].sort();
  const srcMain = sorted.filter((f) => /^src\/[A-Za-z_][A-Za-z0-9_]*\/__main__\.py$/.test(f));
  const found =
    CONVENTION.find((c) => files.has(c)) ?? srcMain[0] ?? (files.has("__main__.py") ? "__main__.py" : null);
  if (!found) {
    return {
      ok: false,
      message:
        "no entry point: add main.py, app.py, app/main.py, src/<package>/__main__.py or __main__.py, or declare one ([tool.procode] entrypoint or [project.scripts] in pyproject.toml)",
    };
  }
  return { ok: true, entryPoint: found, file: found, message: `found by convention: ${found}` };
}

// ---------------------------------------------------------------------------------------------------
// Python version

type Release = number[];

function parseRelease(v: string): Release | null {
  const m = /^(\d+(?:\.\d+)*)$/.exec(v.trim());
  return m ? m[1]!.split(".").map(Number) : null;
}

function cmp(a: Release, b: Release): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Whether a Python release satisfies a PEP 440 specifier set (`>=3.10,<3.13`, `~=3.11`, `==3.12.*`).
 * As pip reads it: `==3.12` is 3.12.0 only. Throws on a clause it cannot read.
 */
export function satisfies(version: Release, specifiers: string): boolean {
  return specifiers
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .every((clause) => {
      const m = /^(~=|===|==|!=|<=|>=|<|>)\s*(\d+(?:\.\d+)*)(\.\*)?$/.exec(clause);
      if (!m) throw new Error(`"${clause}" is not a version specifier`);
      const op = m[1]!;
      const target = m[2]!.split(".").map(Number);
      const wildcard = Boolean(m[3]);
      const prefix = (v: Release) => cmp(v.slice(0, target.length), target) === 0;
      switch (op) {
        case "==":
        case "===":
          return wildcard ? prefix(version) : cmp(version, target) === 0;
        case "!=":
          return wildcard ? !prefix(version) : cmp(version, target) !== 0;
        case ">=":
          return cmp(version, target) >= 0;
        case "<=":
          return cmp(version, target) <= 0;
        case ">":
          return cmp(version, target) > 0;
        case "<":
          return cmp(version, target) < 0;
        default: {
          // ~=X.Y[.Z]: >= X.Y[.Z] and the same release up to the last-but-one part.
          if (target.length < 2) throw new Error(`"${clause}": ~= needs at least two parts`);
          return (
            cmp(version, target) >= 0 && cmp(version.slice(0, target.length - 1), target.slice(0, -1)) === 0
          );
        }
      }
    });
}

export interface PythonVersionFinding extends Finding {
  version?: string;
}

/**
 * The Python version of the image: `.python-version` (its first line, `3.12` or `3.12.4`; it must
 * satisfy `requires-python` when both are given), else the newest supported minor that satisfies
 * `requires-python`, else the default.
 */
export function choosePythonVersion(
  pythonVersionFile: string | null,
  requiresPython: string | null,
): PythonVersionFinding {
  const supported = (v: Release) =>
    v[0] === 3 && (SUPPORTED_PYTHON_MINORS as readonly number[]).includes(v[1] ?? -1);
  const range = `3.${SUPPORTED_PYTHON_MINORS.at(-1)} to 3.${SUPPORTED_PYTHON_MINORS[0]}`;
  if (pythonVersionFile !== null) {
    const first =
      pythonVersionFile
        .split(/\r?\n/)
        .map((l) => l.trim())
        .find((l) => l && !l.startsWith("#")) ?? "";
    const release = /^\d+\.\d+(\.\d+)?$/.test(first) ? parseRelease(first) : null;
    if (!release || !supported(release)) {
      return {
        ok: false,
        file: ".python-version",
        line: 1,
        message: `.python-version says "${first}"; CPython ${range} is supported (e.g. 3.12)`,
      };
    }
    if (requiresPython) {
      try {
        // A minor without patch stands for its newest release.
        const probe = release.length === 2 ? [...release, 999] : release;
        if (!satisfies(probe, requiresPython)) {
          return {
            ok: false,
            file: ".python-version",
            line: 1,
            message: `.python-version ${first} does not satisfy requires-python "${requiresPython}"`,
          };
        }
      } catch (err) {
        return { ok: false, file: "pyproject.toml", message: `requires-python: ${(err as Error).message}` };
      }
    }
    return {
      ok: true,
      version: first,
      file: ".python-version",
      message: `Python ${first} (.python-version)`,
    };
  }
  if (requiresPython) {
    try {
      const minor = SUPPORTED_PYTHON_MINORS.find((m) => satisfies([3, m, 999], requiresPython));
      if (minor === undefined) {
        return {
          ok: false,
          file: "pyproject.toml",
          message: `no supported Python (${range}) satisfies requires-python "${requiresPython}"`,
        };
      }
      return {
        ok: true,
        version: `3.${minor}`,
        file: "pyproject.toml",
        message: `Python 3.${minor} (newest satisfying requires-python "${requiresPython}")`,
      };
    } catch (err) {
      return { ok: false, file: "pyproject.toml", message: `requires-python: ${(err as Error).message}` };
    }
  }
  return {
    ok: true,
    version: DEFAULT_PYTHON_VERSION,
    message: `no .python-version or requires-python: Python ${DEFAULT_PYTHON_VERSION} (default)`,
  };
}
