import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Creates real git repositories for a test under a fresh temporary directory. */
export class GitRepos {
  private constructor(readonly root: string) {}

  static async create(): Promise<GitRepos> {
    return new GitRepos(await mkdtemp(path.join(tmpdir(), "app-svc-git-")));
  }

  /** A bare repository `<root>/<name>` with one commit on main. */
  async bare(name: string): Promise<string> {
    const dir = path.join(this.root, name);
    await run("git", ["init", "--quiet", "--bare", "--initial-branch=main", dir]);
    const work = await mkdtemp(path.join(tmpdir(), "app-svc-work-"));
    try {
      await run("git", ["init", "--quiet", "--initial-branch=main", work]);
      await run("git", ["-C", work, "commit", "--quiet", "--allow-empty", "-m", "initial"], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@example.com",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.com",
        },
      });
      await run("git", ["-C", work, "push", "--quiet", dir, "main"]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return dir;
  }

  /** A non-bare repository (working tree with .git) `<root>/<name>`. */
  async worktree(name: string): Promise<string> {
    const dir = path.join(this.root, name);
    await run("git", ["init", "--quiet", "--initial-branch=main", dir]);
    return dir;
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/**
 * A real git smart-HTTP server: `git http-backend` run as CGI over the repositories of a root, plus a
 * few paths that answer like servers do when things are not right (auth required, forbidden,
 * redirect, a web page, a server error).
 */
export class GitHttpServer {
  readonly requests: string[] = [];
  private server: http.Server | undefined;
  port = 0;

  constructor(private readonly projectRoot: string) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.base);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.pathname.startsWith("/private/")) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end("authentication required");
      return;
    }
    if (url.pathname.startsWith("/forbidden/")) {
      res.writeHead(403).end("forbidden");
      return;
    }
    const redirect = /^\/redirect-to\/(\d+)(\/.*)$/.exec(url.pathname);
    if (redirect) {
      res.writeHead(302, { location: `http://127.0.0.1:${redirect[1]}${redirect[2]}${url.search}` }).end();
      return;
    }
    const local = /^\/redirect-here(\/.*)$/.exec(url.pathname);
    if (local) {
      res.writeHead(301, { location: `${local[1]}${url.search}` }).end();
      return;
    }
    if (url.pathname.startsWith("/web/")) {
      res.writeHead(200, { "content-type": "text/html" }).end("<html>a web page</html>");
      return;
    }
    if (url.pathname.startsWith("/broken/")) {
      res.writeHead(502).end("bad gateway");
      return;
    }
    await this.cgi(req, res, url);
  }

  private async cgi(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const child = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: this.projectRoot,
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ""),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_ADDR: "127.0.0.1",
      },
    });
    req.pipe(child.stdin);
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => child.on("close", () => resolve()));
    const out = Buffer.concat(chunks);
    let split = out.indexOf("\r\n\r\n");
    let sep = 4;
    if (split < 0) {
      split = out.indexOf("\n\n");
      sep = 2;
    }
    if (split < 0) {
      res.writeHead(500).end("no CGI output");
      return;
    }
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of out.subarray(0, split).toString("utf8").split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      if (name === "status") status = Number(value.split(" ")[0]);
      else headers[name] = value;
    }
    res.writeHead(status, headers).end(out.subarray(split + sep));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A TCP listener that only records whether anyone connected (and answers nothing). */
export class ConnectionRecorder {
  connections = 0;
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  port = 0;

  async start(): Promise<this> {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
