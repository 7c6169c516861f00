import { spawn } from "node:child_process";
import { shippedPath } from "../../shipped.js";

export interface PythonSource {
  path: string;
  content: Buffer;
}

interface SyntaxProblem {
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
 * The checker shipped with dev-svc (`programs/check_python_syntax.py`): compiles every file fed on
 * stdin in one python3 process; the code is parsed and compiled to bytecode, never run.
 */
const CHECKER = shippedPath("programs", "check_python_syntax.py");

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
    const child = spawn(pythonBin, ["-I", "-S", CHECKER], {
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
