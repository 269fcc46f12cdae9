"""Every built-in stage crosses to cluster workers: Ray pickles the step with cloudpickle, Slurm's
launcher with dill. Checked on the step curate sends (ShardTasks, MapStep), before and after the
stage's setup (a driver that streamed once has loaded its models)."""

from __future__ import annotations

from pathlib import Path

import cloudpickle
import dill
import pytest

from curate.executor import MapStep
from curate.inputs import InputShard
from curate.runner import ShardTasks
from curate.stages import get_stage, load_stages
from curate.stages.dedup import sign_shard

# options for stages that have nothing to do without some (rate needs a trained rater: its own tests run it)
OPTIONS = {"model-filter": {"languages": ["en"]}}
SKIP = {"rate"}


def _builtin_stages() -> list[str]:
    return sorted(n for n, cls in load_stages().items() if cls.__module__.startswith("curate.stages.") and n not in SKIP)


@pytest.mark.parametrize("name", _builtin_stages())
@pytest.mark.parametrize("pickler", [cloudpickle, dill], ids=["cloudpickle", "dill"])
def test_stage_steps_pickle_for_cluster_workers(name, pickler, tmp_path):
    cls = get_stage(name)
    stage = cls(cls.Config(**OPTIONS.get(name, {})))
    stage.check()
    shard = InputShard(tmp_path / "a.jsonl", "a", "src")
    for ready in (False, True):
        if ready:
            stage.setup()
        step = ShardTasks([stage], [(shard, "hash")], [tmp_path / "out"], "parquet", ["fp"])
        back = pickler.loads(pickler.dumps(step))
        assert type(back.stages[0]) is cls and back.stages[0].config == stage.config and back.jobs == step.jobs


def test_map_step_pickles_with_a_stage_function(tmp_path):
    cls = get_stage("dedup")
    stage = cls(cls.Config())
    step = MapStep(sign_shard, [(stage, InputShard(tmp_path / "a.jsonl", "a", "src"), 0, str(tmp_path / "k.parquet"))],
                   str(tmp_path))
    for pickler in (cloudpickle, dill):
        back = pickler.loads(pickler.dumps(step))
        assert back.fn is sign_shard and back.items[0][1] == step.items[0][1]
