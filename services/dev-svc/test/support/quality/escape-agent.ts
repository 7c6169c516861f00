import type { Files } from "../runners/repos.js";

/**
 * An agent whose `/invoke` tries one way out of the quality gate's sandbox per input and answers
 * what happened: `refused: <errno or error>` or `allowed: ...`. Its cases (evals/escape.jsonl)
 * expect every attempt refused; `cpu-spin` never answers, and the gate must end it and report it.
 */
const MAIN = String.raw`import ctypes, json, os, socket, sys, time
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingUnixStreamServer

libc = ctypes.CDLL(None, use_errno=True)
SECRETS = ("DATABASE_URL", "ENCRYPTION_KEYS", "JWT_SECRET", "NATS_URL")
# Written apart so that this file does not hold the text it looks for.
MARKER = "escape-cases-" + "marker-7f3a"


def errno_of(e):
    return getattr(e, "errno", None) or type(e).__name__


def network():
    try:
        socket.create_connection(("1.1.1.1", 80), timeout=2)
        return "allowed: reached 1.1.1.1"
    except OSError as e:
        return "refused: %s" % errno_of(e)


def host_loopback(port):
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).recv(100)
        return "allowed: reached the host"
    except OSError as e:
        return "refused: %s" % errno_of(e)


def write_outside_tmp():
    out = []
    for path in ("/app/x", "/x", "/etc/x", "/usr/x", "/dev/shm/x", "/proc/x"):
        try:
            open(path, "w").write("x")
            out.append("allowed %s" % path)
        except OSError as e:
            out.append(str(errno_of(e)))
    return ("allowed: " if any(o.startswith("allowed") for o in out) else "refused: ") + ",".join(out)


def readable_files(root, skip):
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip]
        for f in files:
            yield os.path.join(d, f)


def read_secrets():
    found = [k for k in SECRETS if k in os.environ]
    for path in readable_files("/proc", set()):
        if not path.endswith("/environ"):
            continue
        try:
            text = open(path, "rb").read().decode("utf8", "replace")
        except OSError:
            continue
        found += [k for k in SECRETS if k in text]
    return "allowed: %s" % sorted(set(found)) if found else "refused: no secret in reach"


def read_cases():
    if os.path.exists("/app/evals"):
        return "allowed: /app/evals exists"
    for path in readable_files("/", {"/proc", "/usr", "/sys", "/dev"}):
        try:
            if MARKER in open(path, "rb").read(1 << 20).decode("utf8", "replace"):
                return "allowed: %s" % path
        except OSError:
            pass
    return "refused: the cases are nowhere"


def fork_bomb():
    pids = []
    try:
        for _ in range(5000):
            pid = os.fork()
            if pid == 0:
                time.sleep(0.5)
                os._exit(0)
            pids.append(pid)
        return "allowed: %d processes" % len(pids)
    except OSError as e:
        return "refused: %s after %d" % (errno_of(e), len(pids))
    finally:
        for pid in pids:
            os.waitpid(pid, 0)


def memory_bomb():
    try:
        block = bytearray(4 * 1024 * 1024 * 1024)
        return "allowed: %d bytes" % len(block)
    except MemoryError:
        return "refused: MemoryError"


def ptrace():
    if libc.ptrace(16, os.getppid(), 0, 0) != 0:  # PTRACE_ATTACH
        return "refused: %d" % ctypes.get_errno()
    return "allowed: attached"


def nested_namespaces():
    out = []
    for flag in (0x10000000, 0x40000000, 0x00020000):  # user, net, mount
        out.append(str(ctypes.get_errno()) if libc.unshare(flag) != 0 else "allowed")
    return ("allowed: " if "allowed" in out else "refused: ") + ",".join(out)


def fill_tmp():
    written = 0
    try:
        for i in range(100):
            with open("/tmp/fill-%d" % i, "wb") as f:
                f.write(b"x" * (8 * 1024 * 1024))
            written += 8
        return "allowed: %d MiB" % written
    except OSError as e:
        return "refused: %s after %d MiB" % (errno_of(e), written)
    finally:
        for i in range(100):
            try:
                os.unlink("/tmp/fill-%d" % i)
            except OSError:
                pass


def cpu_spin():
    while True:
        pass


PROBES = {
    "network": network,
    "write-outside-tmp": write_outside_tmp,
    "read-secrets": read_secrets,
    "read-cases": read_cases,
    "fork-bomb": fork_bomb,
    "memory-bomb": memory_bomb,
    "ptrace": ptrace,
    "nested-namespaces": nested_namespaces,
    "fill-tmp": fill_tmp,
    "cpu-spin": cpu_spin,
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send(200, {"status": "ok"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = body["input"]
        if name.startswith("host-loopback:"):
            self.send(200, {"output": host_loopback(name.split(":", 1)[1])})
        else:
            self.send(200, {"output": PROBES[name]()})

    def send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingUnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("unix", 0)


if __name__ == "__main__":
    Server(os.environ["AGENT_SOCKET"], Handler).serve_forever()
`;

const refused = (id: string, input: string, value: string, kind = "regex") =>
  JSON.stringify({
    id,
    input,
    assert: [{ type: kind, value }],
    tags: ["escape", "escape-cases-marker-7f3a"],
  });

/** The escape battery as an app's repository, reaching back to the host on `hostPort` for one case. */
export function escapeAgent(hostPort: number): Files {
  return {
    "requirements.txt": "\n",
    "app/__init__.py": "",
    "app/main.py": MAIN,
    // Room for the fork bomb to reach the process limit on a busy machine, where each fork is slow.
    "evals/gate.json": JSON.stringify({ concurrency: 1, caseTimeoutMs: 6000 }),
    "evals/escape.jsonl": [
      refused("network", "network", "^refused: 101$"),
      refused("host-loopback", `host-loopback:${hostPort}`, "^refused: (111|101)$"),
      refused("write-outside-tmp", "write-outside-tmp", "refused: 30,30,30,30,30,2", "equals"),
      refused("read-secrets", "read-secrets", "refused: no secret in reach", "equals"),
      refused("read-cases", "read-cases", "refused: the cases are nowhere", "equals"),
      refused("fork-bomb", "fork-bomb", "^refused: 11 after \\d+$"),
      refused("memory-bomb", "memory-bomb", "refused: MemoryError", "equals"),
      refused("ptrace", "ptrace", "refused: 1", "equals"),
      refused("nested-namespaces", "nested-namespaces", "refused: 1,1,1", "equals"),
      refused("fill-tmp", "fill-tmp", "^refused: 28 after \\d+ MiB$"),
      refused("cpu-spin", "cpu-spin", "never answers"),
    ].join("\n"),
  };
}
