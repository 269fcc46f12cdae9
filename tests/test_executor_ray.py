"""`executor: ray` on a real local Ray cluster: the same shards, rejects and counts as local processes."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curate.config import load_config
from curate.demo_crawl import generate_sample
from curate.pipeline import run_pipeline

ray = pytest.importorskip("ray", reason="Ray is installed by `make setup` (the `ray` extra)")
# datatrove 0.10.1 places its Ray actors with an argument Ray 2.60 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:placement_group:DeprecationWarning")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), docs=40, seed=1, shards=2)


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-CPU Ray cluster for this module, its session files in a short folder of its own."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_AUTH_MODE", "disabled")  # Ray 2.60 wants a token by default, even locally
    # Ray's unix sockets live under the temp dir: pytest's tmp paths are too long for them
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    ray.init(num_cpus=2, _temp_dir=temp_dir, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    mp.undo()
    shutil.rmtree(temp_dir, ignore_errors=True)


def _run(tmp_path: Path, crawl, executor: str, **extra):
    cfg = tmp_path / f"{executor}.yaml"
    cfg.write_text(yaml.safe_dump({
        "run_dir": f"run-{executor}", "executor": executor, **extra,
        "inputs": [str(p) for p in crawl.files],
        # dedup, a barrier stage: its MinHash signing runs as Ray tasks too, its clustering in this process
        "stages": [{"stage": "extract"}, {"stage": "filter", "preset": "fineweb"}, {"stage": "dedup"}],
    }))
    return run_pipeline(*load_config(cfg)), tmp_path / f"run-{executor}"


def _records(folder: Path) -> list[dict]:
    rows = [r for p in sorted(folder.glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    return sorted(rows, key=lambda r: r["id"])


def test_ray_run_writes_what_the_local_run_writes(tmp_path, crawl, ray_cluster):
    local, local_dir = _run(tmp_path, crawl, "local")
    on_ray, ray_dir = _run(tmp_path, crawl, "ray", ray={"cpus_per_task": 1, "mem_per_cpu_gb": 0.5})

    # extract and filter run as one pass (only filter writes kept shards); dedup is a pass of its own
    for stage, writes_kept, first_of_pass in (("00-extract", False, True), ("01-filter", True, False),
                                              ("02-dedup", True, True)):
        kept, rejected = _records(ray_dir / stage), _records(ray_dir / stage / "rejected")
        assert bool(kept) == writes_kept and rejected, f"{stage}: the sample has pages to keep and to reject (and duplicates)"
        assert kept == _records(local_dir / stage)
        assert rejected == _records(local_dir / stage / "rejected")
        assert {r["reject_reason"].split(":")[0] for r in rejected} == {stage[3:]}
        if first_of_pass:
            # the tasks really ran on Ray: datatrove's Ray executor (with our resources) left its
            # description, and each task its stats file
            described = json.loads((ray_dir / stage / "_logs" / "executor.json").read_text())
            assert (described["cpus_per_task"], described["mem_per_cpu_gb"], described["world_size"]) == (1, 0.5, 2)
            assert len(list((ray_dir / stage / "_logs" / "stats").glob("*.json"))) == len(crawl.files)
    for a, b in zip(local, on_ray):
        assert (a.stats.docs_in, a.stats.kept, a.stats.rejected, a.stats.reasons) == \
               (b.stats.docs_in, b.stats.kept, b.stats.rejected, b.stats.reasons)
        assert b.shards_run == len(crawl.files)

    # resume is curate's manifest, on Ray too: nothing to redo, then only the shard whose input changed
    again, _ = _run(tmp_path, crawl, "ray", ray={"cpus_per_task": 1, "mem_per_cpu_gb": 0.5})
    assert [r.shards_run for r in again] == [0, 0, 0]
