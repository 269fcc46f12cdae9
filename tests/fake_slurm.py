"""A one-machine stand-in for Slurm's commands, for testing `executor: slurm` without a cluster.

`install(bin_dir, record_dir)` writes executables named sbatch, srun, scontrol and squeue. The
fake `sbatch` records its arguments and the submitted script (record_dir/sbatch-N.json), prints
`Submitted batch job N` as Slurm does and returns at once; a detached process then runs every
array task of the script with bash, one after another, with the SLURM_* variables a task sees.
`squeue -j N` lists job N until its tasks have all ended, so the caller must really wait.
`srun` runs its command in place. So the script datatrove generated is what runs: a wrong
directive, venv or command fails the tasks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

FIRST_JOB_ID = 4000


def _directives(script: str) -> list[str]:
    out = []
    for line in script.splitlines()[1:]:
        if not line.startswith("#SBATCH"):
            break  # sbatch stops at the first command line
        out.append(line.split(None, 1)[1])
    return out


def _option(options: list[str], name: str) -> str | None:
    for opt in options:
        if opt == f"--{name}":
            return ""
        if opt.startswith(f"--{name}="):
            return opt.split("=", 1)[1]
    return None


def sbatch(argv: list[str], record_dir: Path) -> int:
    script = Path(argv[-1]).read_text()  # a temporary file: read it before returning
    job_id = FIRST_JOB_ID + len(list(record_dir.glob("sbatch-*.json")))
    (record_dir / f"sbatch-{job_id}.json").write_text(json.dumps({"argv": argv, "script": script}))
    subprocess.Popen([sys.executable, __file__, "run-array", str(job_id)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"Submitted batch job {job_id}", flush=True)
    return 0


def run_array(job_id: str, record_dir: Path) -> int:
    sub = json.loads((record_dir / f"sbatch-{job_id}.json").read_text())
    script_path = record_dir / f"job-{job_id}.sh"
    script_path.write_text(sub["script"])
    options = _directives(sub["script"]) + sub["argv"][:-1]  # the command line wins, as with sbatch
    first, last = map(int, re.match(r"(\d+)-(\d+)", _option(options, "array") or "0-0").groups())
    export = dict(kv.split("=", 1) for kv in (_option(options, "export") or "ALL").split(",")[1:])
    for task in range(first, last + 1):
        env = {**os.environ, **export, "SLURM_JOB_ID": job_id, "SLURM_ARRAY_JOB_ID": job_id,
               "SLURM_ARRAY_TASK_ID": str(task), "SLURM_NODELIST": "localhost", "SLURM_NODEID": "0"}
        log = (_option(options, "output") or "slurm-%A_%a.out").replace("%A", job_id).replace("%a", str(task))
        with open(log, "ab") as out:
            code = subprocess.run(["bash", str(script_path)], env=env, stdout=out, stderr=out).returncode
        (record_dir / f"job-{job_id}_{task}.exit").write_text(str(code))
    (record_dir / f"job-{job_id}.done").touch()
    return 0


def squeue(argv: list[str], record_dir: Path) -> int:
    job_id = argv[argv.index("-j") + 1]
    if not (record_dir / f"sbatch-{job_id}.json").exists():
        print("slurm_load_jobs error: Invalid job id specified", file=sys.stderr)
        return 1
    if not (record_dir / f"job-{job_id}.done").exists():
        print(job_id)
    return 0


def srun(argv: list[str]) -> int:
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("-n", "-N", "--ntasks", "--nodes") else 1
    os.execvp(argv[i], argv[i:])


def main() -> int:
    command, argv = sys.argv[1], sys.argv[2:]
    record_dir = Path(os.environ["FAKE_SLURM_RECORD"])
    with open(record_dir / "calls.txt", "a") as calls:
        calls.write(" ".join([command, *argv]) + "\n")
    if command == "sbatch":
        return sbatch(argv, record_dir)
    if command == "run-array":
        return run_array(argv[0], record_dir)
    if command == "squeue":
        return squeue(argv, record_dir)
    if command == "srun":
        return srun(argv)
    if command == "scontrol" and argv[:2] == ["show", "hostnames"]:
        print("\n".join(argv[2].split(",")))
    return 0  # scontrol requeue: nothing to do


def install(bin_dir: Path, record_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    record_dir.mkdir(parents=True, exist_ok=True)
    for name in ("sbatch", "srun", "scontrol", "squeue"):
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).resolve()} {name} \"$@\"\n")
        exe.chmod(0o755)


if __name__ == "__main__":
    sys.exit(main())
