import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import type { Readable } from "node:stream";

/**
 * Git's smart-HTTP protocol (`info/refs`, `git-upload-pack`, `git-receive-pack`) served by the real
 * `git http-backend` CGI program over the emulator's repositories, so clones, fetches and pushes
 * behave exactly as against a real server.
 */
export interface SmartHttpRequest {
  /** Directory holding the bare repositories. */
  projectRoot: string;
  /** Path below the root, e.g. `/group/name.git/info/refs`. */
  pathInfo: string;
  query: string;
  method: string;
  headers: IncomingMessage["headers"];
  /** Who pushes (required for receive-pack; git http-backend refuses pushes without it). */
  remoteUser: string | null;
  body: Readable | null;
  res: ServerResponse;
}

/** Runs git http-backend for one request and streams its answer; resolves when it is done. */
export function serveSmartHttp(req: SmartHttpRequest): Promise<number> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_PROJECT_ROOT: req.projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: req.pathInfo,
    QUERY_STRING: req.query,
    REQUEST_METHOD: req.method,
    CONTENT_TYPE: String(req.headers["content-type"] ?? ""),
    REMOTE_ADDR: "127.0.0.1",
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    ...(req.remoteUser ? { REMOTE_USER: req.remoteUser } : {}),
    ...(req.headers["content-length"] ? { CONTENT_LENGTH: String(req.headers["content-length"]) } : {}),
    ...(req.headers["content-encoding"]
      ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) }
      : {}),
    ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
  };
  return new Promise((resolve) => {
    const child = spawn("git", ["http-backend"], { env });
    let headerBuf = Buffer.alloc(0);
    let headersDone = false;
    let status = 200;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        req.res.write(chunk);
        return;
      }
      headerBuf = Buffer.concat([headerBuf, chunk]);
      let sep = headerBuf.indexOf("\r\n\r\n");
      let sepLen = 4;
      if (sep < 0) {
        sep = headerBuf.indexOf("\n\n");
        sepLen = 2;
      }
      if (sep < 0) return;
      const head = headerBuf.subarray(0, sep).toString("utf8");
      const rest = headerBuf.subarray(sep + sepLen);
      headersDone = true;
      for (const line of head.split(/\r?\n/)) {
        const idx = line.indexOf(":");
        if (idx <= 0) continue;
        const name = line.slice(0, idx).trim();
        const value = line.slice(idx + 1).trim();
        if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]) || 200;
        else req.res.setHeader(name, value);
      }
      req.res.statusCode = status;
      if (rest.length) req.res.write(rest);
    });
    child.stderr.on("data", () => {});
    child.on("error", () => {
      if (!req.res.headersSent) req.res.statusCode = 500;
      req.res.end();
      resolve(500);
    });
    child.on("close", () => {
      if (!headersDone) req.res.statusCode = 500;
      req.res.end();
      resolve(status);
    });
    child.stdin.on("error", () => {});
    if (req.body) req.body.pipe(child.stdin);
    else child.stdin.end();
  });
}

/** Splits `/group/name.git/info/refs` into the repository path and the git service part. */
export function parseGitPath(urlPath: string): { repoPath: string; rest: string } | null {
  // Like GitLab, GitHub and Gitee, the `.git` suffix is optional.
  const m = /^\/(.+?)(?:\.git)?(\/(?:info\/refs|git-upload-pack|git-receive-pack))$/.exec(urlPath);
  if (!m) return null;
  return { repoPath: m[1]!, rest: m[2]! };
}
