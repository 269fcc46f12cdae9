"""Resumable, parallel stage runs: crash and resume, config changes, vanishing inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import yaml

from tests.conftest import ROOT, read_docs, write_jsonl

TESTS = Path(__file__).resolve().parent
RUNNER = [sys.executable, str(TESTS / "run_with_test_stages.py")]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _inputs(folder: Path, shards: int = 10, docs: int = 60) -> Path:
    for s in range(shards):
        recs = [{"id": f"s{s}-{i}", "text": "   " if i % 17 == 0 else f"shard {s} document {i} text"} for i in range(docs)]
        write_jsonl(folder / f"part-{s:02d}.jsonl", recs)
    return folder


def _config(tmp: Path, run_dir: Path, inputs: Path, delay_ms: float = 5, tag: str = "a", keep_empty: bool = False,
            materialize: bool = False) -> Path:
    cfg = {
        "run_dir": str(run_dir), "workers": 2, "inputs": [{"path": str(inputs), "source": "web"}],
        "materialize": materialize,
        "stages": [{"stage": "ingest", "keep_empty": keep_empty},
                   {"stage": "test-slow-copy", "delay_ms": delay_ms, "tag": tag, "reject_every": 7}],
    }
    path = tmp / f"cfg-{run_dir.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(cfg: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RUNNER, "run", str(cfg)], env=ENV, capture_output=True, timeout=300)


def _outputs(stage_dir: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every output file a manifest entry names: changes if the file is rewritten."""
    out = {}
    for entry_path in (stage_dir / "_manifest").glob("*.json"):
        entry = orjson.loads(entry_path.read_bytes())
        for rel in entry["outputs"] + entry["rejected"]:
            st = (stage_dir / rel).stat()
            out[rel] = (st.st_ino, st.st_mtime_ns)
    return out


def _all_docs(stage_dir: Path) -> tuple[list[dict], list[dict]]:
    return read_docs(stage_dir), read_docs(stage_dir / "rejected")


def test_killed_run_resumes_to_the_same_output_without_rewriting_done_shards(tmp_path):
    inputs = _inputs(tmp_path / "in")
    resumed_dir, clean_dir = tmp_path / "resumed", tmp_path / "clean"
    cfg = _config(tmp_path, resumed_dir, inputs, delay_ms=8)
    slow = resumed_dir / "01-test-slow-copy"

    proc = subprocess.Popen([*RUNNER, "run", str(cfg)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((slow / "_manifest").glob("*.json"))) < 3:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run, workers included, as a crash would
    proc.wait()
    done_before = _outputs(slow)
    assert 3 <= len(list((slow / "_manifest").glob("*.json"))) < 10, "the kill should land mid-stage"

    resumed = _run(cfg)
    assert resumed.returncode == 0, resumed.stderr.decode()
    after = _outputs(slow)
    for rel, ident in done_before.items():
        assert after[rel] == ident, f"{rel} was written again on resume"
    assert not list(slow.rglob(".*.tmp")), "temporary files of the killed run remain"

    clean = _run(_config(tmp_path, clean_dir, inputs, delay_ms=0))
    assert clean.returncode == 0, clean.stderr.decode()
    for stage in ("00-ingest", "01-test-slow-copy"):
        assert _all_docs(resumed_dir / stage) == _all_docs(clean_dir / stage)
    kept, rejected = _all_docs(clean_dir / "01-test-slow-copy")
    assert len(kept) + len(rejected) == 10 * 60 - 40  # ingest rejected the 40 whitespace-only docs
    assert {d["reject_reason"] for d in rejected} == {"test-slow-copy:every_nth"}


def test_config_change_reruns_that_stage_and_later_ones_only(tmp_path):
    # materialized, each stage is its own pass (fused, a change redoes the whole pass: test_fused.py)
    inputs = _inputs(tmp_path / "in", shards=3, docs=20)
    run_dir = tmp_path / "run"
    assert _run(_config(tmp_path, run_dir, inputs, delay_ms=0, tag="a", materialize=True)).returncode == 0
    ingest0, slow0 = _outputs(run_dir / "00-ingest"), _outputs(run_dir / "01-test-slow-copy")

    assert _run(_config(tmp_path, run_dir, inputs, delay_ms=0, tag="b", materialize=True)).returncode == 0
    assert _outputs(run_dir / "00-ingest") == ingest0, "an earlier stage was redone"
    assert _outputs(run_dir / "01-test-slow-copy") != slow0
    assert {d["copied_by"] for d in read_docs(run_dir / "01-test-slow-copy")} == {"b"}

    slow1 = _outputs(run_dir / "01-test-slow-copy")
    result = _run(_config(tmp_path, run_dir, inputs, delay_ms=0, tag="b", keep_empty=True, materialize=True))
    assert result.returncode == 0, result.stderr.decode()
    assert _outputs(run_dir / "00-ingest") != ingest0
    assert _outputs(run_dir / "01-test-slow-copy") != slow1, "a later stage kept stale outputs"
    assert len(read_docs(run_dir / "00-ingest")) == 60

    unchanged = _outputs(run_dir / "01-test-slow-copy")
    assert _run(_config(tmp_path, run_dir, inputs, delay_ms=0, tag="b", keep_empty=True, materialize=True)).returncode == 0
    assert _outputs(run_dir / "01-test-slow-copy") == unchanged, "an unchanged run redid work"


def test_an_input_that_disappears_takes_its_outputs_with_it(tmp_path):
    inputs = _inputs(tmp_path / "in", shards=3, docs=10)
    run_dir = tmp_path / "run"
    assert _run(_config(tmp_path, run_dir, inputs, delay_ms=0)).returncode == 0
    (inputs / "part-01.jsonl").unlink()
    assert _run(_config(tmp_path, run_dir, inputs, delay_ms=0)).returncode == 0
    names = sorted(p.name for p in (run_dir / "01-test-slow-copy").glob("*.parquet"))
    assert names == ["part-00.parquet", "part-02.parquet"]
    assert all(d["id"].split("-")[0] in ("s0", "s2") for d in read_docs(run_dir / "01-test-slow-copy"))


def test_parquet_output_has_large_row_groups_and_zstd(tmp_path):
    inputs = tmp_path / "in"
    write_jsonl(inputs / "big.jsonl", [{"text": f"doc {i}"} for i in range(30_000)])
    result = subprocess.run([*RUNNER, "ingest", str(inputs), "-o", str(tmp_path / "out")], env=ENV, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    meta = pq.ParquetFile(tmp_path / "out" / "big.parquet").metadata
    assert meta.num_row_groups == 1 and meta.row_group(0).num_rows == 30_000
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_workers_see_the_environment_of_the_run_not_of_their_start(tmp_path, monkeypatch):
    # the forkserver keeps the environment it started with; a later CURATE_* change must still reach workers
    from curate.executor import map_in_workers

    monkeypatch.setenv("CURATE_PROBE", "first")
    assert map_in_workers(_probe, [0, 1], workers=2, logging_dir=tmp_path / "l1") == ["first", "first"]
    monkeypatch.setenv("CURATE_PROBE", "second")
    assert map_in_workers(_probe, [0, 1], workers=2, logging_dir=tmp_path / "l2") == ["second", "second"]


def _probe(_):
    return os.environ.get("CURATE_PROBE")


def test_a_stage_that_raises_names_the_shard_and_a_rerun_redoes_only_that_shard(tmp_path):
    write_jsonl(tmp_path / "in" / "good.jsonl", [{"id": f"g{i}", "text": "fine"} for i in range(5)])
    write_jsonl(tmp_path / "in" / "bad.jsonl", [{"id": "b0", "text": "fine"}, {"id": "b1", "text": "BOOM"}])
    cmd = [*RUNNER, "test-fail-on", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-w", "2"]
    failed = subprocess.run(cmd, env=ENV, capture_output=True, timeout=120)
    err = failed.stderr.decode()
    assert failed.returncode == 1
    assert "test-fail-on failed on" in err and "bad.jsonl" in err and "cannot handle b1" in err
    assert "Traceback" not in err, "the traceback belongs in the task log, not on the terminal"
    assert not (tmp_path / "out" / "bad.parquet").exists() and (tmp_path / "out" / "good.parquet").exists()

    done = _outputs(tmp_path / "out")
    write_jsonl(tmp_path / "in" / "bad.jsonl", [{"id": "b0", "text": "fine"}, {"id": "b1", "text": "fixed"}])
    assert subprocess.run(cmd, env=ENV, capture_output=True, timeout=120).returncode == 0
    assert {k: v for k, v in _outputs(tmp_path / "out").items() if k in done} == done
    assert len(read_docs(tmp_path / "out")) == 7


def test_a_redone_shard_leaves_no_file_of_its_previous_run(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": str(i), "text": f"doc {i}"} for i in range(6)])
    out = tmp_path / "out"
    base = [*RUNNER, "test-slow-copy", str(tmp_path / "in"), "-o", str(out), "--delay-ms", "0"]
    assert subprocess.run([*base, "--format", "jsonl"], env=ENV, capture_output=True).returncode == 0
    assert (out / "a.jsonl").exists()
    # every document rejected, in Parquet now: no kept file of either format may remain
    assert subprocess.run([*base, "--reject-every", "1"], env=ENV, capture_output=True).returncode == 0
    assert not list(out.glob("a.*")) and (out / "rejected" / "a.parquet").exists()
    assert not (out / "rejected" / "a.jsonl").exists()
