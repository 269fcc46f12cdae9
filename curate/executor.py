"""Running per-shard work in parallel local processes through datatrove's LocalPipelineExecutor,
or on a cluster through its Ray and Slurm executors (curate/executors/).

Using datatrove's executor (not a hand-rolled pool) keeps every curate stage a datatrove
`PipelineStep` that runs unchanged on its Ray and Slurm executors. datatrove's own
completion markers are not used (`skip_completed=False`): curate's manifest decides what
is done, per input shard and stage fingerprint.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from curate.atomic import write_atomic
from curate.executors import ClusterOptions, run_on_cluster
from curate.logs import configure_main_logging


def curate_env() -> dict[str, str]:
    """The CURATE_* environment of this process, to carry into worker processes.

    Workers come from a forkserver started once per process; they keep the environment of
    that moment, so a variable set later (a notebook, a test) would not reach them.
    """
    return {k: v for k, v in os.environ.items() if k.startswith("CURATE_")}


def apply_env(snapshot: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("CURATE_") and k not in snapshot]:
        del os.environ[key]
    os.environ.update(snapshot)


def run_tasks(step: PipelineStep, n_tasks: int, workers: int, logging_dir: Path,
              cluster: ClusterOptions | None = None) -> None:
    """Run `step` once per rank 0..n_tasks-1, at most `workers` at a time (1 = in this process),
    or on the Ray or Slurm cluster `cluster` describes."""
    if n_tasks == 0:
        return
    if cluster is not None:
        run_on_cluster(step, n_tasks, logging_dir, cluster)
        return
    executor = LocalPipelineExecutor(
        pipeline=[step],
        tasks=n_tasks,
        workers=max(1, min(workers, n_tasks)),
        logging_dir=str(logging_dir),
        skip_completed=False,
    )
    executor.run()
    configure_main_logging()  # the in-process (workers=1) path replaced the main process's sinks


class MapStep(PipelineStep):
    """Applies a picklable function to item `rank` and pickles the result to a file per rank."""

    name = "curate map"
    type = "curate"

    def __init__(self, fn: Callable[[Any], Any], items: list[Any], result_dir: str):
        super().__init__()
        self.fn, self.items, self.result_dir = fn, items, result_dir
        self.env = curate_env()

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        apply_env(self.env)
        result = self.fn(self.items[rank])
        write_atomic(Path(self.result_dir) / f"{rank:06d}.pkl", pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def map_in_workers(fn: Callable[[Any], Any], items: list[Any], workers: int, logging_dir: Path,
                   cluster: ClusterOptions | None = None) -> list[Any]:
    """`[fn(x) for x in items]` across worker processes, or as cluster tasks; fn must be a top-level function."""
    if not items or (cluster is None and (workers <= 1 or len(items) <= 1)):
        return [fn(x) for x in items]
    # on a cluster the results folder must be one every node sees: beside the logs, not in /tmp
    logging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="curate-map-", dir=logging_dir if cluster else None) as tmp:
        run_tasks(MapStep(fn, items, tmp), len(items), workers, logging_dir, cluster)
        return [pickle.loads((Path(tmp) / f"{i:06d}.pkl").read_bytes()) for i in range(len(items))]
