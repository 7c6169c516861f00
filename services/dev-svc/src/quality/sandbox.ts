import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmdirSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { shippedPath } from "../shipped.js";

/**
 * The quality gate's sandbox (docs/quality-gate.md, "Isolation"): the agent's code and tests run
 * under bubblewrap with no network, no platform secrets (an empty environment), the code mounted
 * read-only with its `evals/` hidden, a size-capped `/tmp`, uid 65534 with no capabilities, a
 * seccomp filter, and CPU-time, memory, process, file-size and wall-clock limits. The only way in or
 * out besides standard output is a directory of Unix sockets (`/run/agent`), which reaches a server
 * inside the sandbox although it has no network.
 */

interface SandboxLimits {
  /** Address space, bytes. */
  memoryBytes: number;
  /** Size of `/tmp`, bytes. */
  tmpBytes: number;
  /** Processes and threads of the sandbox's user. */
  processes: number;
  /** CPU seconds. */
  cpuSeconds: number;
  /** Largest file it may write, bytes. */
  fileBytes: number;
}

const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 1024 * 1024 * 1024,
  tmpBytes: 64 * 1024 * 1024,
  processes: 256,
  cpuSeconds: 600,
  fileBytes: 10 * 1024 * 1024,
};

export interface SandboxRun {
  /** The tree of the release commit, mounted read-only at `/app` (the working directory). */
  tree: string;
  /** argv inside the sandbox; programs from the host's `/usr`. */
  command: string[];
  /** A host directory mounted read-write at `/run/agent`, for Unix sockets. */
  socketDir?: string;
  /** Environment inside (besides PATH, HOME and LANG); never the platform's. */
  env?: Record<string, string>;
  limits?: Partial<SandboxLimits>;
}

const SECCOMP_COMPILER = "/usr/bin/python3";

/** What the machine lacks to run the sandbox, in words an operator can act on; null when it has it. */
export function sandboxUnavailable(): string | null {
  if (!existsSync("/usr/bin/bwrap")) return "bubblewrap is not installed (apt-get install bubblewrap)";
  const probe = spawnSync(SECCOMP_COMPILER, ["-c", "import seccomp"], { encoding: "utf8" });
  if (probe.status !== 0) return "python3-seccomp is not installed (apt-get install python3-seccomp)";
  return null;
}

let filterPath: string | null = null;
/** The seccomp program, compiled once per process by `programs/sandbox_seccomp.py`. */
function seccompFilter(): string {
  if (filterPath && existsSync(filterPath)) return filterPath;
  const out = path.join(mkdtempSync(path.join(tmpdir(), "procode-seccomp-")), "filter.bpf");
  const r = spawnSync(SECCOMP_COMPILER, [shippedPath("programs", "sandbox_seccomp.py"), out], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`could not compile the sandbox's seccomp filter: ${r.stderr.trim()}`);
  filterPath = out;
  return out;
}

/**
 * A pids cgroup holding at most `max` tasks, or null when the machine gives none to write (then the
 * process limit rests on RLIMIT_NPROC, which a root-owned sandbox escapes: docs/quality-gate.md).
 * RLIMIT_NPROC counts per real user, and the sandbox's real user is dev-svc's.
 */
function pidsCgroup(max: number): string | null {
  for (const root of ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]) {
    if (!existsSync(path.join(root, "pids.max")) && !existsSync(path.join(root, "cgroup.procs"))) continue;
    const dir = path.join(root, `procode-sandbox-${randomUUID()}`);
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, "pids.max"), String(max));
      return dir;
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // never made
      }
    }
  }
  return null;
}

function removeCgroup(dir: string | null): void {
  if (!dir) return;
  try {
    rmdirSync(dir);
  } catch {
    // still has tasks for a moment, or already gone
  }
}

/** The file descriptor bwrap reads the seccomp program from. */
const SECCOMP_FD = 10;

/** prlimit + bwrap argv for a run. */
function sandboxArgv(run: SandboxRun): string[] {
  const l = { ...DEFAULT_LIMITS, ...run.limits };
  const evals = path.join(run.tree, "evals");
  return [
    "prlimit",
    `--as=${l.memoryBytes}`,
    `--nproc=${l.processes}`,
    `--fsize=${l.fileBytes}`,
    `--cpu=${l.cpuSeconds}`,
    "--nofile=256",
    "--",
    "bwrap",
    ...["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"],
    ...["--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"],
    ...["--ro-bind-try", "/etc/alternatives", "/etc/alternatives"],
    ...["--ro-bind-try", "/etc/ssl/certs", "/etc/ssl/certs"],
    ...["--proc", "/proc", "--dev", "/dev"],
    ...["--size", String(l.tmpBytes), "--tmpfs", "/tmp"],
    ...["--ro-bind", run.tree, "/app"],
    // The agent never sees its evaluation cases: an empty, read-only directory over them.
    ...(existsSync(evals) ? ["--size", "4096", "--tmpfs", "/app/evals", "--remount-ro", "/app/evals"] : []),
    ...(run.socketDir ? ["--bind", run.socketDir, "/run/agent"] : []),
    // bwrap's root and /dev are writable tmpfs of their own (/dev/shm unbounded): only /tmp is written.
    ...["--remount-ro", "/dev", "--remount-ro", "/"],
    ...["--chdir", "/app"],
    ...["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"],
    ...["--die-with-parent", "--new-session", "--clearenv"],
    ...["--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8"],
    ...Object.entries(run.env ?? {}).flatMap(([k, v]) => ["--setenv", k, v]),
    ...["--cap-drop", "ALL", "--disable-userns", "--assert-userns-disabled"],
    ...["--seccomp", String(SECCOMP_FD)],
    ...run.command,
  ];
}

/**
 * Starts a sandboxed process (its own process group: `stopSandboxed` ends it and all it started).
 * A small shell enters the pids cgroup first and then becomes the sandbox, so nothing it starts is
 * ever outside the cgroup.
 */
export function spawnSandboxed(run: SandboxRun): ChildProcess {
  const limits = { ...DEFAULT_LIMITS, ...run.limits };
  const cgroup = pidsCgroup(limits.processes);
  const argv = sandboxArgv(run);
  const enter = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && ` : "";
  // bwrap reads the program to the end of its descriptor: a new descriptor for every run.
  const fd = openSync(seccompFilter(), "r");
  try {
    const stdio: (number | "pipe" | "ignore")[] = ["ignore", "pipe", "pipe"];
    while (stdio.length < SECCOMP_FD) stdio.push("ignore");
    stdio[SECCOMP_FD] = fd;
    const child = spawn("/bin/sh", ["-c", `${enter}exec "$@"`, "sandbox", ...argv], {
      stdio,
      detached: true,
      env: { PATH: "/usr/bin:/bin" },
    });
    child.once("close", () => removeCgroup(cgroup));
    return child;
  } finally {
    closeSync(fd);
  }
}

export function stopSandboxed(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export interface SandboxResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Standard output and error, each cut at `maxOutputBytes`. */
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** Runs a command in the sandbox to its end or its deadline, and collects what it printed. */
export function runSandboxed(
  run: SandboxRun & { timeoutMs: number; maxOutputBytes?: number },
): Promise<SandboxResult> {
  const max = run.maxOutputBytes ?? 256 * 1024;
  const started = performance.now();
  const child = spawnSandboxed(run);
  const collect = (s: NodeJS.ReadableStream | null) => {
    const parts: Buffer[] = [];
    let size = 0;
    s?.on("data", (b: Buffer) => {
      if (size < max) parts.push(b.subarray(0, max - size));
      size += b.length;
    });
    return () => Buffer.concat(parts).toString("utf8") + (size > max ? `\n[cut at ${max} bytes]` : "");
  };
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stopSandboxed(child);
  }, run.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: out(),
        stderr: err(),
        timedOut,
        durationMs: Math.round(performance.now() - started),
      });
    });
  });
}
