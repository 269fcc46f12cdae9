"""`executor: slurm`: a stage's per-shard tasks as a Slurm job array, through datatrove's SlurmPipelineExecutor.

`curate run` is the driver: run it on a login node (or in a plain, non-array job). For each
stage it pickles the stage into `OUT/_logs/executor.pik`, writes `OUT/_logs/launch_script.slurm`
and submits it with `sbatch`; each array task runs `launch_pickled_pipeline` on one input shard.
The driver waits until the arrays have left the queue (squeue), checks that every task finished,
reads the manifest and goes on to the next stage, so global stages (dedup) see every shard.
The run directory and the venv must be on a file system every node sees at the same path.
"""

from __future__ import annotations

import os
import shutil
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
    poll_seconds: float = Field(30, gt=0, description="How often the driver asks squeue whether a stage's arrays have ended.")


class JobIds:
    """datatrove's job-id retriever that also remembers every id: the driver waits for all of them."""

    def __init__(self):
        self.ids: list[str] = []

    def __call__(self, sbatch_output: str) -> str:
        self.ids.append(sbatch_output.split()[-1])  # "Submitted batch job 1234"
        return self.ids[-1]


class CurateSlurmExecutor(SlurmPipelineExecutor):
    """datatrove's Slurm executor, fitted to curate's stage-by-stage driver.

    - memory in whole MB: Slurm rejects a fractional size such as datatrove's `1.5G`;
    - no merge-stats job: the per-stage counts come from curate's manifest, not datatrove's stats.
    """

    def get_sbatch_args(self, max_array: int = 1) -> dict:
        args = super().get_sbatch_args(max_array)
        if "mem-per-cpu" not in self._sbatch_args:
            args["mem-per-cpu"] = f"{round(self.mem_per_cpu_gb * 1024)}M"
        return args

    def launch_merge_stats(self) -> None:
        pass


def default_venv_activate() -> str | None:
    activate = Path(sys.prefix) / "bin" / "activate"
    return str(activate) if sys.prefix != sys.base_prefix and activate.is_file() else None


def build_executor(step: PipelineStep, n_tasks: int, logging_dir: Path, options: SlurmOptions) -> CurateSlurmExecutor:
    return CurateSlurmExecutor(
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
        # arrays beyond the first are independent (the driver waits for all), not chained one after another
        max_array_launch_parallel=True,
        job_id_retriever=JobIds(),
        tasks_per_job=options.tasks_per_job,
        logging_dir=str(logging_dir),
        skip_completed=False,  # curate's manifest decides what is done
        slurm_logs_folder=options.slurm_logs_folder or str(logging_dir / "slurm_logs"),
        requeue=options.requeue,
        mail_user=None,
    )


def run_on_slurm(step: PipelineStep, n_tasks: int, logging_dir: Path, options: SlurmOptions) -> None:
    """Submit `step` for ranks 0..n_tasks-1 as job arrays and wait until every array has left the queue."""
    if "SLURM_ARRAY_TASK_ID" in os.environ:
        # datatrove would take this process for one of its own array tasks
        raise ConfigError("executor: slurm: run `curate run` on a login node or in a plain job, not inside a job array")
    if shutil.which("sbatch") is None:
        raise ConfigError("executor: slurm: sbatch not found: run curate where Slurm's commands are on PATH")
    executor = build_executor(step, n_tasks, logging_dir, options)
    try:
        executor.run()
    except FileNotFoundError as e:
        raise ConfigError(f"executor: slurm: {e.filename or 'sbatch'} not found: run curate where Slurm's commands are on PATH") from None
    except subprocess.CalledProcessError as e:
        raise ConfigError(f"executor: slurm: sbatch refused the job (exit {e.returncode}): "
                          f"{(e.output or b'').decode(errors='replace').strip()}; script: {logging_dir}/launch_script.slurm") from None
    ids = executor.job_id_retriever.ids
    log.info(f"Slurm job {executor.job_name}: arrays {', '.join(ids)} submitted; waiting")
    for job_id in ids:
        wait_until_gone(job_id, options.poll_seconds)


def wait_until_gone(job_id: str, poll_seconds: float) -> None:
    """Poll squeue until the job (every task of the array) has left the queue."""
    while True:
        proc = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True)
        if proc.returncode == 0 and not proc.stdout.strip():
            return
        if proc.returncode != 0 and "invalid job id" in proc.stderr.lower():
            return  # ended long enough ago that the controller has forgotten it
        if proc.returncode != 0:  # the controller is busy or restarting: not a reason to give up
            log.warning(f"squeue -j {job_id}: {proc.stderr.strip()}; retrying")
        time.sleep(poll_seconds)
