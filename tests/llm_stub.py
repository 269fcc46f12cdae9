"""A small stand-in LLM for the rating tests: a real HTTP server on 127.0.0.1 that answers chat
completions in each annotation task's format, from levels the test knows for each document.

It reads the document (or the two excerpts) out of the prompt the way a model would see it, looks
up the document's level by its first characters, and answers:
- edu: a justification and "Educational score: N"; edu-json: {"score": N}
- qurating-pairwise: "A" or "B" (the higher level wins; a tie answers "A", a position bias the
  two-order calibration must cancel), with top log-probabilities; the -json variant {"choice": ...}
- taxonomy: the letter of the category the test maps the document to (through the shuffled list).
Documents containing PLEASE-MALFORM get an answer without a score; PLEASE-REFUSE a refusal;
PLEASE-ERROR an HTTP 400.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = re.compile(r"<(document|excerpt_a|excerpt_b)>\n(.*?)\n</\1>", re.DOTALL)
PREFIX = 80


class StubLLM:
    def __init__(self, levels: dict[str, float], categories: dict[str, str] | None = None):
        # first PREFIX characters of a document's text -> its level (and category name)
        self.levels = {text[:PREFIX]: level for text, level in levels.items()}
        self.categories = {text[:PREFIX]: c for text, c in (categories or {}).items()}
        self.requests = 0

    def level(self, text: str) -> float:
        return self.levels.get(text[:PREFIX], 0)

    def answer(self, body: dict) -> tuple[int, dict]:
        self.requests += 1
        prompt = body["messages"][-1]["content"]
        blocks = dict((name, text) for name, text in BLOCK.findall(prompt))
        json_mode = "response_format" in body
        doc = blocks.get("document", "") + blocks.get("excerpt_a", "") + blocks.get("excerpt_b", "")
        logprobs = None
        if "PLEASE-ERROR" in doc:
            return 400, {"error": {"message": "bad request", "type": "invalid_request_error"}}
        if "PLEASE-REFUSE" in doc:
            text = "I'm sorry, but I can't help with rating this content."
        elif "PLEASE-MALFORM" in doc:
            text = '{"points": "many"}' if json_mode else "This page is quite educational overall, I would say."
        elif "excerpt_a" in blocks:
            a, b = self.level(blocks["excerpt_a"]), self.level(blocks["excerpt_b"])
            letter = "B" if b > a else "A"
            text = json.dumps({"choice": letter}) if json_mode else letter
            p = 0.9 if a != b else 0.6
            logprobs = {"content": [{"token": letter, "logprob": -0.1, "top_logprobs": [
                {"token": letter, "logprob": _log(p)}, {"token": "B" if letter == "A" else "A", "logprob": _log(1 - p)}]}]}
        elif "Answer with the letter" in prompt or '"choice": "<letter>"' in prompt:
            wanted = self.categories.get(blocks["document"][:PREFIX])
            letters = dict(re.findall(r"^([A-Z])\. ([^:\n]+)", prompt, re.MULTILINE))
            letter = next((k for k, v in letters.items() if v == wanted), "A")
            text = json.dumps({"choice": letter}) if json_mode else letter
        else:
            n = int(self.level(blocks["document"]))
            text = json.dumps({"score": n}) if json_mode else (
                f"The page has some structure and covers its topic to a degree.\nEducational score: {n}")
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if logprobs is not None and body.get("logprobs"):
            choice["logprobs"] = logprobs
        return 200, {"id": f"stub-{self.requests}", "object": "chat.completion", "model": body.get("model", "stub"),
                     "choices": [choice], "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 5,
                                                    "total_tokens": len(prompt) // 4 + 5}}


def _log(p: float) -> float:
    import math

    return math.log(p)


@contextmanager
def serve(stub: StubLLM):
    """Run `stub` as an OpenAI-compatible HTTP server on 127.0.0.1; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            status, payload = stub.answer(body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def answer_file(stub: StubLLM, request_files, out_path) -> None:
    """Answer request files directly (no HTTP), writing batch output lines: for the import tests."""
    from curate.llm.batch import read_requests, response_line

    from pathlib import Path

    if isinstance(request_files, (str, Path)) and Path(request_files).is_dir():
        request_files = sorted(Path(request_files).glob("requests-*.jsonl"))
    requests = list(read_requests(request_files))
    with open(out_path, "w") as f:
        for req in requests:
            status, body = stub.answer(req["body"])
            f.write(json.dumps(response_line(req["custom_id"], status, body)) + "\n")
