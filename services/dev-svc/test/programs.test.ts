import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  HOOK_MARKER,
  HOOK_NODE_FILE,
  HOOK_SCRIPT_NAME,
  hookFiles,
} from "../src/integrations/git/local-hook.js";

/**
 * The programs dev-svc ships as files (`programs/`): the LOCAL provider's post-receive hook and
 * CODE_CHECK's Python syntax checker. The hook's delivery end to end (a real push, a signed
 * request) is in local-provider.int.test.ts; here each program is checked and run on its own.
 */
const programs = path.resolve(import.meta.dirname, "../programs");
const scratch = mkdtempSync(path.join(tmpdir(), "procode-programs-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the post-receive hook", () => {
  const hook = path.join(programs, "post-receive.sh");

  it("is valid shell for bash and for sh", () => {
    for (const shell of ["bash", "sh"]) {
      const r = spawnSync(shell, ["-n", hook], { encoding: "utf8" });
      expect(r.status, `${shell} -n: ${r.stderr}`).toBe(0);
    }
  });

  it("carries the marker the installer recognises, as does the delivery program", () => {
    expect(hookFiles().wrapper).toContain(HOOK_MARKER);
    expect(hookFiles().script).toContain(HOOK_MARKER);
  });

  it("hands git's ref lines to the delivery program with the named Node.js, and exits 0 whatever it does", () => {
    const hooks = path.join(scratch, "hooks");
    spawnSync("mkdir", ["-p", hooks]);
    const installed = path.join(hooks, "post-receive");
    copyFileSync(hook, installed);
    chmodSync(installed, 0o755);
    writeFileSync(path.join(hooks, HOOK_NODE_FILE), process.execPath);
    const seen = path.join(scratch, "stdin.txt");
    // A stand-in delivery program: records what it was given, then fails.
    writeFileSync(
      path.join(hooks, HOOK_SCRIPT_NAME),
      `require("fs").writeFileSync(${JSON.stringify(seen)}, require("fs").readFileSync(0)); process.exit(3);`,
    );
    const lines =
      "0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 refs/heads/main\n";
    const r = spawnSync(installed, [], { input: lines, encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect(r.status).toBe(0);
    expect(readFileSync(seen, "utf8")).toBe(lines);
  });

  it("is a delivery program Node.js can load (a syntax check without running it)", () => {
    const r = spawnSync(process.execPath, ["--check", path.join(programs, "post-receive.cjs")], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe("the Python syntax checker", () => {
  const checker = path.join(programs, "check_python_syntax.py");
  const run = (files: { path: string; source: string }[]) =>
    spawnSync("python3", ["-I", "-S", checker], {
      input: JSON.stringify(
        files.map((f) => ({ path: f.path, source: Buffer.from(f.source).toString("base64") })),
      ),
      encoding: "utf8",
    });

  it("compiles as Python 3", () => {
    const r = spawnSync(
      "python3",
      ["-I", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", checker],
      {
        encoding: "utf8",
      },
    );
    expect(r.status, r.stderr).toBe(0);
  });

  it("reports each file that does not compile, with line and column, and passes the others", () => {
    const r = run([
      { path: "app/ok.py", source: "def f(x):\n    return x + 1\n" },
      { path: "app/bad.py", source: "def f(:\n    pass\n" },
      { path: "app/nul.py", source: "x = 1\u0000\n" },
    ]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { python: string; problems: { file: string; line: number | null }[] };
    expect(out.python).toMatch(/^3\.\d+/);
    expect(out.problems.map((p) => p.file)).toEqual(["app/bad.py", "app/nul.py"]);
    expect(out.problems[0]).toMatchObject({ file: "app/bad.py", line: 1 });
  });

  it("never runs the code it checks", () => {
    const marker = path.join(scratch, "ran");
    const r = run([{ path: "evil.py", source: `open(${JSON.stringify(marker)}, "w").write("x")\n` }]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ problems: [] });
    expect(spawnSync("test", ["-e", marker]).status).not.toBe(0);
  });
});
