"""`curate llm run` against a real HTTP server on 127.0.0.1 that fails on purpose (tests/llm_stub_server.py)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from curate.llm.batch import RequestWriter, make_request, read_responses, request_id
from curate.llm.client import (
    LLMRunError,
    backoff_delay,
    chat_url,
    retry_after_seconds,
    run_requests,
)
from tests.conftest import run_cli
from tests.llm_stub_server import StubServer

FAST = {"backoff_base": 0.01, "backoff_max": 0.05}
KEY = "sk-test-Zq81xVt0secret"


def write_requests(folder: Path, texts: list[str], max_lines: int = 50_000) -> dict[str, str]:
    """One request per text; returns custom_id -> text."""
    ids = {}
    with RequestWriter(folder, max_lines=max_lines) as w:
        for t in texts:
            cid = request_id(t, 0, "test", "v1", "stub", {"max_tokens": 4})
            w.write(make_request(cid, [{"role": "system", "content": "be brief"}, {"role": "user", "content": t}],
                                 "stub", max_tokens=4))
            ids[cid] = t
    return ids


def out_ids(path: Path) -> list[str]:
    ids = []
    for raw in path.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            ids.append(orjson.loads(raw)["custom_id"])
    return ids


def cli_in_process(monkeypatch, env: dict, *args: str):
    """`curate ARGS` in this process (a fresh interpreter costs seconds here); output is stdout+stderr."""
    from typer.testing import CliRunner

    from curate.cli import app

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def stub():
    with StubServer() as srv:
        yield srv


def test_every_request_answered_once_out_of_order_and_joined_by_custom_id(tmp_path, stub):
    # the first requests are slow, so their answers land after later ones
    texts = [f"delay:0.3 slow{i}" for i in range(3)] + [f"plain {i}" for i in range(40)]
    ids = write_requests(tmp_path / "req", texts)
    out = tmp_path / "out.jsonl"
    s = run_requests([tmp_path / "req"], out, stub.url, concurrency=8, **FAST)
    assert (s.total, s.done, s.failed, s.retried, s.status) == (43, 43, 0, 0, "complete")
    order = out_ids(out)
    assert sorted(order) == sorted(ids)
    assert order != list(ids), "answers should have come back out of request order"
    answers = read_responses(out, known_ids=ids)
    assert not answers.unknown and not answers.missing(ids)
    for cid, text in ids.items():
        assert answers[cid].text == "echo:" + text and answers[cid].finish_reason == "stop"
    assert set(stub.state.attempts.values()) == {1}
    manifest = orjson.loads((tmp_path / "out.manifest.json").read_bytes())
    expected_prompt = sum(len(t.split()) for t in texts)
    assert manifest["usage_total"]["prompt_tokens"] == expected_prompt == s.prompt_tokens
    assert manifest["usage_total"]["completion_tokens"] == 3 * 43
    assert manifest["summary"]["done"] == 43 and manifest["endpoint"] == stub.url


def test_429_with_retry_after_and_500s_are_retried(tmp_path, stub):
    ids = write_requests(tmp_path / "req", ["fail429:2 a", "fail500:3 b", "plain c"])
    t0 = time.monotonic()
    s = run_requests([tmp_path / "req"], tmp_path / "out.jsonl", stub.url, concurrency=4, **FAST)
    elapsed = time.monotonic() - t0
    assert (s.done, s.failed, s.retried) == (3, 0, 5)
    assert stub.state.attempts == {"fail429:2 a": 3, "fail500:3 b": 4, "plain c": 1}
    # Retry-After: 1 was honoured twice, although our own backoff is at most 0.05 s
    assert elapsed >= 2.0
    answers = read_responses(tmp_path / "out.jsonl")
    assert {answers[c].text for c in ids} == {"echo:fail429:2 a", "echo:fail500:3 b", "echo:plain c"}


def test_timeouts_are_retried_then_dead_lettered(tmp_path, stub):
    # a 1 s timeout leaves a busy machine room to answer the quick requests in time
    ids = write_requests(tmp_path / "req", ["sleep:2.5:1 once", "sleep:2.5:9 always", "plain x"])
    s = run_requests([tmp_path / "req"], tmp_path / "out.jsonl", stub.url, concurrency=3, timeout=1.0,
                     max_retries=1, **FAST)
    assert (s.done, s.failed) == (2, 1)
    assert s.failure_kinds == {"timeout": 1}
    assert stub.state.attempts["sleep:2.5:1 once"] == 2 and stub.state.attempts["sleep:2.5:9 always"] == 2
    dead = read_responses(tmp_path / "out.dead.jsonl")
    [(cid, ans)] = dead.items()
    assert ids[cid] == "sleep:2.5:9 always" and ans.error.startswith("timeout: gave up after 2 attempts")
    assert set(read_responses(tmp_path / "out.jsonl")) == set(ids) - {cid}


def test_permanent_4xx_is_not_retried_and_a_rerun_sends_only_what_is_unanswered(tmp_path, stub):
    ids = write_requests(tmp_path / "req", ["bad400 q", "plain r", "plain s"])
    s = run_requests([tmp_path / "req"], tmp_path / "out.jsonl", stub.url, concurrency=2, **FAST)
    assert (s.done, s.failed, s.retried, s.status) == (2, 1, 0, "incomplete")
    assert stub.state.attempts["bad400 q"] == 1
    [dead] = read_responses(tmp_path / "out.dead.jsonl").values()
    assert dead.status_code == 400 and ids[dead.custom_id] == "bad400 q"
    s2 = run_requests([tmp_path / "req"], tmp_path / "out.jsonl", stub.url, concurrency=2, **FAST)
    assert (s2.skipped, s2.done, s2.failed) == (2, 0, 1)
    assert stub.state.attempts == {"bad400 q": 2, "plain r": 1, "plain s": 1}
    # the dead-letter file is rewritten per run, not appended
    assert len((tmp_path / "out.dead.jsonl").read_bytes().splitlines()) == 1


def test_duplicate_requests_across_files_are_sent_once(tmp_path, stub):
    write_requests(tmp_path / "a", ["plain one", "plain two"])
    write_requests(tmp_path / "b", ["plain two", "plain three"])
    s = run_requests([tmp_path / "a", tmp_path / "b"], tmp_path / "out.jsonl", stub.url, **FAST)
    assert (s.total, s.done) == (3, 3)
    assert stub.state.attempts == {"plain one": 1, "plain two": 1, "plain three": 1}


def test_torn_last_line_is_cut_and_its_request_resent(tmp_path, stub):
    ids = write_requests(tmp_path / "req", ["plain a", "plain b"])
    out = tmp_path / "out.jsonl"
    run_requests([tmp_path / "req"], out, stub.url, **FAST)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(lines[0] + lines[1][:20])  # what a kill during the second write leaves
    s = run_requests([tmp_path / "req"], out, stub.url, **FAST)
    assert (s.skipped, s.done) == (1, 1)
    assert sorted(out_ids(out)) == sorted(ids)


def test_a_response_for_no_known_request_is_reported_not_joined(tmp_path, stub):
    ids = write_requests(tmp_path / "req", ["plain a", "plain b"])
    out = tmp_path / "out.jsonl"
    stray = {"id": "x", "custom_id": "from-another-export", "error": None,
             "response": {"status_code": 200, "body": {"choices": [{"message": {"content": "?"}}]}}}
    out.write_bytes(orjson.dumps(stray) + b"\n")
    s = run_requests([tmp_path / "req"], out, stub.url, **FAST)
    assert (s.total, s.skipped, s.done) == (2, 0, 2)
    answers = read_responses(out, known_ids=ids)
    assert answers.unknown == ["from-another-export"]
    assert set(answers) == set(ids)


def test_kill_mid_run_then_resume_sends_no_answered_request_twice(tmp_path, stub):
    n = 240
    ids = write_requests(tmp_path / "req", [f"delay:0.05 k{i}" for i in range(n)], max_lines=100)
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "curate.cli", "llm", "run", str(tmp_path / "req"), "-o", str(out),
            "--endpoint", stub.url, "--concurrency", "8"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 40):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    on_disk = set(out_ids(out))
    assert 40 <= len(on_disk) < n, "the kill should land mid-run"
    sent_before = dict(stub.state.attempts)
    rerun = run_cli("llm", "run", str(tmp_path / "req"), "-o", str(out), "--endpoint", stub.url,
                    "--concurrency", "8")
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert f"{len(on_disk):,} already answered" in rerun.stderr.decode()
    final = out_ids(out)
    assert Counter(final) == Counter(list(ids))  # every request answered, exactly once
    by_text = {t: c for c, t in ids.items()}
    twice = {t for t, k in stub.state.attempts.items() if k > 1}
    assert all(by_text[t] not in on_disk for t in twice), "a request answered on disk was sent again"
    assert len(twice) <= 8  # at most the requests in flight at the kill
    assert all(stub.state.attempts[t] == sent_before.get(t, 0) + (by_text[t] not in on_disk) for t in by_text)


def test_missing_api_key_is_one_clear_line_and_the_key_never_reaches_a_file(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with StubServer(require_key=KEY) as srv:
        ids = write_requests(tmp_path / "req", ["plain a", "leak b", "bad400 c"])
        out = tmp_path / "run" / "out.jsonl"
        env = {k: v for k, v in os.environ.items() if k != "CURATE_LLM_API_KEY"}
        env.pop("MY_KEY", None)
        r = subprocess.run([sys.executable, "-m", "curate.cli", "llm", "run", str(tmp_path / "req"), "-o", str(out),
                            "--endpoint", srv.url], capture_output=True, env=env, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 2
        assert "CURATE_LLM_API_KEY" in err and "401" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        with pytest.raises(LLMRunError, match="MY_KEY"):
            run_requests([tmp_path / "req"], out, srv.url, api_key_env="MY_KEY", **FAST)

        r = cli_in_process(monkeypatch, {"MY_KEY": "wrong-" + KEY}, "llm", "run", str(tmp_path / "req"), "-o",
                           str(out), "--endpoint", srv.url, "--api-key-env", "MY_KEY")
        assert r.exit_code == 2 and "rejected the API key in $MY_KEY" in r.output
        assert KEY not in r.output

        r = cli_in_process(monkeypatch, {"MY_KEY": KEY}, "llm", "run", str(tmp_path / "req"), "-o", str(out),
                           "--endpoint", srv.url, "--api-key-env", "MY_KEY")
        assert r.exit_code == 1, r.output  # bad400 failed for good
        answers = read_responses(out, known_ids=ids)
        assert len(answers) == 2 and srv.state.attempts["leak b"] == 1
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"out.jsonl", "out.dead.jsonl", "out.manifest.json"}
    for p in written:
        assert KEY.encode() not in p.read_bytes(), f"API key written to {p}"
    assert KEY not in r.output + caplog.text
    leak = next(a for a in answers.values() if "you sent" in a.text)
    assert leak.text == "you sent Bearer [redacted]"  # the server echoed it; the client scrubbed it


def test_progress_reports_counts_rate_and_eta(tmp_path, stub):
    from curate.llm.cli import _progress_line

    write_requests(tmp_path / "req", ["delay:0.7 slow"] + [f"plain {i}" for i in range(5)])
    seen = []
    s = run_requests([tmp_path / "req"], tmp_path / "out.jsonl", stub.url, concurrency=2,
                     on_progress=lambda s: seen.append((s.done, s.total_tokens, _progress_line(s))), **FAST)
    assert len(seen) >= 2 and seen[-1][0] == s.done == 6
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    mid = next(line for d, _, line in seen if d < 6)
    assert "/6" in mid and "req/s" in mid and "ETA" in mid
    assert seen[-1][2].startswith(f"done 6/6 · failed 0 · retried 0 · tokens {s.total_tokens:,}")


def test_responses_inside_the_request_folder_or_a_request_file_as_output_are_refused(tmp_path):
    write_requests(tmp_path / "req", ["plain a"])
    with pytest.raises(LLMRunError, match="among the request files"):
        run_requests([tmp_path / "req"], tmp_path / "req" / "requests-00000.jsonl", "http://127.0.0.1:9/v1")
    with pytest.raises(LLMRunError, match="among the request files"):
        run_requests([tmp_path / "req"], tmp_path / "req" / "out.jsonl", "http://127.0.0.1:9/v1")
    # -o naming a request file elsewhere would count every request as answered: refused too
    write_requests(tmp_path / "other", ["plain b"])
    with pytest.raises(LLMRunError, match="requests-00000.jsonl:1: not a response line"):
        run_requests([tmp_path / "req"], tmp_path / "other" / "requests-00000.jsonl", "http://127.0.0.1:9/v1")


def test_helpers():
    assert chat_url("http://h:1/v1", "/v1/chat/completions") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/", "/v1/chat/completions") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1", "/v1/chat/completions") == "http://h:1/v1/chat/completions"
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert 0 <= retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") <= 0  # a past date: no wait
    delays = [backoff_delay(5, 0.5, 60, None) for _ in range(200)]
    assert 0 <= min(delays) and max(delays) <= 8.0 and len(set(delays)) > 100  # jittered, capped at base*2^4
    assert all(3.0 <= backoff_delay(1, 0.5, 60, 3.0) <= 4.0 for _ in range(50))


def test_bad_endpoint_and_missing_files_are_usage_errors(tmp_path, monkeypatch):
    write_requests(tmp_path / "req", ["plain a"])
    r = cli_in_process(monkeypatch, {}, "llm", "run", str(tmp_path / "req"), "-o", str(tmp_path / "o.jsonl"),
                       "--endpoint", "127.0.0.1:9")
    assert r.exit_code == 2 and "must be an http" in r.output
    r = cli_in_process(monkeypatch, {}, "llm", "run", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                       "--endpoint", "http://127.0.0.1:9/v1")
    assert r.exit_code == 2 and "nope.jsonl: no such file" in r.output
    (tmp_path / "broken.jsonl").write_text('{"custom_id": "a", "body": {}}\nnot json\n')
    r = run_cli("llm", "run", str(tmp_path / "broken.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                "--endpoint", "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and "broken.jsonl:2" in r.stderr.decode() and "Traceback" not in r.stderr.decode()
