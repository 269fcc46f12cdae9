"""Structured-output rewrite styles (parser: json): the schema goes out with every request, the
JSON answer's field comes back as the text, and answers that are not that JSON are rejected."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from curate.llm.batch import read_requests, response_line
from curate.rewrite.export import export_queue
from curate.rewrite.ingest import ingest_responses
from curate.rewrite.policy import load_policy
from curate.rewrite.queue import INDEX
from curate.rewrite.styles import DOCUMENT_END, DOCUMENT_START, StyleError, load_style

from .conftest import read_docs, run_cli, write_jsonl

SCHEMA = {"type": "object", "properties": {"rewritten_text": {"type": "string"}},
          "required": ["rewritten_text"], "additionalProperties": False}


def _docs(n: int) -> list[dict]:
    return [{"id": f"d{i}", "text": f"Page {i} tells a short story about the river town number {i}.\n"
             f"The second paragraph of page {i} adds a few more facts about the town and its people.\n"
             f"A third paragraph says where the town lies, how old it is and what its people make for a living.",
             "url": f"https://s{i}.example.org/", "source": "crawl", "domain": f"dom{i}"} for i in range(n)]


def _export(tmp_path: Path, style: str = "wikipedia_json", fmt: str = "batch", n: int = 7):
    write_jsonl(tmp_path / "in" / "docs.jsonl", _docs(n))
    (tmp_path / "policy.yaml").write_text(f"styles: [{style}]\nmodel: m1\nparams: {{temperature: 0.2}}\n")
    policy, styles = load_policy(tmp_path / "policy.yaml")
    return export_queue([str(tmp_path / "in")], tmp_path / "queue", policy, styles, fmt=fmt)


def test_export_puts_the_schema_in_every_request_and_in_its_id(tmp_path):
    result = _export(tmp_path)
    requests = list(read_requests(result.files))
    assert len(requests) == 7
    for req in requests:
        fmt = req["body"]["response_format"]
        assert fmt["type"] == "json_schema"
        assert fmt["json_schema"]["schema"] == SCHEMA and fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["name"] == "rewrite_wikipedia_json"
        assert req["body"]["max_tokens"] == 512 and req["body"]["temperature"] == 0.2
        assert '"rewritten_text"' in req["body"]["messages"][-1]["content"]
        assert "Rewritten text:" not in req["body"]["messages"][-1]["content"]
    # the schema is part of the request's content hash: another answer field, other ids
    other = tmp_path / "other.yaml"
    other.write_text(load_style.__wrapped__("wikipedia_json").model_copy(update={"answer_field": "text"})
                     .model_dump_json())
    (tmp_path / "p2.yaml").write_text(f"styles: [{other}]\nmodel: m1\nparams: {{temperature: 0.2}}\n")
    policy, styles = load_policy(tmp_path / "p2.yaml")
    again = export_queue([str(tmp_path / "in")], tmp_path / "queue2", policy, styles)
    ids2 = {r["custom_id"] for r in read_requests(again.files)}
    assert ids2.isdisjoint({r["custom_id"] for r in requests}) and len(ids2) == 7
    assert all(r["body"]["response_format"]["json_schema"]["schema"]["required"] == ["text"]
               for r in read_requests(again.files))


def test_prompt_files_carry_the_schema_too(tmp_path):
    result = _export(tmp_path, fmt="prompts", n=2)
    lines = [orjson.loads(x) for p in result.files for x in p.read_bytes().splitlines()]
    assert len(lines) == 2 and all(x["response_format"]["json_schema"]["schema"] == SCHEMA for x in lines)
    text_export = _export(tmp_path / "t", style="wikipedia", fmt="prompts", n=2)
    plain = [orjson.loads(x) for p in text_export.files for x in p.read_bytes().splitlines()]
    assert all(set(x) == {"custom_id", "prompt"} for x in plain)


def _answer(cid: str, content: str | None, finish: str = "stop") -> dict:
    body = {"model": "m1-served", "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                               "finish_reason": finish}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 30, "total_tokens": 70}}
    return response_line(cid, 200, body)


def test_ingest_takes_the_field_and_rejects_answers_that_are_not_the_json(tmp_path):
    result = _export(tmp_path)
    cids = {r["parent_id"]: r["custom_id"] for r in
            pq.read_table(result.export_dir / INDEX).to_pylist()}
    answers = {
        "d0": '{"rewritten_text": "Page zero, rewritten as an encyclopedia would put it."}',
        "d1": '```json\n{"rewritten_text": "A fenced object from a server without constrained decoding."}\n```',
        "d2": 'Rewritten text: {"rewritten_text": "prose before the object"',
        "d3": '{"text": "the wrong field"}',
        "d4": '{"rewritten_text": "   "}',
        "d5": '{"rewritten_text": ["not", "a", "string"]}',
        "d6": '{"rewritten_text": "I\'m sorry, but I cannot rewrite this passage."}',
    }
    lines = [_answer(cids[d], a) for d, a in answers.items()]
    write_jsonl(tmp_path / "answers.jsonl", lines)
    out = tmp_path / "rewrites"
    res = ingest_responses([tmp_path / "answers.jsonl"], tmp_path / "queue", out)
    kept = {d["parent_id"]: d for d in read_docs(out)}
    assert set(kept) == {"d0", "d1"}
    assert kept["d0"]["text"] == "Page zero, rewritten as an encyclopedia would put it."
    assert kept["d1"]["text"] == "A fenced object from a server without constrained decoding."
    assert kept["d0"]["source"] == "rewrite:wikipedia_json" and kept["d0"]["synthetic"] is True
    assert kept["d0"]["url"] == "https://s0.example.org/" and kept["d0"]["domain"] == "dom0"
    rejected = {d["parent_id"]: d for d in read_docs(out / "rejected")}
    assert {p: d["reject_reason"] for p, d in rejected.items()} == {
        "d2": "rewrite-queue:wrong_format", "d3": "rewrite-queue:wrong_format", "d4": "rewrite-queue:empty",
        "d5": "rewrite-queue:wrong_format", "d6": "rewrite-queue:refused"}
    assert "not valid JSON" in rejected["d2"]["reject_detail"]
    assert "without the field 'rewritten_text'" in rejected["d3"]["reject_detail"]
    assert "is empty" in rejected["d4"]["reject_detail"]
    assert "list, not a string" in rejected["d5"]["reject_detail"]
    for d, rec in rejected.items():  # the raw answer is kept, as sent
        assert rec["text"] == answers[d]
        assert orjson.loads(rec["raw_response"])["response"]["body"]["choices"][0]["message"]["content"] == answers[d]
    assert res.kept_documents == 2 and sum(res.rejected.values()) == 5


def test_a_json_style_without_its_field_or_with_a_prefix_is_refused_naming_the_file(tmp_path):
    base = load_style.__wrapped__("wikipedia_json").model_dump(mode="json")
    bad = {"nofield.yaml": {**base, "answer_field": None}, "prefix.yaml": {**base, "answer_prefix": "Rewritten:"},
           "textfield.yaml": {**base, "parser": "text"}}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(orjson.dumps(data))
        with pytest.raises(StyleError, match=name):
            load_style.__wrapped__(str(tmp_path / name))
    (tmp_path / "policy.yaml").write_text(f"styles: [{tmp_path / 'nofield.yaml'}]\nmodel: m1\n")
    write_jsonl(tmp_path / "in" / "docs.jsonl", _docs(1))
    proc = run_cli("rewrite-queue", "export", str(tmp_path / "in"), "-o", str(tmp_path / "q"),
                   "--policy", str(tmp_path / "policy.yaml"))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "nofield.yaml" in err and "answer_field" in err and "Traceback" not in err


class _JsonServer(http.server.ThreadingHTTPServer):
    """A chat endpoint that answers in the requested schema's field only when the request
    carries a json_schema response_format (as a constrained decoder would), else free text."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _JsonHandler)
        self.formats: list[dict | None] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"


class _JsonHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        fmt = body.get("response_format")
        self.server.formats.append(fmt)
        user = body["messages"][-1]["content"]
        block = user.split(DOCUMENT_START + "\n", 1)[1].rsplit("\n" + DOCUMENT_END, 1)[0]
        if fmt and fmt.get("type") == "json_schema":
            field = fmt["json_schema"]["schema"]["required"][0]
            content = orjson.dumps({field: block.upper()}).decode()
        else:
            content = block.upper()
        data = orjson.dumps({"id": "chatcmpl-test", "object": "chat.completion", "model": "stub-json",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_round_trip_through_llm_run_with_a_schema_answering_server(tmp_path):
    srv = _JsonServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        docs = _docs(4)
        write_jsonl(tmp_path / "in" / "docs.jsonl", docs)
        (tmp_path / "policy.yaml").write_text("styles: [wikipedia_json]\nmodel: stub\n")
        q = tmp_path / "queue"
        r = run_cli("rewrite-queue", "export", str(tmp_path / "in"), "-o", str(q), "--policy", str(tmp_path / "policy.yaml"))
        assert r.returncode == 0, r.stderr.decode()
        r = run_cli("llm", "run", str(q / "exports" / "0001"), "-o", str(tmp_path / "answers.jsonl"),
                    "--endpoint", srv.url, "-c", "2")
        assert r.returncode == 0, r.stderr.decode()
        assert len(srv.formats) == 4 and all(f and f["json_schema"]["schema"] == SCHEMA for f in srv.formats)
        r = run_cli("rewrite-queue", "ingest", str(tmp_path / "answers.jsonl"), "--queue", str(q), "-o", str(tmp_path / "rw"))
        assert r.returncode == 0, r.stderr.decode()
        kept = {d["parent_id"]: d for d in read_docs(tmp_path / "rw")}
        assert {p: d["text"] for p, d in kept.items()} == {d["id"]: d["text"].upper() for d in docs}
        assert not read_docs(tmp_path / "rw" / "rejected")
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_embedded_model_answers_a_json_style_in_its_schema(tmp_path):
    """The real local model behind `curate llm serve`: a finished answer to a json-style request
    parses (it follows the schema, unlike free-text format instructions) and ingest keeps the field;
    an answer cut at max_tokens (the model sometimes repeats a sentence until then) is rejected."""
    import re
    import signal
    import subprocess
    import sys
    import time

    server = subprocess.Popen([sys.executable, "-m", "curate.cli", "llm", "serve", "--port", "0", "--threads", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and "serving" not in line:
            line = server.stderr.readline()
            assert line or server.poll() is None, "curate llm serve exited before serving"
        m = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line)
        assert m, f"no serving line: {line!r}"
        docs = _docs(1)
        write_jsonl(tmp_path / "in" / "docs.jsonl", docs)
        (tmp_path / "policy.yaml").write_text("styles: [wikipedia_json]\nmodel: smollm2-135m\n"
                                              "params: {max_tokens: 160, temperature: 0.2}\n")
        q = tmp_path / "queue"
        r = run_cli("rewrite-queue", "export", str(tmp_path / "in"), "-o", str(q), "--policy", str(tmp_path / "policy.yaml"))
        assert r.returncode == 0, r.stderr.decode()
        answers = tmp_path / "answers.jsonl"
        r = run_cli("llm", "run", str(q / "exports" / "0001"), "-o", str(answers), "--endpoint", m.group(1),
                    "--concurrency", "1", "--timeout", "600")
        assert r.returncode == 0, r.stderr.decode()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    (line,) = [orjson.loads(x) for x in answers.read_bytes().splitlines()]
    choice = line["response"]["body"]["choices"][0]
    content = choice["message"]["content"]
    r = run_cli("rewrite-queue", "ingest", str(answers), "--queue", str(q), "-o", str(tmp_path / "rw"))
    assert r.returncode == 0, r.stderr.decode()
    kept, rejected = read_docs(tmp_path / "rw"), read_docs(tmp_path / "rw" / "rejected")
    assert len(kept) + len(rejected) == 1  # the answer is accounted for
    if choice["finish_reason"] == "length":  # the model can loop until max_tokens: cut JSON, rejected
        assert [d["reject_reason"] for d in rejected] == ["rewrite-queue:truncated"] and rejected[0]["text"] == content
        return
    field = orjson.loads(content)["rewritten_text"]  # finished under the schema: valid JSON with the field
    if field.strip():
        assert [d["text"] for d in kept] == [field.strip()] and not rejected
        assert kept[0]["model"] == "smollm2-135m" and kept[0]["source"] == "rewrite:wikipedia_json"
    else:  # the schema allows an empty string; ingest must then reject it, not keep it
        assert not kept and [d["reject_reason"] for d in rejected] == ["rewrite-queue:empty"]
