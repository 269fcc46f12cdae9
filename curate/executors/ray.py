"""`executor: ray`: a stage's per-shard tasks on datatrove's RayPipelineExecutor.

Ray is an optional extra (`pip install 'curate[ray]'`). The run directory must be on a file
system every Ray node sees at the same path: tasks write their shards, manifest entries and
logs there directly, and the driver (`curate run`) reads them when the stage ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from datatrove.pipeline.base import PipelineStep
from pydantic import BaseModel, ConfigDict, Field

from curate.errors import ConfigError


class RayOptions(BaseModel):
    """Options of `executor: ray` (the `ray:` section of a run config)."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = "ray"
    address: str | None = Field(None, description="Ray cluster to join (`host:port`, `auto`, `ray://...`); none: the one this process is connected to, else `ray.init()`'s default (RAY_ADDRESS, or a new local cluster).")
    cpus_per_task: int = Field(1, ge=1, description="CPUs Ray reserves for each task (one task = one input shard).")
    mem_per_cpu_gb: float = Field(2, gt=0, description="Memory Ray reserves per reserved CPU, in GB (a task gets cpus_per_task x this).")
    workers: int | None = Field(None, ge=1, description="At most this many tasks at once; none: as many as the cluster's free resources fit.")


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("executor: ray needs Ray installed: pip install 'curate[ray]'") from None
    return ray


def connect(options: RayOptions) -> None:
    """Join (or start) a Ray cluster unless this process already has one (a notebook's, a test's)."""
    ray = _ray()
    if ray.is_initialized():
        return
    try:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
    except ConnectionError as e:
        raise ConfigError(f"executor: ray: cannot connect to the Ray cluster at {options.address}: {e}") from None


def run_on_ray(step: PipelineStep, n_tasks: int, logging_dir: Path, options: RayOptions) -> None:
    """Run `step` for ranks 0..n_tasks-1 as Ray tasks; returns when every task has ended."""
    connect(options)
    from datatrove.executor.ray import RayPipelineExecutor

    RayPipelineExecutor(
        pipeline=[step],
        tasks=n_tasks,
        workers=options.workers or -1,
        logging_dir=str(logging_dir),
        skip_completed=False,  # curate's manifest decides what is done
        cpus_per_task=options.cpus_per_task,
        mem_per_cpu_gb=options.mem_per_cpu_gb,
        # not datatrove's `time`: in 0.10.1 a task it kills for time is looked up again after its
        # group was dropped (KeyError in RayTaskManager.task_done), ending the whole stage
    ).run()
