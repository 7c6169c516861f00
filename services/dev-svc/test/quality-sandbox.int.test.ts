import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSandboxed, sandboxUnavailable, spawnSandboxed, stopSandboxed } from "../src/quality/sandbox.js";

/**
 * The quality gate's sandbox on this machine's bubblewrap: every property of the profile is probed
 * from inside by a small Python program, and the one channel (a Unix socket) is used from outside.
 */
const scratch = mkdtempSync(path.join(tmpdir(), "procode-sandbox-"));
const tree = path.join(scratch, "tree");
const sockets = path.join(scratch, "sockets");
let hostPort = 0;
const host = net.createServer((s) => s.end("reached the host\n"));

beforeAll(async () => {
  mkdirSync(path.join(tree, "evals"), { recursive: true });
  mkdirSync(sockets);
  writeFileSync(path.join(tree, "evals", "cases.jsonl"), '{"id":"secret"}\n');
  writeFileSync(
    path.join(tree, "probe.py"),
    `import ctypes, json, os, socket, sys
def probe(f):
    try:
        return "allowed: %r" % (f(),)
    except Exception as e:
        return "refused: %s" % (getattr(e, "errno", None) or type(e).__name__)
libc = ctypes.CDLL(None, use_errno=True)
def unshare():
    if libc.unshare(0x00020000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
def forks(n):
    for _ in range(n):
        if os.fork() == 0:
            import time; time.sleep(2); os._exit(0)
print(json.dumps({
    "uid": os.getuid(),
    "env": sorted(os.environ),
    "write_code": probe(lambda: open("/app/new-file", "w")),
    "write_root": [probe(lambda: open(p, "w")) for p in ("/new-file", "/etc/new-file", "/dev/shm/new-file")],
    "evals": os.listdir("/app/evals"),
    "host_tcp": probe(lambda: socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).recv(100)),
    "internet": probe(lambda: socket.create_connection(("1.1.1.1", 80), timeout=2)),
    "big_file": probe(lambda: open("/tmp/big", "wb").write(b"x" * (20 * 1024 * 1024))),
    "full_tmp": probe(lambda: [open("/tmp/f%d" % i, "wb").write(b"x" * (8 * 1024 * 1024)) for i in range(6)]),
    "unshare": probe(unshare),
    "forks": probe(lambda: forks(100)),
}))
`,
  );
  writeFileSync(
    path.join(tree, "serve.py"),
    `import http.server, os, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the sandbox"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
class S(socketserver.UnixStreamServer):
    def get_request(self):
        r, _ = super().get_request()
        return r, ("sandbox", 0)
if os.path.exists("/run/agent/agent.sock"): os.unlink("/run/agent/agent.sock")
S("/run/agent/agent.sock", H).serve_forever()
`,
  );
  await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
  hostPort = (host.address() as net.AddressInfo).port;
});
afterAll(() => {
  host.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("the quality gate sandbox", () => {
  it("has what it needs on this machine", () => {
    expect(sandboxUnavailable()).toBeNull();
  });

  it("runs as nobody with an empty environment, read-only code, hidden cases, no network, a capped /tmp, a syscall filter and a process limit", async () => {
    const r = await runSandboxed({
      tree,
      command: ["/usr/bin/python3", "-I", "probe.py", String(hostPort)],
      env: { GATE: "1" },
      timeoutMs: 60_000,
      limits: { processes: 32, tmpBytes: 32 * 1024 * 1024 },
    });
    expect(r, r.stderr).toMatchObject({ code: 0, timedOut: false });
    const seen = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(seen).toEqual({
      uid: 65534,
      env: ["GATE", "HOME", "LANG", "PATH", "PWD"],
      write_code: "refused: 30", // EROFS
      write_root: ["refused: 30", "refused: 30", "refused: 30"], // the sandbox's own root and /dev too
      evals: [],
      host_tcp: expect.stringMatching(/^refused: (111|101)$/), // no route to the host's loopback
      internet: "refused: 101", // ENETUNREACH
      big_file: "refused: 27", // EFBIG: the file size limit
      full_tmp: "refused: 28", // ENOSPC: /tmp's size
      unshare: "refused: 1", // EPERM from the seccomp filter
      forks: "refused: 11", // EAGAIN: the pids cgroup
    });
  });

  it("ends a run at its deadline, with everything it started", async () => {
    const r = await runSandboxed({
      tree,
      command: ["/bin/sh", "-c", "sleep 30 & sleep 30"],
      timeoutMs: 500,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGKILL");
  });

  it("is reached from outside only through a Unix socket in /run/agent", async () => {
    const child = spawnSandboxed({
      tree,
      socketDir: sockets,
      command: ["/usr/bin/python3", "-I", "serve.py"],
    });
    try {
      const socketPath = path.join(sockets, "agent.sock");
      const get = () =>
        new Promise<string>((resolve, reject) => {
          http
            .get({ socketPath, path: "/" }, (res) => {
              let body = "";
              res.on("data", (c: Buffer) => (body += c.toString()));
              res.on("end", () => resolve(body));
            })
            .on("error", reject);
        });
      let answer = "";
      for (let i = 0; i < 100 && !answer; i++) {
        answer = await get().catch(() => new Promise<string>((r) => setTimeout(() => r(""), 100)));
      }
      expect(answer).toBe("hello from the sandbox");
    } finally {
      stopSandboxed(child);
    }
  });
});
