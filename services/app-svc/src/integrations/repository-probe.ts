import { execFile } from "node:child_process";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import {
  errorMessage,
  guardedRequest,
  localRepositoryOwner,
  UrlRefusedError,
  type UrlPolicy,
} from "@procode/service-kit";
import type { RepositoryTarget } from "../domain/repository-url.js";

/** What a reachability probe found (unreachable: 1003). */
type ProbeResult = { reachable: true; credentialRequired: boolean } | { reachable: false; reason: string };

export interface RepositoryProbe {
  /** `team`: the caller's team (a LOCAL repository another team owns is not reachable for it). */
  probe(target: RepositoryTarget, team: string): Promise<ProbeResult>;
}

export interface RepositoryProbeOptions {
  policy: UrlPolicy;
  timeoutMs: number;
  /** Root of the LOCAL provider's repositories; undefined when local repositories are off. */
  localRoot: string | undefined;
}

const ADVERTISEMENT_TYPE = "application/x-git-upload-pack-advertisement";

/** Names the cause of a failed request without echoing internals (DNS, refused, timeout, guard). */
function describeFailure(err: unknown, timeoutMs: number): string {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UrlRefusedError) return `refused: ${e.message}`;
    const code = (e as { code?: string }).code;
    const name = (e as { name?: string }).name;
    if (name === "TimeoutError" || name === "AbortError" || /TIMEOUT/.test(code ?? "")) {
      return `no answer within ${timeoutMs} ms`;
    }
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the host name does not resolve";
    if (code === "ECONNREFUSED") return "the connection was refused";
    if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "the connection was reset";
    if (code === "CERT_HAS_EXPIRED" || /CERT|SSL|TLS/i.test(code ?? "")) {
      return "the TLS certificate could not be verified";
    }
  }
  return `the request failed (${errorMessage(err).slice(0, 120)})`;
}

/**
 * Git smart-HTTP discovery (`GET <repo>/info/refs?service=git-upload-pack`) through the SSRF guard:
 * an advertisement means the repository is there; 401/403 means it is there but needs a credential.
 */
async function probeHttp(url: string, opts: RepositoryProbeOptions): Promise<ProbeResult> {
  let res;
  try {
    res = await guardedRequest(`${url}/info/refs?service=git-upload-pack`, opts.policy, {
      timeoutMs: opts.timeoutMs,
      maxRedirects: 3,
      maxBodyBytes: 64 * 1024,
      headers: { accept: `${ADVERTISEMENT_TYPE}, */*;q=0.1` },
    });
  } catch (err) {
    return { reachable: false, reason: describeFailure(err, opts.timeoutMs) };
  }
  if (res.status === 401 || res.status === 403) return { reachable: true, credentialRequired: true };
  if (res.status === 404) return { reachable: false, reason: "the repository was not found (HTTP 404)" };
  if (res.status !== 200) return { reachable: false, reason: `the server answered HTTP ${res.status}` };
  const type = String(res.headers["content-type"] ?? "").toLowerCase();
  if (!type.startsWith(ADVERTISEMENT_TYPE) || !res.body.includes("# service=git-upload-pack")) {
    return {
      reachable: false,
      reason: "the server answered but not as a git repository (no smart-HTTP advertisement)",
    };
  }
  return { reachable: true, credentialRequired: false };
}

function git(args: string[], opts: { cwd: string; timeoutMs: number; ceiling: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      args,
      {
        cwd: opts.cwd,
        timeout: opts.timeoutMs,
        maxBuffer: 64 * 1024,
        // Never look above the root for a repository, never prompt, never read user config.
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          GIT_CEILING_DIRECTORIES: opts.ceiling,
          GIT_TERMINAL_PROMPT: "0",
          GIT_CONFIG_NOSYSTEM: "1",
          HOME: opts.ceiling,
        },
      },
      (err, stdout) => (err ? reject(new Error(err.message)) : resolve(stdout.trim())),
    );
  });
}

/** `<root>/<name>` or `<root>/<name>.git` is itself a git repository (not a folder inside one). */
async function probeLocal(name: string, team: string, opts: RepositoryProbeOptions): Promise<ProbeResult> {
  const notThere: ProbeResult = {
    reachable: false,
    reason: `no git repository named ${name} under the local repository root`,
  };
  if (!opts.localRoot) return { reachable: false, reason: "local repositories are not enabled" };
  let root: string;
  try {
    root = await realpath(opts.localRoot);
  } catch {
    return { reachable: false, reason: "the local repository root does not exist" };
  }
  for (const candidate of [name, `${name}.git`]) {
    const dir = path.join(root, candidate);
    if (path.dirname(dir) !== root) continue;
    try {
      if (!(await stat(dir)).isDirectory()) continue;
      const real = await realpath(dir);
      const gitDir = await git(["rev-parse", "--absolute-git-dir"], {
        cwd: real,
        timeoutMs: opts.timeoutMs,
        ceiling: root,
      });
      if (gitDir === real || gitDir === path.join(real, ".git")) {
        // Another team's repository is not there for this team, in the very same words.
        const owner = await localRepositoryOwner(gitDir);
        return owner === null || owner === team ? { reachable: true, credentialRequired: false } : notThere;
      }
    } catch {
      // Not there or not a repository: try the other name, then report.
    }
  }
  return notThere;
}

export function createRepositoryProbe(opts: RepositoryProbeOptions): RepositoryProbe {
  return {
    probe: (target, team) =>
      target.kind === "local" ? probeLocal(target.name, team, opts) : probeHttp(target.url, opts),
  };
}
