"""`executor: slurm`: the sbatch script and arguments datatrove's SlurmPipelineExecutor generates for
curate, run by a one-machine stand-in for Slurm's commands (tests/fake_slurm.py) that executes the
submitted script's array tasks, so the script itself is what is tested."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curate.config import load_config
from curate.demo_crawl import generate_sample
from curate.errors import ShardFailed
from curate.pipeline import run_pipeline
from tests import fake_slurm
from tests.conftest import ROOT, run_cli, write_jsonl

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
import stages_for_tests  # noqa: E402,F401 - registers test-die-on


@pytest.fixture
def slurm(tmp_path, monkeypatch) -> Path:
    """Slurm's commands on PATH; returns the folder where they record what they were given."""
    record = tmp_path / "slurm-record"
    fake_slurm.install(tmp_path / "slurm-bin", record)
    monkeypatch.setenv("PATH", f"{tmp_path / 'slurm-bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_RECORD", str(record))
    monkeypatch.setenv("PYTHONPATH", f"{TESTS}:{ROOT}")  # array tasks unpickle the test stage
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)
    return record


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), docs=40, seed=5, shards=2)


def _config(tmp_path: Path, name: str, inputs: list[str], stages: list[dict], **top) -> Path:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"run_dir": f"run-{name}", "inputs": inputs, "stages": stages, **top}))
    return cfg


def _records(folder: Path) -> list[dict]:
    return sorted((r for p in sorted(folder.glob("*.parquet")) for r in pq.read_table(p).to_pylist()),
                  key=lambda r: r["id"])


def _submissions(record: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(record.glob("sbatch-*.json"))]


SLURM = {"partition": "cpu", "time": "02:00:00", "cpus_per_task": 2, "mem_per_cpu_gb": 1.5, "qos": "low",
         "job_name": "cc", "workers": 8, "sbatch_args": {"account": "proj1", "constraint": "amd"}, "poll_seconds": 0.2}


def test_slurm_script_and_arguments_and_the_same_output_as_local(tmp_path, crawl, slurm):
    stages = [{"stage": "extract"}, {"stage": "filter", "preset": "fineweb"}]
    inputs = [str(p) for p in crawl.files]
    local = run_pipeline(*load_config(_config(tmp_path, "local", inputs, stages)))
    on_slurm = run_pipeline(*load_config(_config(tmp_path, "slurm", inputs, stages, executor="slurm", slurm=SLURM)))

    subs = _submissions(slurm)
    # extract and filter run fused, one pass per shard: one job array, and no datatrove merge-stats job
    assert len(subs) == 1, "one job array per pass, and no datatrove merge-stats job"
    for sub, stage in zip(subs, ("00-extract",)):
        logs = tmp_path / "run-slurm" / stage / "_logs"
        script, argv = sub["script"], sub["argv"]
        directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
        assert directives == [
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem-per-cpu=1536M",  # Slurm takes no fractional size ("1.5G")
            "#SBATCH --nodes=1",
            "#SBATCH --partition=cpu",
            f"#SBATCH --job-name=cc-{stage}",
            "#SBATCH --time=02:00:00",
            f"#SBATCH --output={logs}/slurm_logs/%A_%a.out",
            f"#SBATCH --error={logs}/slurm_logs/%A_%a.out",
            f"#SBATCH --array=0-{len(crawl.files) - 1}%8",
            "#SBATCH --account=proj1",
            "#SBATCH --constraint=amd",
            "#SBATCH --requeue",
            "#SBATCH --qos=low",
        ]
        assert script.startswith("#!/bin/bash\n")
        assert f"source {sys.prefix}/bin/activate" in script  # the venv curate runs from (on the shared FS)
        assert re.search(rf"^srun +-l -n 1 launch_pickled_pipeline {logs}/executor.pik$", script, re.M)
        assert argv[:-1] == ["--export=ALL,RUN_OFFSET=0"]
        # every array task ran: datatrove's completion marker per rank; the driver asked squeue until the array was gone
        assert len(list((logs / "completions").iterdir())) == len(crawl.files)
    calls = (slurm / "calls.txt").read_text().splitlines()
    assert "squeue -h -j 4000 -o %i" in calls

    for a, b in zip(local, on_slurm):
        assert (a.stats.docs_in, a.stats.kept, a.stats.rejected, a.stats.reasons) == \
               (b.stats.docs_in, b.stats.kept, b.stats.rejected, b.stats.reasons)
        assert b.shards_run == len(crawl.files)
        folder = tmp_path / "run-slurm" / b.out_dir.name
        assert _records(folder) == _records(a.out_dir) and _records(folder / "rejected") == _records(a.out_dir / "rejected")

    # resume is curate's manifest: nothing left to do, so nothing is submitted
    again = run_pipeline(*load_config(_config(tmp_path, "slurm", inputs, stages, executor="slurm", slurm=SLURM)))
    assert [r.shards_run for r in again] == [0, 0] and len(_submissions(slurm)) == 1


def test_a_task_that_dies_is_reported_and_redone_on_the_next_run(tmp_path, slurm):
    shards = [write_jsonl(tmp_path / "in" / f"part-{i}.jsonl",
                          [{"id": f"{i}-{j}", "text": "DIE here" if (i, j) == (1, 2) else f"doc {i} {j}"}
                           for j in range(4)]) for i in range(3)]
    cfg = _config(tmp_path, "die", [str(tmp_path / "in")], [{"stage": "test-die-on", "marker": "DIE"}],
                  executor="slurm", slurm={"partition": "cpu", "max_array_size": 2, "poll_seconds": 0.2})
    with pytest.raises(ShardFailed, match=r"1 of 3 slurm tasks did not finish \(ranks 1;"):
        run_pipeline(*load_config(cfg))
    # more tasks than the cluster's MaxArraySize: two arrays side by side (not chained), the driver waited for both
    subs = _submissions(slurm)
    assert [s["argv"][:-1] for s in subs] == [["--export=ALL,RUN_OFFSET=0"], ["--export=ALL,RUN_OFFSET=1"]]
    assert all("#SBATCH --array=0-1\n" in s["script"] for s in subs)
    out = tmp_path / "run-die" / "00-test-die-on"
    assert sorted(p.name for p in out.glob("*.parquet")) == ["part-0.parquet", "part-2.parquet"]

    shards[1].write_text(shards[1].read_text().replace("DIE", "fixed"))
    rerun = run_pipeline(*load_config(cfg))
    assert rerun[0].shards_run == 1 and rerun[0].stats.kept == 12


@pytest.mark.parametrize("top, message", [
    ({"executor": "slurm"}, "cfg.yaml: executor: slurm needs a `slurm:` section with at least `partition`"),
    ({"executor": "slurm", "slurm": {"time": "1:00:00"}}, "cfg.yaml: slurm.partition: Field required (got {'time': '1:00:00'})"),
    ({"slurm": {"partition": "cpu"}}, "cfg.yaml: a `slurm:` section is given but executor is local"),
    ({"executor": "ray", "ray": {"cpus": 2}}, "cfg.yaml: unknown key 'ray.cpus'"),
])
def test_bad_executor_config_is_one_line_and_exit_2(tmp_path, top, message):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "1", "text": "x"}])
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"run_dir": "run", "inputs": ["in"], "stages": [{"stage": "ingest"}], **top}))
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().splitlines()[-1].endswith(message)
    assert not (tmp_path / "run").exists(), "nothing is written for a bad config"


def test_no_sbatch_on_path_is_a_one_line_error(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "1", "text": "x"}])
    cfg = _config(tmp_path, "nosbatch", [str(tmp_path / "in")], [{"stage": "ingest"}],
                  executor="slurm", slurm={"partition": "cpu"})
    proc = run_cli("run", str(cfg), env={"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "error: executor: slurm: sbatch not found: run curate where Slurm's commands are on PATH"
