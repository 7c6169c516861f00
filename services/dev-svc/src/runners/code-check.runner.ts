import type { CodeCheckOutput, CodeCheckResult } from "@procode/contracts";
import { Semaphore, sleep } from "@procode/service-kit";
import { GitProviderError } from "../integrations/git/errors.js";
import type { GitProvider, TreeEntry } from "../integrations/git/provider.js";
import type { RepositoryAccess } from "../git/repository-access.js";
import {
  chooseDependencyFile,
  choosePythonVersion,
  findEntryPoint,
  parsePyproject,
  parseRequirements,
  type Pyproject,
} from "./python/project.js";
import { checkPythonSyntax, type PythonSource } from "./python/syntax.js";
import { StageFailedError, type StageContext, type StageResult, type StageWork } from "./stage-work.js";

export interface CodeCheckOptions {
  timeoutMs: number;
  pythonBin: string;
  /** Python files one attempt checks at most (a bound on provider reads). */
  maxPythonFiles?: number;
  /** Files read from the provider at once. */
  readConcurrency?: number;
  /** First pause before asking a provider that does not answer again; doubles up to 30 s. */
  waitPauseMs?: number;
}

/** Provider failures that are waited for, never a failure: it is down, or too slow to answer. */
const WAITED_FOR: readonly string[] = ["unavailable", "timeout"];
const MAX_WAIT_PAUSE_MS = 30_000;

/**
 * A provider call repeated until the provider answers (docs/reliability.md "Waiting is not
 * failing"): while it is down or slow the attempt waits, says why, and its clock stands still.
 */
async function untilAnswered<T>(
  ctx: StageContext,
  what: string,
  pauseMs: number,
  call: () => Promise<T>,
): Promise<T> {
  let pause = pauseMs;
  for (;;) {
    try {
      const answer = await call();
      ctx.waiting(null);
      return answer;
    } catch (err) {
      if (!(err instanceof GitProviderError) || !WAITED_FOR.includes(err.failure) || ctx.signal.aborted)
        throw err;
      ctx.waiting(`git provider does not answer (${what}): ${err.message}`);
      await sleep(pause, ctx.signal);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      pause = Math.min(pause * 2, MAX_WAIT_PAUSE_MS);
    }
  }
}

/** Requirement files followed through `-r` / `-c` at most. */
const MAX_REQUIREMENT_FILES = 10;

/**
 * CODE_CHECK: resolves the release tag to its commit at every attempt (a tag moved to a
 * fixed commit is checked anew), reads the tree at that commit and checks the Python project: a
 * dependency file present and parseable, an entry point, every `.py` file compiling, a supported
 * Python version. Output: CodeCheckOutput (`evals` when the commit has evaluation cases); any
 * failed check makes the attempt FAILED (not retryable: the same commit fails the same way) with
 * every check in the output. A provider that is down or does not answer in time is waited for,
 * never a failure.
 */
export function codeCheckWork(access: RepositoryAccess, opts: CodeCheckOptions): StageWork {
  const maxPythonFiles = opts.maxPythonFiles ?? 5000;
  const pauseMs = opts.waitPauseMs ?? 1000;
  return {
    stage: "CODE_CHECK",
    timeoutMs: opts.timeoutMs,
    async run(ctx: StageContext): Promise<StageResult> {
      const { request } = ctx;
      ctx.step(`finding the repository of app ${request.appId}`);
      const { provider } = await access.forApp(request.appId, { strict: true });
      ctx.step(`resolving tag ${request.tag} in ${provider.describe}`);
      ctx.out.info(`resolving tag ${request.tag} in ${provider.describe}`);
      let commitId: string;
      try {
        commitId = await untilAnswered(ctx, `resolving tag ${request.tag}`, pauseMs, () =>
          provider.resolveRef(request.tag),
        );
      } catch (err) {
        if (err instanceof GitProviderError && err.failure === "ref_not_found") {
          throw new StageFailedError(
            `CODE_CHECK: tag ${request.tag} does not exist in ${provider.describe}`,
            { call: "resolve tag", tag: request.tag },
            false,
          );
        }
        throw err;
      }
      ctx.out.info(`tag ${request.tag} is commit ${commitId}`);
      ctx.step(`reading the tree at ${commitId.slice(0, 12)}`);
      const tree = await untilAnswered(ctx, "reading the tree", pauseMs, () => provider.readTree(commitId));
      ctx.out.info(`read the tree at commit ${commitId.slice(0, 12)}: ${tree.length} entries`);
      const reader = new Reader(provider, commitId, ctx, opts.readConcurrency ?? 8, pauseMs);
      const checks = await checkPythonProject(tree, reader, opts.pythonBin, maxPythonFiles, ctx);
      const output: CodeCheckOutput = {
        commitId,
        checks: checks.results,
        ...(checks.dependencyFile ? { dependencyFile: checks.dependencyFile } : {}),
        ...(checks.entryPoint ? { entryPoint: checks.entryPoint } : {}),
        ...(checks.pythonVersion ? { pythonVersion: checks.pythonVersion } : {}),
        // The quality gate runs for a commit with evaluation cases (docs/quality-gate.md); left out
        // otherwise, so an app without them sees the output it always saw.
        ...(hasEvalCases(tree) ? { evals: true } : {}),
      };
      for (const c of checks.results) {
        const where = c.file ? ` [${c.file}${c.line ? `:${c.line}` : ""}]` : "";
        if (c.passed) ctx.out.info(`check ${c.name} passed: ${c.message}${where}`);
        else ctx.out.error(`check ${c.name} FAILED: ${c.message}${where}`);
      }
      const failed = checks.results.filter((c) => !c.passed);
      if (!failed.length) return { outcome: "SUCCESS", output };
      const first = failed[0]!;
      const where = first.file ? ` (${first.file}${first.line ? ` line ${first.line}` : ""})` : "";
      throw new StageFailedError(
        `CODE_CHECK failed at ${commitId.slice(0, 12)}: ${first.name}: ${first.message}${where}${
          failed.length > 1 ? `; ${failed.length - 1} more failed check(s)` : ""
        }`,
        { commitId, failedChecks: failed },
        false,
        output,
      );
    },
  };
}

/** The commit has at least one `evals/*.jsonl` (a regular file). */
function hasEvalCases(tree: readonly TreeEntry[]): boolean {
  return tree.some((e) => e.type === "blob" && e.mode !== "120000" && /^evals\/[^/]+\.jsonl$/.test(e.path));
}

/** Reads files at the checked commit, a few at once, saying which one it is reading. */
class Reader {
  private readonly sem: Semaphore;
  constructor(
    private readonly provider: GitProvider,
    private readonly commitId: string,
    private readonly ctx: StageContext,
    concurrency: number,
    private readonly pauseMs: number,
  ) {
    this.sem = new Semaphore(concurrency);
  }

  async read(path: string): Promise<Buffer> {
    await this.sem.acquire();
    try {
      if (this.ctx.signal.aborted) throw this.ctx.signal.reason;
      this.ctx.step(`reading ${path} at ${this.commitId.slice(0, 12)}`);
      return await untilAnswered(this.ctx, `reading ${path}`, this.pauseMs, () =>
        this.provider.readFile(path, this.commitId),
      );
    } finally {
      this.sem.release();
    }
  }
}

interface ProjectChecks {
  results: CodeCheckResult[];
  dependencyFile?: string;
  entryPoint?: string;
  pythonVersion?: string;
}

const check = (
  name: string,
  passed: boolean,
  message: string,
  where: { file?: string | undefined; line?: number | undefined } = {},
): CodeCheckResult => ({
  name,
  passed,
  message,
  ...(where.file ? { file: where.file } : {}),
  ...(where.line ? { line: where.line } : {}),
});

async function checkPythonProject(
  tree: TreeEntry[],
  reader: Reader,
  pythonBin: string,
  maxPythonFiles: number,
  ctx: StageContext,
): Promise<ProjectChecks> {
  // Regular files only: symlinks (mode 120000) hold a path, submodules are other repositories.
  const blobs = tree.filter((e) => e.type === "blob" && e.mode !== "120000");
  const files = new Set(blobs.map((e) => e.path));
  const results: CodeCheckResult[] = [];
  const out: ProjectChecks = { results };

  let pyproject: Pyproject | null = null;
  let pyprojectBroken = false;
  if (files.has("pyproject.toml")) {
    const parsed = parsePyproject((await reader.read("pyproject.toml")).toString("utf8"));
    if (!parsed.ok) {
      pyprojectBroken = true;
      results.push(
        check("pyproject-toml", false, `not valid TOML: ${parsed.message}`, {
          file: "pyproject.toml",
          line: parsed.line,
        }),
      );
    } else {
      pyproject = parsed.value;
      for (const p of parsed.problems)
        results.push(check("pyproject-toml", false, p.message, { file: "pyproject.toml", line: p.line }));
      if (!parsed.problems.length)
        results.push(check("pyproject-toml", true, "pyproject.toml parses", { file: "pyproject.toml" }));
    }
  }
  if (files.has("requirements.txt")) {
    results.push(...(await checkRequirementFiles(files, reader)));
  }

  const dep = chooseDependencyFile(files, pyproject);
  if (pyprojectBroken && !files.has("requirements.txt")) {
    results.push(
      check("dependency-file", false, "pyproject.toml is the only dependency file and it is not valid TOML", {
        file: "pyproject.toml",
      }),
    );
  } else {
    results.push(check("dependency-file", dep.ok, dep.message, { file: dep.file }));
    if (dep.ok) out.dependencyFile = dep.file;
  }

  const entry = findEntryPoint(files, pyproject);
  results.push(check("entry-point", entry.ok, entry.message, entry));
  if (entry.ok && entry.entryPoint) out.entryPoint = entry.entryPoint;

  const versionFile = files.has(".python-version")
    ? (await reader.read(".python-version")).toString("utf8")
    : null;
  const version = choosePythonVersion(versionFile, pyproject?.requiresPython ?? null);
  results.push(check("python-version", version.ok, version.message, version));
  if (version.ok && version.version) out.pythonVersion = version.version;

  const pyFiles = blobs.filter((e) => e.path.endsWith(".py")).map((e) => e.path);
  if (pyFiles.length > maxPythonFiles) {
    results.push(
      check("python-syntax", false, `${pyFiles.length} Python files; at most ${maxPythonFiles} are checked`),
    );
    return out;
  }
  const sources: PythonSource[] = await Promise.all(
    pyFiles.map(async (path) => ({ path, content: await reader.read(path) })),
  );
  ctx.step(`checking the syntax of ${sources.length} Python files with ${pythonBin}`);
  ctx.out.info(
    `compiling ${sources.length} Python file(s) with ${pythonBin} (parsed and compiled, never run)`,
  );
  const report = await checkPythonSyntax(pythonBin, sources, ctx.signal);
  // What the compiler said, as it said it: the file, the line (and column) and its message.
  for (const p of report.problems) {
    const at = p.line ? `, line ${p.line}${p.column ? `, column ${p.column}` : ""}` : "";
    ctx.out.error(`Python ${report.python}: File "${p.file}"${at}: SyntaxError: ${p.message}`);
  }
  for (const p of report.problems) {
    results.push(check("python-syntax", false, p.message, { file: p.file, line: p.line }));
  }
  if (!report.problems.length) {
    results.push(
      check(
        "python-syntax",
        sources.length > 0,
        sources.length > 0
          ? `${sources.length} Python file(s) compile (Python ${report.python})`
          : "no Python file in the repository",
      ),
    );
  }
  return out;
}

/** requirements.txt and the files it includes with -r / -c, each line as pip reads it. */
async function checkRequirementFiles(files: ReadonlySet<string>, reader: Reader): Promise<CodeCheckResult[]> {
  const results: CodeCheckResult[] = [];
  const queue = ["requirements.txt"];
  const seen = new Set<string>(queue);
  let total = 0;
  let problems = 0;
  while (queue.length) {
    const file = queue.shift()!;
    const parsed = parseRequirements((await reader.read(file)).toString("utf8"), file);
    total += parsed.requirements;
    for (const e of parsed.errors) {
      problems++;
      results.push(check("requirements-txt", false, e.message, { file, line: e.line }));
    }
    for (const inc of parsed.includes) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(inc.path)) continue; // a URL: pip fetches it
      if (!files.has(inc.path)) {
        problems++;
        results.push(
          check("requirements-txt", false, `includes ${inc.path}, which is not in the repository`, {
            file,
            line: inc.line,
          }),
        );
      } else if (!seen.has(inc.path) && seen.size < MAX_REQUIREMENT_FILES) {
        seen.add(inc.path);
        queue.push(inc.path);
      }
    }
  }
  if (!problems) {
    results.push(
      check("requirements-txt", true, `${total} requirement(s) in ${[...seen].join(", ")}`, {
        file: "requirements.txt",
      }),
    );
  }
  return results;
}
