"""Tests of the agent and of its HTTP service. Run: python -m unittest discover -s tests -t ."""

import http.client
import json
import os
import socket
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

from app.agent import Agent
from app.main import make_server, make_unix_server


class AgentTest(unittest.TestCase):
    def test_greets(self) -> None:
        self.assertIn("python-agent", Agent().reply("Hello!"))

    def test_answers_a_question(self) -> None:
        self.assertEqual(Agent().reply("Is it up?"), "Good question. You asked: Is it up?")

    def test_asks_for_input_when_empty(self) -> None:
        self.assertEqual(Agent().reply("   "), "Say something and I will answer.")


class ServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = make_server("127.0.0.1", 0)
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"
        # A short poll interval: shutdown() waits for it.
        cls.thread = threading.Thread(
            target=cls.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        cls.thread.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(self.base + path, data=body, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return res.status, json.loads(res.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def test_healthz(self) -> None:
        self.assertEqual(self.request("GET", "/healthz"), (200, {"status": "ok"}))

    def test_invoke(self) -> None:
        status, body = self.request("POST", "/invoke", json.dumps({"input": "build me"}).encode())
        self.assertEqual((status, body), (200, {"output": "You said: build me"}))

    def test_invoke_refuses_a_body_without_input(self) -> None:
        status, body = self.request("POST", "/invoke", b'{"text": 1}')
        self.assertEqual(status, 400)
        self.assertIn("input", body["error"])

    def test_invoke_refuses_what_is_not_json(self) -> None:
        self.assertEqual(self.request("POST", "/invoke", b"{not json")[0], 400)

    def test_unknown_route(self) -> None:
        self.assertEqual(self.request("GET", "/nope")[0], 404)


class UnixSocketTest(unittest.TestCase):
    """AGENT_SOCKET: the same service on a Unix socket (how the quality gate reaches it)."""

    def test_invoke_over_a_unix_socket(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "agent.sock")
            server = make_unix_server(path)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            try:
                conn = http.client.HTTPConnection("localhost", timeout=5)
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.connect(path)
                conn.request("POST", "/invoke", json.dumps({"input": "hi"}), {"Content-Type": "application/json"})
                res = conn.getresponse()
                self.assertEqual((res.status, json.loads(res.read())["output"][:6]), (200, "Hello!"))
                conn.close()
            finally:
                server.shutdown()
                server.server_close()


if __name__ == "__main__":
    unittest.main()
