"""Cron over new dumps: the ledger of processed files, one dated batch per run, resume of a failed
batch, the run lock, and two batches equal to one run over both dumps (real WARC files)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.batches import BATCHES_DIR, PLAN_NAME, run_batch
from curate.config import load_config
from curate.demo_crawl import generate_sample
from curate.errors import ShardFailed
from curate.inputs import resolve_inputs
from curate.ledger import LEDGER_NAME, Ledger
from curate.logs import configure_main_logging
from tests.conftest import ROOT, write_jsonl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stages_for_tests  # noqa: E402,F401 - registers the test-only stages

STAGES = """stages:
  - stage: extract
  - stage: filter
    preset: fineweb
  - stage: dedup
    memory_limit: 1GB
  - stage: tokens
"""
GLOB = "crawl/CC-MAIN-*/**/*.warc.gz"


@pytest.fixture(scope="module")
def demo_crawl(tmp_path_factory) -> list[Path]:
    """Four WARC files of the demo crawl: copies and near copies across all of them."""
    info = generate_sample(tmp_path_factory.mktemp("demo"), docs=320, shards=4, seed=7)
    return info.files


def _place(files: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(f, folder / f.name)) for f in files]


def _kept(folder: Path) -> dict[str, str]:
    out = {}
    for p in folder.glob("*.parquet"):
        out.update((r["id"], r["text"]) for r in pq.read_table(p, columns=["id", "text"]).to_pylist())
    return out


def _rejected(folder: Path) -> dict[str, dict]:
    out = {}
    for p in (folder / "rejected").glob("*.parquet"):
        out.update((r["id"], r) for r in pq.read_table(p).to_pylist())
    return out


def _cards(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / BATCHES_DIR).glob("*.json"))]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`curate run ARGS` in this process (as the installed command: errors mapped to exit codes)."""
    from curate.cli import main

    err, old_cwd, old_err = io.StringIO(), os.getcwd(), sys.stderr
    os.chdir(cwd)
    sys.stderr = err
    try:
        code = main(["run", *args])
    finally:
        os.chdir(old_cwd)
        sys.stderr = old_err
        configure_main_logging()  # the run bound curate's stderr sink to the captured stream
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


def test_cron_runs_process_only_new_files_and_equal_one_run_over_both(tmp_path, demo_crawl):
    (tmp_path / "cron.yaml").write_text("run_dir: runs/cron\nledger: true\ninputs: [unused]\n" + STAGES)
    dump_a = _place(demo_crawl[:2], tmp_path / "crawl" / "CC-MAIN-2024-10" / "segments" / "1")

    # run 1: the first dump
    r1 = _run(tmp_path, "cron.yaml", "--input", GLOB)
    assert r1.returncode == 0, r1.stderr
    run_dir = tmp_path / "runs" / "cron"
    [card1] = _cards(run_dir)
    assert sorted(Path(c["path"]).name for c in card1["ledger"]["added"]) == [p.name for p in dump_a]
    assert card1["ledger"]["skipped"] == 0 and card1["status"] == "ok"
    ledger = json.loads((run_dir / LEDGER_NAME).read_text())
    assert ledger["batches"] == [card1["batch"]] and len(ledger["files"]) == 2

    # the second dump arrives; an old file is renamed and moved to another folder meanwhile
    dump_b = _place(demo_crawl[2:], tmp_path / "crawl" / "CC-MAIN-2024-18" / "segments" / "1")
    moved = tmp_path / "crawl" / "CC-MAIN-2024-10" / "segments" / "2" / "renamed.warc.gz"
    moved.parent.mkdir()
    dump_a[1].rename(moved)
    time.sleep(1.1)  # batch ids are per second
    r2 = _run(tmp_path, "cron.yaml", "--input", GLOB)
    assert r2.returncode == 0, r2.stderr
    card1_again, card2 = _cards(run_dir)
    assert card1_again == card1  # an earlier batch's card is never rewritten
    delta = card2["ledger"]
    assert sorted(c["path"] for c in delta["added"]) == sorted(str(p) for p in dump_b)
    assert delta["changed"] == []
    assert delta["skipped"] == 2  # the unchanged file and the moved one
    assert delta["moved"] == [{"from": str(dump_a[1]), "to": str(moved), "sha256": delta["moved"][0]["sha256"]}]
    assert delta["hashed"] == 3  # the two new files and the moved one; the unchanged one passed the stat check
    extract2 = card2["stages"][0]
    assert extract2["shards"] == 2  # only the new dump was read
    records = {r["path"]: r["batch"] for r in json.loads((run_dir / LEDGER_NAME).read_text())["files"]}
    assert records[str(moved)] == card1["batch"]  # the ledger follows the moved file, processed once
    assert str(dump_a[1]) not in records
    assert {records[str(p)] for p in dump_b} == {card2["batch"]}

    # run 3: nothing new; no batch, exit 0
    r3 = _run(tmp_path, "cron.yaml", "--input", GLOB)
    assert r3.returncode == 0, r3.stderr
    assert "nothing new: 4 input files already processed" in r3.stderr
    assert len(_cards(run_dir)) == 2

    # one run (no ledger) over both dumps as they arrived, with the survivor rule batches use
    _place(demo_crawl[:2], tmp_path / "all" / "CC-MAIN-2024-10")
    _place(demo_crawl[2:], tmp_path / "all" / "CC-MAIN-2024-18")
    (tmp_path / "one.yaml").write_text("run_dir: runs/one\ninputs: ['all/*/*.warc.gz']\n"
                                       + STAGES.replace("memory_limit: 1GB", "memory_limit: 1GB\n    survivor: first-seen"))
    r4 = _run(tmp_path, "one.yaml")
    assert r4.returncode == 0, r4.stderr
    one = tmp_path / "runs" / "one"
    b1, b2 = (run_dir / BATCHES_DIR / c["batch"] for c in (card1, card2))

    # same documents kept (ids and texts) wherever kept shards are written (stages fused into one
    # pass write only the last one's), same rejects at every stage, the same survivors in dedup
    compared = 0
    for stage in ("00-extract", "01-filter", "02-dedup", "03-tokens"):
        together = {**_kept(b1 / stage), **_kept(b2 / stage)}
        assert len(_kept(b1 / stage)) + len(_kept(b2 / stage)) == len(together)  # no document twice
        assert together == _kept(one / stage), stage
        compared += bool(together)
        rejected = {**_rejected(b1 / stage), **_rejected(b2 / stage)}
        assert {k: v["reject_reason"] for k, v in rejected.items()} == \
            {k: v["reject_reason"] for k, v in _rejected(one / stage).items()}, stage
    assert compared >= 2 and _kept(one / "03-tokens")  # the final output at least
    dups = lambda d: {k: (v["reject_reason"], v["duplicate_of"]) for k, v in d.items()}  # noqa: E731
    assert dups({**_rejected(b1 / "02-dedup"), **_rejected(b2 / "02-dedup")}) == dups(_rejected(one / "02-dedup"))
    cross = [k for k, (_, of) in dups(_rejected(b2 / "02-dedup")).items() if of in _kept(b1 / "02-dedup")]
    assert cross, "the second dump holds copies of the first one's documents"
    # per-stage counts add up to the single run's
    single = json.loads((one / "run-card.json").read_text())
    for i, stage in enumerate(single["stages"]):
        for key in ("in", "kept", "rejected"):
            assert card1["stages"][i][key] + card2["stages"][i][key] == stage[key], (stage["stage"], key)
    assert card1["tokens"]["kept_tokens"] + card2["tokens"]["kept_tokens"] == single["tokens"]["kept_tokens"] > 0


def test_a_changed_file_is_processed_again_and_a_copy_once(tmp_path):
    """Ledger unit behaviour over JSONL files: changed content at a known path; the same bytes twice."""
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a1", "text": "one"}])
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"id": "b1", "text": "two"}])
    shards = lambda: resolve_inputs([str(tmp_path / "in")], (".jsonl",))  # noqa: E731
    ledger = Ledger(tmp_path)
    delta = ledger.scan(shards())
    assert [c.path.name for c in delta.new] == ["a.jsonl", "b.jsonl"] and delta.hashed == 2
    ledger.commit("b1", delta.new, delta)

    ledger = Ledger.load(tmp_path)
    assert ledger.scan(shards()).counts() == {"added": 0, "changed": 0, "skipped": 2, "moved": 0, "hashed": 0}
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"id": "b1", "text": "two, rewritten"}])
    shutil.copy2(tmp_path / "in" / "a.jsonl", tmp_path / "in" / "a-copy.jsonl")
    write_jsonl(tmp_path / "in" / "c.jsonl", [{"id": "c1", "text": "three"}])
    write_jsonl(tmp_path / "in" / "d.jsonl", [{"id": "c1", "text": "three"}])  # same bytes as c.jsonl
    delta = ledger.scan(shards())
    assert [c.path.name for c in delta.changed] == ["b.jsonl"]
    assert [c.path.name for c in delta.added] == ["c.jsonl"]
    assert sorted(c.path.name for c in delta.skipped) == ["a-copy.jsonl", "a.jsonl", "d.jsonl"]
    assert [c.path.name for c in delta.new] == ["b.jsonl", "c.jsonl"]
    assert delta.moved == []  # a copy beside its original is not a move
    ledger.commit("b2", delta.new, delta)
    (tmp_path / "in" / "a.jsonl").unlink()
    delta = ledger.scan(shards())
    assert [(Path(old).name, c.path.name) for old, c in delta.moved] == [("a.jsonl", "a-copy.jsonl")]
    assert delta.new == [] and delta.hashed == 0  # the copy was hashed when it appeared: trusted by path now


def test_a_failed_batch_leaves_the_ledger_alone_and_is_resumed_first(tmp_path):
    write_jsonl(tmp_path / "in" / "d1" / "a.jsonl", [{"id": f"a{i}", "text": f"fine {i}"} for i in range(5)])
    config = tmp_path / "c.yaml"
    write = lambda marker: config.write_text(  # noqa: E731
        f"run_dir: run\nledger: true\ninputs: ['in/*/*.jsonl']\nstages:\n  - stage: test-fail-on\n    marker: {marker}\n")
    write("BOOM")
    run = lambda: run_batch(*load_config(config), config)  # noqa: E731
    first = run()
    run_dir = tmp_path / "run"
    write_jsonl(tmp_path / "in" / "d2" / "b.jsonl", [{"id": "b0", "text": "fine"}, {"id": "b1", "text": "BOOM here"}])
    with pytest.raises(ShardFailed):
        run()
    assert Ledger.load(run_dir).batches == [first.batch.id]  # the failed batch's file is not recorded
    [failed] = [b for b in (run_dir / BATCHES_DIR).iterdir() if b.is_dir() and b.name != first.batch.id]
    card = json.loads(failed.with_name(failed.name + ".json").read_text())
    assert card["status"] == "failed" and card["exit_code"] == 1 and "cannot handle b1" in card["error"]

    # a newer dump arrives before the fix: the failed batch is resumed first, alone
    write_jsonl(tmp_path / "in" / "d3" / "c.jsonl", [{"id": "c0", "text": "fine"}])
    write("NEVER")
    time.sleep(1.1)
    resumed = run()
    assert resumed.batch.id == failed.name and resumed.batch.resumed and resumed.waiting == 1
    assert resumed.delta.hashed == 1  # the batch's own file was hashed when it was planned; c.jsonl is new
    assert [c.path.name for c in resumed.batch.files] == ["b.jsonl"]
    card = json.loads(failed.with_name(failed.name + ".json").read_text())
    assert card["status"] == "ok" and card["exit_code"] == 0 and card["error"] is None
    assert card["stages"][0]["kept"] == 2
    latest = run()
    assert [c.path.name for c in latest.batch.files] == ["c.jsonl"] and not latest.batch.resumed
    assert Ledger.load(run_dir).batches == [first.batch.id, failed.name, latest.batch.id]
    assert all((run_dir / BATCHES_DIR / b / PLAN_NAME).exists() for b in Ledger.load(run_dir).batches)


def test_an_overlapping_cron_run_exits_75_and_changes_nothing(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "x"}])
    gate = tmp_path / "gate"
    (tmp_path / "c.yaml").write_text(f"run_dir: run\nledger: true\ninputs: [in]\nstages:\n"
                                     f"  - stage: test-gate\n    gate: {gate}\n")
    cmd = [sys.executable, str(ROOT / "tests" / "run_with_test_stages.py"), "run", "c.yaml"]
    first = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{gate}.waiting").exists():
            assert time.monotonic() < deadline and first.poll() is None, "the first run never reached the gate"
            time.sleep(0.05)
        before = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}
        second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, timeout=120)
        assert second.returncode == 75, second.stderr.decode()
        assert "in use by another curate run" in second.stderr.decode()
        assert {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()} == before
    finally:
        gate.touch()
        assert first.wait(timeout=120) == 0, first.stderr.read().decode()
    assert len(Ledger.load(tmp_path / "run").batches) == 1


def test_input_option_replaces_the_configs_inputs_without_a_ledger_too(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "fine"}])
    (tmp_path / "c.yaml").write_text("run_dir: run\ninputs: ['nothing/*.jsonl']\nstages:\n  - stage: test-fail-on\n")
    r = _run(tmp_path, "c.yaml", "--input", "in/*.jsonl")
    assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path / "run" / "run-card.json").read_text())
    assert card["config"]["effective"]["inputs"] == [{"path": str(tmp_path / "in" / "*.jsonl"), "source": None}]
    assert card["stages"][0]["kept"] == 1 and not (tmp_path / "run" / BATCHES_DIR).exists()


def test_inputs_matching_nothing_are_a_usage_error(tmp_path):
    (tmp_path / "c.yaml").write_text("run_dir: run\nledger: true\ninputs: ['nothing/*.jsonl']\n"
                                     "stages:\n  - stage: filter\n")
    r = _run(tmp_path, "c.yaml")
    assert r.returncode == 2 and "nothing/*.jsonl" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run" / LEDGER_NAME).exists()
    (tmp_path / "c.yaml").write_text("run_dir: plain\ninputs: ['nothing/*.jsonl']\nstages:\n  - stage: filter\n")
    r = _run(tmp_path, "c.yaml")
    assert r.returncode == 2 and not (tmp_path / "plain").exists()  # nothing done: no run card left behind
