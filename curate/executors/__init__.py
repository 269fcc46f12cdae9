"""Running a stage's per-shard tasks on a cluster: datatrove's Ray and Slurm executors.

`run_tasks` (curate/executor.py) sends the work here when the run config says `executor: ray`
or `executor: slurm`. Task `rank` is still pending input shard number `rank`, and curate's
manifest still decides what is done: datatrove's completion markers are only read here to
notice tasks that died without a word (killed for memory, out of time, a lost node).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from curate.errors import ShardFailed
from curate.executors.ray import RayOptions, run_on_ray
from curate.executors.slurm import SlurmOptions, run_on_slurm

ClusterOptions = RayOptions | SlurmOptions

COMPLETIONS = "completions"  # datatrove's per-rank marker folder in the logging dir


def run_on_cluster(step: PipelineStep, n_tasks: int, logging_dir: Path, options: ClusterOptions) -> None:
    """Run `step` for ranks 0..n_tasks-1 on the cluster `options` describes; wait for all of them."""
    # ranks are renumbered each run (they index the pending shards): old markers would lie
    shutil.rmtree(logging_dir / COMPLETIONS, ignore_errors=True)
    if isinstance(options, RayOptions):
        run_on_ray(step, n_tasks, logging_dir, options)
    else:
        run_on_slurm(step, n_tasks, logging_dir, options)
    done = {p.name for p in (logging_dir / COMPLETIONS).glob("*")}
    missing = [rank for rank in range(n_tasks) if f"{rank:05d}" not in done]
    if missing:
        raise ShardFailed(
            f"{len(missing)} of {n_tasks} {options.kind} tasks did not finish (ranks {_ranks(missing)}; "
            f"task logs in {logging_dir}/logs/): finished shards are kept, rerun to resume"
        )


def _ranks(ranks: list[int], shown: int = 10) -> str:
    text = ", ".join(map(str, ranks[:shown]))
    return text + (f", ... ({len(ranks) - shown} more)" if len(ranks) > shown else "")


__all__ = ["ClusterOptions", "RayOptions", "SlurmOptions", "run_on_cluster"]
