"""One writer per folder: overlapping runs on a run directory, an output folder or a dedup index.

Real processes throughout. The first run is held open by the `test-gate` stage (it waits for a
file the test creates), so "the second starts while the first runs" is certain, not timed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from curate.lock import LOCK_NAME, LockHeld, LockUnavailable, empty_locked_folder, folder_lock
from curate.logs import log
from tests.conftest import ROOT, read_docs, write_jsonl

TESTS = Path(__file__).resolve().parent
RUNNER = [sys.executable, str(TESTS / "run_with_test_stages.py")]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")])}
AT_ONCE_S = 45  # a refused run exits after interpreter start-up only; generous for a loaded 2-core machine


WORDS = [a + b + c for a in ("ka", "lo", "mi", "tu", "re") for b in ("sen", "dar", "vol", "pim") for c in ("a", "o", "us")]


def _inputs(folder: Path, shards: int = 3, docs: int = 20) -> Path:
    """Distinct documents (random words, so no two are near-duplicates)."""
    rng = random.Random(7)
    for s in range(shards):
        recs = [{"id": f"s{s}-{i}", "text": " ".join(rng.choices(WORDS, k=40))} for i in range(docs)]
        write_jsonl(folder / f"part-{s:02d}.jsonl", recs)
    return folder


def _config(tmp: Path, run_dir: Path, inputs: Path, stages: list[dict], name: str = "cfg", workers: int = 2) -> Path:
    cfg = {"run_dir": str(run_dir), "workers": workers, "inputs": [{"path": str(inputs), "source": "web"}], "stages": stages}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _start(args: list[str], tmp: Path, name: str) -> subprocess.Popen:
    """Start `curate ARGS` (with the test stages) in its own process group; output to files."""
    out, err = open(tmp / f"{name}.out", "wb"), open(tmp / f"{name}.err", "wb")
    return subprocess.Popen([*RUNNER, *args], env=ENV, stdout=out, stderr=err, start_new_session=True)


def _run(args: list[str], input: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run([*RUNNER, *args], env=ENV, capture_output=True, input=input, timeout=AT_ONCE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"curate {' '.join(args)} did not exit within {AT_ONCE_S}s: it waited for (or ran beside) the other run")
    return proc


def _wait_for_holder(folder: Path, proc: subprocess.Popen, tmp: Path, name: str) -> dict:
    """The lock record of `folder` once `proc` holds it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited {proc.returncode} before locking {folder}:\n{(tmp / f'{name}.err').read_text()}")
        try:
            record = json.loads((folder / LOCK_NAME).read_text())
            if record.get("pid") == proc.pid:
                return record
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    pytest.fail(f"{name} never locked {folder}")


def _wait_at_gate(gate: Path, proc: subprocess.Popen, tmp: Path) -> None:
    deadline = time.monotonic() + 120
    while not Path(f"{gate}.waiting").exists():
        assert proc.poll() is None, (tmp / "first.err").read_text()
        assert time.monotonic() < deadline, "the first run never reached its gate"
        time.sleep(0.02)
    time.sleep(0.2)  # the stage's own bookkeeping before its first document is done by now


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of everything under `folder` but its lock file: changes if anything is written."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.name != LOCK_NAME}


def _finish(proc: subprocess.Popen, tmp: Path, name: str) -> str:
    try:
        proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"{name} did not finish after the gate opened")
    err = (tmp / f"{name}.err").read_text()
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{err}"
    return err


def _assert_refused(proc: subprocess.CompletedProcess, folder: Path, holder: dict, what: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 75, f"exit {proc.returncode}, expected 75 (EX_TEMPFAIL):\n{err}"
    assert "Traceback" not in err
    line = " ".join(err.split())  # rich may wrap a long line on a narrow terminal
    assert f"{what} {folder}" in line and "another curate run" in line, err
    assert f"pid {holder['pid']}" in line and holder["started"] in line, err
    return err


def test_a_second_run_on_one_run_dir_exits_75_at_once_touching_nothing_and_the_first_finishes(tmp_path):
    inputs = _inputs(tmp_path / "in")
    run_dir, gate = tmp_path / "run", tmp_path / "gate"
    stages = [{"stage": "ingest"}, {"stage": "test-gate", "gate": str(gate)}, {"stage": "test-slow-copy", "delay_ms": 0}]
    cfg = _config(tmp_path, run_dir, inputs, stages, workers=1)  # one task at a time: idle at the gate
    first = _start(["run", str(cfg)], tmp_path, "first")
    holder = _wait_for_holder(run_dir, first, tmp_path, "first")
    _wait_at_gate(gate, first, tmp_path)
    before = _snapshot(run_dir)

    # the same config with --fresh: without the lock it would wipe the first run's stage folders
    second = _run(["run", str(cfg), "--fresh"])
    _assert_refused(second, run_dir, holder, "run directory")
    assert first.poll() is None, "the first run should still be waiting at its gate"
    assert _snapshot(run_dir) == before, "the refused run changed the run directory"

    gate.touch()
    _finish(first, tmp_path, "first")
    kept = read_docs(run_dir / "02-test-slow-copy")
    assert sorted(d["id"] for d in kept) == sorted(f"s{s}-{i}" for s in range(3) for i in range(20))
    assert {d["copied_by"] for d in kept} == {"a"}
    assert (run_dir / LOCK_NAME).read_text() == "", "a finished run releases its lock cleanly"


def test_the_lock_of_a_killed_run_is_taken_over_with_a_warning_and_the_rerun_succeeds(tmp_path):
    inputs = _inputs(tmp_path / "in")
    run_dir, gate = tmp_path / "run", tmp_path / "gate"
    cfg = _config(tmp_path, run_dir, inputs, [{"stage": "ingest"}, {"stage": "test-gate", "gate": str(gate)}])
    first = _start(["run", str(cfg)], tmp_path, "first")
    holder = _wait_for_holder(run_dir, first, tmp_path, "first")
    os.killpg(first.pid, signal.SIGKILL)  # the whole run, workers included, as a crash or OOM kill would
    first.wait()
    assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == first.pid, "the killed run's record is left behind"

    gate.touch()
    rerun = _run(["run", str(cfg)])
    err = rerun.stderr.decode()
    assert rerun.returncode == 0, err
    line = " ".join(err.split())
    assert "taking over the lock" in line and f"pid {holder['pid']}" in line and holder["started"] in line, err
    assert len(read_docs(run_dir / "01-test-gate")) == 60

    again = _run(["run", str(cfg)])  # released cleanly this time: nothing to take over
    assert again.returncode == 0 and "taking over" not in again.stderr.decode(), again.stderr.decode()


def test_two_stage_commands_on_one_output_folder(tmp_path):
    inputs = _inputs(tmp_path / "in")
    out, gate = tmp_path / "out", tmp_path / "gate"
    first = _start(["test-gate", str(inputs), "-o", str(out), "--gate", str(gate)], tmp_path, "first")
    holder = _wait_for_holder(out, first, tmp_path, "first")
    _wait_at_gate(gate, first, tmp_path)
    before = _snapshot(out)

    second = _run(["test-slow-copy", str(inputs), "-o", str(out), "--fresh", "--tag", "b"])
    _assert_refused(second, out, holder, "output folder")
    # from stdin, the refused command would first have copied stdin into OUT/_stdin
    from_stdin = _run(["ingest", "-", "-o", str(out)], input=(inputs / "part-00.jsonl").read_bytes())
    _assert_refused(from_stdin, out, holder, "output folder")
    assert _snapshot(out) == before, "a refused command changed the output folder"

    gate.touch()
    _finish(first, tmp_path, "first")
    kept = read_docs(out)
    assert len(kept) == 60 and all("copied_by" not in d or d["copied_by"] is None for d in kept)


def test_two_dedup_runs_with_different_outputs_share_one_index_in_turn(tmp_path):
    inputs = _inputs(tmp_path / "in")
    index, gate = tmp_path / "index", tmp_path / "gate"
    stages = [{"stage": "ingest"}, {"stage": "test-gate", "gate": str(gate)}, {"stage": "dedup", "index": str(index)}]
    cfg = _config(tmp_path, tmp_path / "run", inputs, stages)
    first = _start(["run", str(cfg)], tmp_path, "first")
    holder = _wait_for_holder(index, first, tmp_path, "first")  # locked at the start of the run, not at dedup
    _wait_at_gate(gate, first, tmp_path)
    before = _snapshot(index)

    second = _run(["dedup", str(inputs), "-o", str(tmp_path / "other"), "--index", str(index)])
    _assert_refused(second, index, holder, "dedup folder")
    piped = _run(["dedup", "-", "-o", "-", "--index", str(index), "--rejected", str(tmp_path / "rej")],
                 input=(inputs / "part-00.jsonl").read_bytes())
    _assert_refused(piped, index, holder, "dedup folder")
    assert piped.stdout == b""
    assert _snapshot(index) == before, "a refused dedup changed the index"

    gate.touch()
    _finish(first, tmp_path, "first")
    assert len(read_docs(tmp_path / "run" / "02-dedup")) == 60  # all distinct: all kept, all indexed

    # in turn, the other dedup runs and finds every document already in the index
    second = _run(["dedup", str(inputs), "-o", str(tmp_path / "other"), "--index", str(index)])
    assert second.returncode == 0, second.stderr.decode()
    assert read_docs(tmp_path / "other") == []
    rejected = read_docs(tmp_path / "other" / "rejected")
    assert len(rejected) == 60 and {d["reject_reason"].split(":")[0] for d in rejected} == {"dedup"}


def _hold_in_child(folder: Path, ready: Path) -> subprocess.Popen:
    code = ("import sys, time, pathlib; from curate.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], 'output folder'):\n"
            "    pathlib.Path(sys.argv[2]).touch(); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder), str(ready)], env=ENV, start_new_session=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the child never took the lock"
        time.sleep(0.02)
    return proc


def test_folder_lock_is_reentrant_nests_and_refuses_another_process(tmp_path):
    run_dir, child_dir = tmp_path / "run", tmp_path / "run" / "00-x"
    run_dir.mkdir()  # made by the user: stays after the run, with its released lock file
    with folder_lock(run_dir, "run directory"):
        with folder_lock(run_dir, "run directory"), folder_lock(child_dir, "output folder"):  # no self-deadlock
            assert json.loads((child_dir / LOCK_NAME).read_text())["pid"] == os.getpid()
        assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == os.getpid(), "inner exit released the outer lock"
        assert not child_dir.exists(), "made by the lock and left empty: removed again"
    assert (run_dir / LOCK_NAME).read_text() == ""

    other = tmp_path / "other"
    holder = _hold_in_child(other, tmp_path / "ready")
    try:
        with pytest.raises(LockHeld) as refused:
            with folder_lock(other, "output folder"):
                pass
        assert refused.value.exit_code == 75 and f"pid {holder.pid}" in str(refused.value)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    with folder_lock(other, "output folder"):  # free once the holder is gone
        pass


def test_fresh_empties_a_locked_folder_but_keeps_its_lock_file(tmp_path):
    folder = tmp_path / "out"
    with folder_lock(folder, "output folder"):
        (folder / "sub").mkdir()
        (folder / "sub" / "a.parquet").write_bytes(b"x")
        (folder / "b.json").write_text("{}")
        inode = (folder / LOCK_NAME).stat().st_ino
        empty_locked_folder(folder)
        assert [p.name for p in folder.iterdir()] == [LOCK_NAME]
        assert (folder / LOCK_NAME).stat().st_ino == inode  # the same file: a new one would let a second run in


def test_an_output_path_that_is_a_file_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(LockUnavailable) as e:
        with folder_lock(tmp_path / "taken", "output folder"):
            pass
    assert e.value.exit_code == 2 and "a file is in the way" in str(e.value)
    inputs = _inputs(tmp_path / "in", shards=1, docs=3)
    proc = _run(["ingest", str(inputs), "-o", str(tmp_path / "taken")])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode(), proc.stderr.decode()
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_a_process_forked_by_a_killed_run_does_not_keep_its_folder_locked(tmp_path):
    """datatrove forks a multiprocess Manager that outlives a `kill -9` of the run alone; it must not hold the lock."""
    folder, ready = tmp_path / "run", tmp_path / "ready"
    code = ("import os, sys, time, pathlib; from curate.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], 'run directory'):\n"
            "    child = os.fork()\n"
            "    if child == 0:\n"
            "        time.sleep(60); os._exit(0)\n"
            "    pathlib.Path(sys.argv[2]).write_text(str(child)); time.sleep(60)\n")
    run = subprocess.Popen([sys.executable, "-c", code, str(folder), str(ready)], env=ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() or not ready.read_text():
            assert run.poll() is None and time.monotonic() < deadline, "the run never took the lock"
            time.sleep(0.02)
        forked = int(ready.read_text())
        os.kill(run.pid, signal.SIGKILL)  # the run alone, as `kill -9 PID` does
        run.wait()
        os.kill(forked, 0)  # the forked process lives on
        warnings: list[str] = []
        sink = log.add(warnings.append, level="WARNING", format="{message}")
        try:
            with folder_lock(folder, "run directory"):
                pass
        finally:
            log.remove(sink)
        assert any(f"pid {run.pid}" in w and "taking over" in w for w in warnings), warnings
    finally:
        os.killpg(run.pid, signal.SIGKILL)


def test_a_run_that_fails_before_any_work_leaves_no_folder_behind(tmp_path):
    nested = tmp_path / "run" / "00-x"
    with pytest.raises(RuntimeError):
        with folder_lock(tmp_path / "run", "run directory"), folder_lock(nested, "output folder"):
            raise RuntimeError("a missing model")
    assert not (tmp_path / "run").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with folder_lock(existing, "output folder"):
        pass
    assert [p.name for p in existing.iterdir()] == [LOCK_NAME], "a folder the user made stays, with its lock file"
    inputs = _inputs(tmp_path / "in", shards=1, docs=3)
    missing = _run(["model-filter", str(inputs), "-o", str(tmp_path / "out"), "--models", "no-such-model"])
    assert missing.returncode == 2 and not (tmp_path / "out").exists(), missing.stderr.decode()
