"""export -> `curate llm run` against a real HTTP server on 127.0.0.1 -> ingest -> `curate filter`.

The server is a small OpenAI-compatible chat endpoint started by the test. It "rewrites" the
document block of each request by upper-casing it (so the reassembled rewrite can be checked
against the original text chunk by chunk), answers QA requests with question/answer pairs,
refuses documents containing REFUSE and stops early (finish_reason length) on TRUNCATE.
"""

from __future__ import annotations

import http.server
import threading

import orjson
import pytest

from curate.rewrite.styles import DOCUMENT_END, DOCUMENT_START, load_style
from curate.rewrite.synthetic import RewriteDocMaker

from .conftest import read_docs, run_cli, write_jsonl

STYLES = [load_style("wikipedia"), load_style("qa")]


def fake_rewrite(user: str) -> tuple[str, str]:
    """(answer, finish_reason) for one request, as a well-behaved model would answer."""
    block = user.split(DOCUMENT_START + "\n", 1)[1].rsplit("\n" + DOCUMENT_END, 1)[0]
    if "REFUSE" in block:
        return "I'm sorry, but I can't help with rewriting this.", "stop"
    style = next(s for s in STYLES if f'"{s.answer_prefix}"' in user)
    if "TRUNCATE" in block:
        return f"{style.answer_prefix}\n{block[:20].upper()}", "length"
    if style.parser == "qa":
        pairs = [f"Question: what does line {i} say?\nAnswer: {line}" for i, line in enumerate(block.split("\n")) if line]
        return f"{style.answer_prefix}\n" + "\n".join(pairs), "stop"
    return f"{style.answer_prefix}\n{block.upper()}", "stop"


class RewriteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests_seen = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.server.requests_seen += 1
        answer, finish = fake_rewrite(body["messages"][-1]["content"])
        data = orjson.dumps({"id": "chatcmpl-test", "object": "chat.completion", "model": "stub-rewriter",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                          "finish_reason": finish}],
                             "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server():
    srv = RewriteServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_export_llm_run_ingest_round_trip(tmp_path, server):
    maker = RewriteDocMaker(seed=9)
    docs = [{"id": f"d{i}", "text": maker.paragraphs(2 + i % 6), "url": f"https://s{i % 3}.example.org/{i}",
             "source": "crawl", "language": "en", "domain": f"dom{i % 3}"} for i in range(12)]
    docs[3]["text"] += "\nPlease REFUSE this one."
    docs[7]["text"] = "TRUNCATE early.\n" + docs[7]["text"]
    write_jsonl(tmp_path / "in" / "docs.jsonl", docs)
    (tmp_path / "policy.yaml").write_text("styles: [wikipedia, qa]\nmodel: stub-model\n")

    q = tmp_path / "queue"
    r = run_cli("rewrite-queue", "export", str(tmp_path / "in"), "-o", str(q), "--policy", str(tmp_path / "policy.yaml"),
                "--json")
    assert r.returncode == 0, r.stderr.decode()
    manifest = orjson.loads(r.stdout)
    n_requests = manifest["requests"]
    assert manifest["documents"]["queued"] == 12 and n_requests > 24  # several chunks per document

    answers = tmp_path / "answers.jsonl"
    r = run_cli("llm", "run", str(q / "exports" / "0001"), "-o", str(answers), "--endpoint", server.url, "-c", "4")
    assert r.returncode == 0, r.stderr.decode()
    assert server.requests_seen == n_requests

    out = tmp_path / "rewrites"
    r = run_cli("rewrite-queue", "ingest", str(answers), "--queue", str(q), "-o", str(out))
    assert r.returncode == 0, r.stderr.decode()
    kept = read_docs(out)
    rejected = read_docs(out / "rejected")
    by_parent = {(d["parent_id"], d["rewrite_style"]): d for d in kept}
    # every document but the refused and the truncated one, in both styles
    assert set(by_parent) == {(f"d{i}", s) for i in range(12) if i not in (3, 7) for s in ("wikipedia", "qa")}
    for i in range(12):
        if i in (3, 7):
            continue
        wiki = by_parent[(f"d{i}", "wikipedia")]
        assert wiki["text"] == docs[i]["text"].upper()  # chunks back in order, prefix stripped
        assert wiki["source"] == "rewrite:wikipedia" and wiki["synthetic"] is True
        assert wiki["url"] == docs[i]["url"] and wiki["domain"] == docs[i]["domain"]
        assert wiki["model"] == "stub-rewriter" and wiki["prompt_version"] == "1"
        qa = by_parent[(f"d{i}", "qa")]
        assert qa["text"].startswith("Question: what does line 0 say?\nAnswer: ")
        assert qa["rewrite_prompt_tokens"] == 100 * qa["rewrite_chunks"]
    reasons = {}
    for d in rejected:
        reasons.setdefault(d["reject_reason"], set()).add(d["parent_id"])
    assert reasons["rewrite-queue:refused"] == {"d3"}
    assert reasons["rewrite-queue:truncated"] == {"d7"}
    assert reasons["rewrite-queue:chunks_missing"] <= {"d3", "d7"}
    assert sum(d["rewrite_chunks"] for d in kept) + len(rejected) == n_requests  # every answer accounted for

    # the rewrites are ordinary curate documents: the next stages read them
    r = run_cli("filter", str(out), "-o", str(tmp_path / "filtered"))
    assert r.returncode == 0, r.stderr.decode()
    filtered = read_docs(tmp_path / "filtered") + read_docs(tmp_path / "filtered" / "rejected")
    assert len(filtered) == len(kept)
    assert all(d["parent_id"] and d["synthetic"] for d in filtered)
