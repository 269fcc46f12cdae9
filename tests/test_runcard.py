"""Run cards (a batch's, a plain run's, a failed run's), `curate runs`, and `--log-format json`."""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from datetime import datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curate import __version__
from curate.batches import BATCHES_DIR
from curate.demo_crawl import generate_sample
from curate.models import LID176
from tests.conftest import ROOT, run_cli, write_jsonl

CONFIG = """run_dir: run
ledger: true
inputs: ['crawl/*.warc.gz']
stages:
  - stage: extract
  - stage: filter
    preset: fineweb
  - stage: dedup
    memory_limit: 1GB
  - stage: tokens
"""


@pytest.fixture(scope="module")
def cron_dir(tmp_path_factory) -> Path:
    """A run directory after one batch over a small demo crawl, run as cron would (JSON logs, no TTY)."""
    root = tmp_path_factory.mktemp("card")
    generate_sample(root / "crawl", docs=60, shards=2, seed=3)
    (root / "c.yaml").write_text(CONFIG)
    r = run_cli("--log-format", "json", "run", "c.yaml", "--progress", cwd=root,
                env={"CURATE_PROGRESS_SECONDS": "0.05"})
    assert r.returncode == 0, r.stderr.decode()
    (root / "stderr.txt").write_bytes(r.stderr)
    return root


def _card(root: Path) -> dict:
    [path] = (root / "run" / BATCHES_DIR).glob("*.json")
    return json.loads(path.read_text())


def test_batch_run_card_says_what_ran_on_what_and_how_it_ended(cron_dir):
    card = _card(cron_dir)
    run = cron_dir / "run"
    batch = run / BATCHES_DIR / card["batch"]
    assert batch.is_dir() and card["output"] == str(batch)
    assert card["curate_version"] == __version__ and card["host"] == socket.gethostname()
    assert card["status"] == "ok" and card["exit_code"] == 0 and card["error"] is None
    started, ended = (datetime.fromisoformat(card[k]) for k in ("started", "ended"))
    assert started <= ended and card["seconds"] >= sum(s["seconds"] for s in card["stages"])
    # the config: the file's hash, and the config as run (a dedup index in the run directory)
    assert card["config"]["sha256"] == hashlib.sha256((cron_dir / "c.yaml").read_bytes()).hexdigest()
    effective = card["config"]["effective"]
    dedup = effective["stages"][2]
    assert dedup["stage"] == "dedup" and dedup["index"] == str(run / "dedup-index") and dedup["survivor"] == "first-seen"
    assert card["config"]["effective_sha256"] == hashlib.sha256(json.dumps(effective, sort_keys=True).encode()).hexdigest()
    assert {"stage": "extract", "lid_sha256": LID176.sha256, "names": {LID176.sha256: "lid176"}} in card["models"]
    # the ledger delta and the inputs
    files = sorted((cron_dir / "crawl").glob("*.warc.gz"))
    assert [c["path"] for c in card["ledger"]["added"]] == [str(p) for p in files]
    assert card["ledger"]["added"][0]["sha256"] == hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert card["inputs"] == {"files": 2, "bytes": sum(p.stat().st_size for p in files)}
    # per-stage counts: each stage read what the previous kept; they match the outputs on disk
    stages = card["stages"]
    assert [s["stage"] for s in stages] == ["extract", "filter", "dedup", "tokens"]
    for prev, cur in zip(stages, stages[1:]):
        assert cur["in"] == prev["kept"]
    for s in stages:
        assert s["in"] == s["kept"] + s["rejected"] == s["in"] and s["shards"] == 2
        assert sum(s["reasons"].values()) == s["rejected"]
    kept = sum(pc.sum(pq.read_table(p, columns=["n_tokens"])["n_tokens"]).as_py()
               for p in (batch / "03-tokens").glob("*.parquet"))
    assert card["tokens"] == {"stage": "tokens", "kept_tokens": kept} and kept > 0


def test_json_logs_parse_line_by_line(cron_dir):
    lines = (cron_dir / "stderr.txt").read_text().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for r in records:
        assert set(r) >= {"time", "level", "stage", "shard", "message", "counts"}
        datetime.fromisoformat(r["time"])
    done = {r["stage"]: r["counts"] for r in records if r["counts"] and "kept" in r["counts"]}
    card = _card(cron_dir)
    assert list(done) == ["extract", "filter", "dedup", "tokens"]
    for s in card["stages"]:
        assert {k: done[s["stage"]][k] for k in ("in", "kept", "rejected")} == {k: s[k] for k in ("in", "kept", "rejected")}
    assert any(r["counts"] and "shards_done" in r["counts"] for r in records)  # --progress without a TTY
    assert any(r["message"].startswith(f"batch {card['batch']}:") for r in records)


def test_json_logs_for_errors_too(tmp_path):
    (tmp_path / "bad.yaml").write_text("run_dir: run\ninputs: [x]\nstages:\n  - stage: filter\n    nope: 1\n")
    r = run_cli("--log-format", "json", "run", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2
    [line] = r.stderr.decode().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and "unknown key 'nope'" in record["message"]
    r = run_cli("run", "bad.yaml", "--log-format", "yaml", cwd=tmp_path)
    assert r.returncode == 2 and "is not one of text, json" in r.stderr.decode()


def runs_cli(*args: str, cwd: Path):
    """`curate runs ARGS` in this process (a listing: no logging set up, nothing left behind)."""
    import contextlib
    import io
    import os
    import subprocess

    from curate.cli import main
    from curate.logs import configure_main_logging

    out, err, old = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["runs", *args])
    finally:
        os.chdir(old)
        configure_main_logging()  # the run bound curate's stderr sink to the captured stream
    out.flush()
    return subprocess.CompletedProcess(args, code, out.buffer.getvalue(), err.getvalue().encode())


def test_curate_runs_lists_batches_and_cards(cron_dir):
    card = _card(cron_dir)
    r = runs_cli("run", cwd=cron_dir)
    assert r.returncode == 0, r.stderr.decode()
    table = r.stdout.decode()
    row = next(line for line in table.splitlines() if card["batch"] in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:3] == [card["batch"], "ok", "0"]
    assert cells[5:10] == ["2", "2/0/0", f"{card['stages'][0]['in']:,}", f"{card['stages'][-1]['kept']:,}",
                           f"{card['tokens']['kept_tokens']:,}"]
    r = runs_cli("run", "--json", cwd=cron_dir)
    assert [json.loads(line) for line in r.stdout.decode().splitlines()] == [card]
    r = runs_cli("nowhere", cwd=cron_dir)
    assert r.returncode == 2 and "no such run directory" in r.stderr.decode()


def test_plain_run_writes_its_card_and_a_failed_run_says_why(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "fine"}, {"id": "b", "text": "BOOM"}])
    (tmp_path / "c.yaml").write_text("run_dir: run\ninputs: [in]\nstages:\n  - stage: test-fail-on\n    marker: NEVER\n")
    cmd = [str(ROOT / "tests" / "run_with_test_stages.py"), "run", "c.yaml"]
    import subprocess

    r = subprocess.run([sys.executable, *cmd], cwd=tmp_path, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    card = json.loads((tmp_path / "run" / "run-card.json").read_text())
    assert card["batch"] is None and card["ledger"] is None and card["status"] == "ok"
    assert card["inputs"]["files"] == 1 and card["stages"][0]["kept"] == 2
    assert not (tmp_path / "run" / BATCHES_DIR).exists()

    (tmp_path / "c.yaml").write_text("run_dir: run\ninputs: [in]\nstages:\n  - stage: test-fail-on\n")
    r = subprocess.run([sys.executable, *cmd], cwd=tmp_path, capture_output=True, timeout=120)
    assert r.returncode == 1
    card = json.loads((tmp_path / "run" / "run-card.json").read_text())
    assert card["status"] == "failed" and card["exit_code"] == 1 and "cannot handle b" in card["error"]
    assert card["ended"] is not None
    r = runs_cli("run", "--json", cwd=tmp_path)
    assert [json.loads(line)["status"] for line in r.stdout.decode().splitlines()] == ["failed"]


def test_json_log_records_from_worker_processes_name_stage_and_shard(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "hello world"}])
    (tmp_path / "in" / "empty.jsonl").write_bytes(b"")
    (tmp_path / "c.yaml").write_text("run_dir: run\ninputs: [in]\nstages:\n  - stage: filter\n")
    r = run_cli("run", "c.yaml", "-w", "2", "--log-format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    records = [json.loads(line) for line in r.stderr.decode().splitlines()]
    [warning] = [x for x in records if x["level"] == "WARNING"]
    assert (warning["stage"], warning["shard"]) == ("filter", "empty") and "empty file" in warning["message"]
    assert warning["pid"] != records[-1]["pid"]  # logged by a worker process, as JSON too
    assert records[-1]["message"] == f"output: {tmp_path / 'run' / '00-filter'}"


def test_a_card_left_running_by_a_killed_run_shows_as_killed(cron_dir):
    import subprocess

    from curate.runs_table import row

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    card = {**_card(cron_dir), "status": "running", "exit_code": None, "ended": None, "pid": gone.pid}
    assert row("b", card)[1] == "killed (no end recorded)"
    assert row("b", {**card, "pid": __import__("os").getpid()})[1] == "running"


def test_progress_is_quiet_without_a_terminal_unless_asked(tmp_path):
    import subprocess

    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": f"d{i}", "text": "text"} for i in range(300)])
    (tmp_path / "c.yaml").write_text("run_dir: run\ninputs: [in]\nstages:\n  - stage: test-slow-copy\n    delay_ms: 5\n")
    cmd = [sys.executable, str(ROOT / "tests" / "run_with_test_stages.py"), "run", "c.yaml", "--fresh"]
    env = {**__import__("os").environ, "CURATE_PROGRESS_SECONDS": "0.2"}
    quiet = subprocess.run(cmd, cwd=tmp_path, capture_output=True, env=env, timeout=120)
    asked = subprocess.run([*cmd, "--progress"], cwd=tmp_path, capture_output=True, env=env, timeout=120)
    assert quiet.returncode == asked.returncode == 0, asked.stderr.decode()
    progress = lambda r: [x for x in r.stderr.decode().splitlines() if x.startswith("test-slow-copy · ")]  # noqa: E731
    assert progress(quiet) == []
    lines = progress(asked)
    assert lines and "docs/s" in lines[0] and "shards 0/1" in lines[0]
