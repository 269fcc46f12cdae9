"""`curate llm serve` (the embedded SmolLM2-135M through xllamacpp) answering `curate llm run`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from curate.llm.batch import RequestWriter, json_schema_format, make_request, read_responses, request_id
from tests.conftest import run_cli
from tests.test_llm_client import cli_in_process

SCORE_SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 5}},
                "required": ["score"], "additionalProperties": False}


def test_serve_with_an_unknown_model_is_a_one_line_usage_error(monkeypatch):
    r = cli_in_process(monkeypatch, {}, "llm", "serve", "--model", "no-such-model", "--port", "0")
    assert r.exit_code == 2 and "no-such-model" in r.output and "registered model" in r.output


@pytest.mark.slow
def test_embedded_model_gives_a_schema_constrained_json_answer(tmp_path):
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
        url = m.group(1)

        params = {"max_tokens": 24, "temperature": 0.0,
                  "response_format": json_schema_format("educational_score", SCORE_SCHEMA)}
        cid = request_id("doc-1", 0, "edu-score", "v1", "smollm2-135m", params)
        text = "Photosynthesis is how plants turn light, water and carbon dioxide into sugar and oxygen."
        with RequestWriter(tmp_path / "req") as w:
            w.write(make_request(cid, [{"role": "system", "content": "Rate the educational value of the text "
                                                                      "from 0 to 5. Answer in JSON."},
                                       {"role": "user", "content": text}], "smollm2-135m", **params))
        out = tmp_path / "out.jsonl"
        r = run_cli("llm", "run", str(tmp_path / "req"), "-o", str(out), "--endpoint", url, "--concurrency", "1")
        assert r.returncode == 0, r.stderr.decode()
        answers = read_responses(out, known_ids=[cid])
        answer = answers[cid]
        assert answer.ok, answer.error
        score = answer.json()["score"]
        assert isinstance(score, int) and 0 <= score <= 5
        assert answer.model == "smollm2-135m" and answer.usage["completion_tokens"] > 0
        assert answer.usage["prompt_tokens"] > 20
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
