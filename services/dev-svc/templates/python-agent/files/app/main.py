"""HTTP entry point of the agent service.

Run it with `python -m app.main`. It listens on HOST:PORT (defaults 0.0.0.0:8000), or on the Unix
socket AGENT_SOCKET when that is set (pro-code's quality gate reaches it so, without a network),
and answers:

    GET  /healthz  -> {"status": "ok"}                   (liveness and readiness probe)
    GET  /         -> {"name": ..., "endpoints": [...]}
    POST /invoke   {"input": "..."} -> {"output": "..."}

Only Python's standard library is used.
"""

import json
import logging
import os
import signal
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingUnixStreamServer

from app.agent import Agent

MAX_BODY_BYTES = 1024 * 1024
log = logging.getLogger("agent")


class AgentHandler(BaseHTTPRequestHandler):
    """Routes requests to the agent; every answer is JSON."""

    server_version = "python-agent/1.0"
    agent = Agent()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/healthz":
            self._send(HTTPStatus.OK, {"status": "ok"})
        elif self.path == "/":
            self._send(
                HTTPStatus.OK,
                {"name": self.agent.name, "endpoints": ["GET /healthz", "POST /invoke"]},
            )
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route GET {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/invoke":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route POST {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "Content-Length must be 0 to 1048576"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._send(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
            return
        if not isinstance(body, dict) or not isinstance(body.get("input"), str):
            self._send(HTTPStatus.BAD_REQUEST, {"error": 'send {"input": "<text>"}'})
            return
        self._send(HTTPStatus.OK, {"output": self.agent.reply(body["input"])})

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class UnixAgentServer(ThreadingUnixStreamServer):
    """The same service on a Unix socket; http.server expects a (host, port) peer address."""

    daemon_threads = True
    # Cases come several at once: socketserver's default backlog of 5 refuses the rest.
    request_queue_size = 64

    def get_request(self):  # noqa: ANN201 (socketserver's signature)
        conn, _ = super().get_request()
        return conn, ("unix", 0)


def make_server(host: str = "0.0.0.0", port: int = 8000) -> ThreadingHTTPServer:
    """The server, bound but not yet serving (port 0 picks a free port)."""
    return ThreadingHTTPServer((host, port), AgentHandler)


def make_unix_server(path: str) -> UnixAgentServer:
    """The server on a Unix socket at `path` (a stale socket file there is replaced)."""
    if os.path.exists(path):
        os.unlink(path)
    return UnixAgentServer(path, AgentHandler)


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(message)s")
    socket_path = os.environ.get("AGENT_SOCKET")
    if socket_path:
        server = make_unix_server(socket_path)
        log.info("agent listening on unix:%s", socket_path)
    else:
        server = make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000")))
        host, port = server.server_address[:2]
        log.info("agent listening on http://%s:%s", host, port)
    # SIGTERM (a container stopping) ends serve_forever cleanly, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
