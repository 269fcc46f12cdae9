"""`executor: slurm`: a stage's per-shard tasks as a Slurm job array, through datatrove's SlurmPipelineExecutor.

`curate run` is the driver: run it on a login node (or in a plain, non-array job). For each
stage it pickles the stage into `OUT/_logs/executor.pik`, writes `OUT/_logs/launch_script.slurm`
and submits it with `sbatch`; each array task runs `launch_pickled_pipeline` on one input shard.
The driver waits for the array to end (sbatch's --wait, then squeue until the job is gone), reads
the manifest, and goes on to the next stage, so global stages (dedup) still see every shard.
The run directory and the venv must be on a file system every node sees at the same path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

from datatrove.executor.slurm import SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from pydantic import BaseModel, ConfigDict, Field

from curate.errors import ConfigError
from curate.logs import log

POLL_SECONDS = 30


class SlurmOptions(BaseModel):
    """Options of `executor: slurm` (the `slurm:` section of a run config)."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = "slurm"
    partition: str = Field(description="Slurm partition the job arrays go to.")
    time: str = Field("24:00:00", description="Time limit of each array task (sbatch --time), e.g. 04:00:00.")
    cpus_per_task: int = Field(1, ge=1, description="CPUs per array task (sbatch --cpus-per-task); one task = one input shard.")
    mem_per_cpu_gb: float = Field(2, gt=0, description="Memory per CPU in GB (sbatch --mem-per-cpu); a task gets cpus_per_task x this.")
    qos: str | None = Field(None, description="Quality of service (sbatch --qos); none: the partition's default.")
    job_name: str = Field("curate", description="Job name prefix; each stage's array is named PREFIX-NN-STAGE.")
    workers: int | None = Field(None, ge=1, description="At most this many array tasks at once (--array=0-N%workers); none: no limit.")
    tasks_per_job: int = Field(1, ge=1, description="Input shards each array task processes one after another (fewer, longer jobs).")
    max_array_size: int = Field(1001, ge=1, description="The cluster's MaxArraySize: more tasks are submitted as several chained arrays.")
    venv_path: str | None = Field(None, description="Activate script sourced before each task; none: this Python's venv (bin/activate), if any.")
    env_command: str | None = Field(None, description="Shell command that sets up the environment instead of venv_path (e.g. `module load python; source ...`).")
    sbatch_args: dict[str, str | int] = Field(default_factory=dict, description="More #SBATCH directives, e.g. {account: proj1, constraint: cpu}; a value of \"\" writes a bare flag.")
    slurm_logs_folder: str | None = Field(None, description="Folder for Slurm's per-task stdout/stderr (%A_%a.out); none: OUT/_logs/slurm_logs.")
    requeue: bool = Field(True, description="Let Slurm requeue a preempted task (sbatch --requeue).")


class WaitingSlurmExecutor(SlurmPipelineExecutor):
    """datatrove's Slurm executor, made to fit curate's stage-by-stage driver.

    - sbatch --wait: the driver blocks until the array ends, then reads the manifest;
    - memory in whole MB: Slurm rejects a fractional size such as datatrove's `1.5G`;
    - no merge-stats job: the per-stage counts come from curate's manifest, not datatrove's stats.
    """

    def get_sbatch_args(self, max_array: int = 1) -> dict:
        args = super().get_sbatch_args(max_array)
        if "mem-per-cpu" not in self._sbatch_args:
            args["mem-per-cpu"] = f"{round(self.mem_per_cpu_gb * 1024)}M"
        return {**args, "wait": ""}

    def launch_merge_stats(self) -> None:
        pass


def default_venv_activate() -> str | None:
    activate = Path(sys.prefix) / "bin" / "activate"
    return str(activate) if sys.prefix != sys.base_prefix and activate.is_file() else None


def build_executor(step: PipelineStep, n_tasks: int, logging_dir: Path, options: SlurmOptions) -> WaitingSlurmExecutor:
    return WaitingSlurmExecutor(
        pipeline=[step],
        tasks=n_tasks,
        time=options.time,
        partition=options.partition,
        cpus_per_task=options.cpus_per_task,
        mem_per_cpu_gb=options.mem_per_cpu_gb,
        workers=options.workers or -1,
        job_name=f"{options.job_name}-{logging_dir.parent.name}",  # OUT is <run_dir>/NN-STAGE
        qos=options.qos or "",
        env_command=options.env_command,
        venv_path=options.venv_path or default_venv_activate(),
        sbatch_args=dict(options.sbatch_args),
        max_array_size=options.max_array_size,
        tasks_per_job=options.tasks_per_job,
        logging_dir=str(logging_dir),
        skip_completed=False,  # curate's manifest decides what is done
        slurm_logs_folder=options.slurm_logs_folder or str(logging_dir / "slurm_logs"),
        requeue=options.requeue,
        mail_user=None,
    )


def run_on_slurm(step: PipelineStep, n_tasks: int, logging_dir: Path, options: SlurmOptions) -> None:
    """Submit `step` for ranks 0..n_tasks-1 as a job array and wait until it has ended."""
    if "SLURM_ARRAY_TASK_ID" in os.environ:
        # datatrove would take this process for one of its own array tasks
        raise ConfigError("executor: slurm: run `curate run` on a login node or in a plain job, not inside a job array")
    executor = build_executor(step, n_tasks, logging_dir, options)
    try:
        executor.run()
    except FileNotFoundError as e:
        raise ConfigError(f"executor: slurm: {e.filename or 'sbatch'} not found: run curate where Slurm's commands are on PATH") from None
    except subprocess.CalledProcessError as e:
        # sbatch --wait exits non-zero when an array task failed (killed, out of time): the
        # caller reports the shards that did not finish; finished ones are recorded
        log.warning(f"Slurm job {executor.job_name}: sbatch exited {e.returncode}; Slurm's logs: {executor.slurm_logs_folder}")
    if executor.job_id not in (None, -1):
        wait_until_gone(str(executor.job_id))


def wait_until_gone(job_id: str) -> None:
    """Poll squeue until the job has left the queue (a second guard besides sbatch --wait)."""
    while True:
        try:
            proc = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True)
        except FileNotFoundError:
            return
        # an unknown job id (already purged from the controller) is an error: it is gone too
        if proc.returncode != 0 or not proc.stdout.strip():
            return
        time.sleep(POLL_SECONDS)
