import { spawn } from "node:child_process";

export interface PythonSource {
  path: string;
  content: Buffer;
}

export interface SyntaxProblem {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

export interface SyntaxReport {
  /** The interpreter that checked, e.g. `3.11.7`. */
  python: string;
  problems: SyntaxProblem[];
}

/**
 * Compiles every file with `compile(source, path, "exec")` in one python3 process fed on stdin:
 * the code is parsed and compiled to bytecode, never run (nothing is imported, no module-level
 * statement executes). Python's own rules apply, encoding declarations included.
 */
const CHECKER = `
import base64, json, platform, sys, warnings
warnings.simplefilter("ignore")
problems = []
for f in json.load(sys.stdin):
    path = f["path"]
    try:
        compile(base64.b64decode(f["source"]), path, "exec", dont_inherit=True)
    except SyntaxError as e:
        problems.append({"file": path, "line": e.lineno, "column": e.offset, "message": e.msg})
    except Exception as e:
        problems.append({"file": path, "line": None, "column": None, "message": type(e).__name__ + ": " + str(e)})
json.dump({"python": platform.python_version(), "problems": problems}, sys.stdout)
`;

export class PythonUnavailableError extends Error {
  override name = "PythonUnavailableError";
}

/** Checks Python sources without executing them; `signal` ends the interpreter. */
export async function checkPythonSyntax(
  pythonBin: string,
  sources: PythonSource[],
  signal: AbortSignal,
): Promise<SyntaxReport> {
  const input = JSON.stringify(sources.map((s) => ({ path: s.path, source: s.content.toString("base64") })));
  return new Promise<SyntaxReport>((resolve, reject) => {
    // -I: isolated (no PYTHON* variables, no user site, no current directory on the path); -S: no site.
    const child = spawn(pythonBin, ["-I", "-S", "-c", CHECKER], {
      stdio: ["pipe", "pipe", "pipe"],
      signal,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", LANG: "C.UTF-8" },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.stdin.on("error", () => {
      // the process ended before reading everything; its exit explains why
    });
    child.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") {
        reject(
          new PythonUnavailableError(`${pythonBin} was not found: CODE_CHECK needs Python 3 to check syntax`),
        );
      } else reject(e);
    });
    child.once("close", (code) => {
      if (signal.aborted) {
        return reject(signal.reason instanceof Error ? signal.reason : new Error("syntax check aborted"));
      }
      if (code !== 0) {
        const tail = Buffer.concat(err).toString("utf8").trim().split("\n").slice(-3).join(" | ");
        return reject(new Error(`${pythonBin} exited with code ${code} while checking syntax: ${tail}`));
      }
      try {
        const parsed = JSON.parse(Buffer.concat(out).toString("utf8")) as {
          python: string;
          problems: { file: string; line: number | null; column: number | null; message: string }[];
        };
        resolve({
          python: parsed.python,
          problems: parsed.problems.map((p) => ({
            file: p.file,
            message: p.message,
            ...(typeof p.line === "number" ? { line: p.line } : {}),
            ...(typeof p.column === "number" ? { column: p.column } : {}),
          })),
        });
      } catch {
        reject(new Error(`${pythonBin} gave an answer that is not the checker's`));
      }
    });
    child.stdin.end(input);
  });
}
