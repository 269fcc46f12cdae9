"""A real OpenAI-compatible chat endpoint on 127.0.0.1 that answers instantly and fails on purpose.

Used by tests/test_llm_client.py (in a thread) and scripts/bench_llm_client.py (as a process:
`python tests/llm_stub_server.py` prints its port). What it does with a request is steered by the
text of the last message, so each test request chooses its own failure:

    "fail429:N"        the first N attempts get 429 with Retry-After: 1
    "fail500:N"        the first N attempts get 500
    "sleep:S:N"        the first N attempts sleep S seconds before answering (a client timeout)
    "delay:S"          every attempt sleeps S seconds (answers finish out of order)
    "bad400"           always 400 (a permanent failure)
    "leak"             the answer echoes the Authorization header (the client must scrub it)
    anything else      200 with content "echo:<text>"

Every attempt is counted per message text; GET /stats returns {"attempts": {text: n}, "total": n}.
With require_key set, a request without `Authorization: Bearer <key>` gets 401.
"""

from __future__ import annotations

import http.server
import sys
import threading
import time

import orjson


class StubState:
    def __init__(self, require_key: str | None = None):
        self.require_key = require_key
        self.attempts: dict[str, int] = {}
        self.total = 0
        self.lock = threading.Lock()

    def count(self, text: str) -> int:
        with self.lock:
            n = self.attempts.get(text, 0) + 1
            self.attempts[text] = n
            self.total += 1
            return n


def _answer(text: str, model: str) -> dict:
    words = len(text.split())
    return {"id": "chatcmpl-stub", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "echo:" + text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": words, "completion_tokens": 3, "total_tokens": words + 3}}


def make_handler(state: StubState):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        disable_nagle_algorithm = True  # else headers and body, written apart, wait 40 ms for a delayed ACK

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, obj, headers: dict | None = None):
            data = orjson.dumps(obj)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self._headers_buffer.append(b"\r\n" + data)  # headers and body in one write
            self.flush_headers()

        def do_GET(self):
            if self.path == "/stats":
                with state.lock:
                    self._send(200, {"attempts": dict(state.attempts), "total": state.total})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            try:
                body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            except orjson.JSONDecodeError:  # e.g. a client killed between headers and body
                return self._send(400, {"error": {"message": "body is not JSON"}})
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            auth = self.headers.get("Authorization")
            if state.require_key and auth != f"Bearer {state.require_key}":
                return self._send(401, {"error": {"message": "missing or wrong API key"}})
            text = body["messages"][-1]["content"]
            n = state.count(text)
            cmd = text.split(" ", 1)[0].split(":")
            if cmd[0] == "fail429" and n <= int(cmd[1]):
                return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
            if cmd[0] == "fail500" and n <= int(cmd[1]):
                return self._send(500, {"error": {"message": "internal error"}})
            if cmd[0] == "sleep" and n <= int(cmd[2]):
                time.sleep(float(cmd[1]))
            if cmd[0] == "delay":
                time.sleep(float(cmd[1]))
            if cmd[0] == "bad400":
                return self._send(400, {"error": {"message": "invalid request"}})
            answer = _answer(text, body.get("model", ""))
            if cmd[0] == "leak":
                answer["choices"][0]["message"]["content"] = f"you sent {auth}"
            self._send(200, answer)

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops connects when 64 clients open at once
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed client is expected here
            super().handle_error(request, client_address)


class StubServer:
    """`with StubServer() as srv:` serves on 127.0.0.1 in a thread; srv.url is the /v1 base URL."""

    def __init__(self, require_key: str | None = None, port: int = 0):
        self.state = StubState(require_key)
        self.httpd = _Server(("127.0.0.1", port), make_handler(self.state))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    srv = StubServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(srv.port, flush=True)
    srv.httpd.serve_forever()
