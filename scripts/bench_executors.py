"""The same run on the local executor and on a local Ray cluster, side by side: time and equal output.

    python scripts/bench_executors.py --docs 400 --shards 8

Generates the sample crawl, runs extract -> filter -> dedup with `executor: local` (workers = CPUs)
and with `executor: ray` on a Ray cluster of the same CPUs started here, and prints wall seconds
per stage for both, the ratio, and whether every stage's kept and rejected records are equal. On one
machine Ray can only add overhead (cluster start, actors, placement groups per task); the figure
says what that overhead is, so it can be weighed against the nodes a cluster adds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from curate.config import load_config
from curate.demo_crawl import generate_sample
from curate.pipeline import run_pipeline

STAGES = [{"stage": "extract"}, {"stage": "filter", "preset": "fineweb"}, {"stage": "dedup"}]


def records(folder: Path) -> list[dict]:
    return sorted((r for p in sorted(folder.glob("*.parquet")) for r in pq.read_table(p).to_pylist()), key=lambda r: r["id"])


def run(base: Path, files: list[Path], executor: str, cpus: int) -> tuple[list, float]:
    cfg = base / f"{executor}.yaml"
    cfg.write_text(yaml.safe_dump({"run_dir": f"run-{executor}", "executor": executor, "workers": cpus,
                                   "inputs": [str(p) for p in files], "stages": STAGES}))
    t0 = time.perf_counter()
    results = run_pipeline(*load_config(cfg))
    return results, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local cluster
    import ray

    base = Path(tempfile.mkdtemp(prefix="bench-exec-", dir="/tmp"))
    try:
        crawl = generate_sample(base / "sample", docs=args.docs, seed=0, shards=args.shards)
        local, local_s = run(base, crawl.files, "local", args.cpus)
        t0 = time.perf_counter()
        ray.init(num_cpus=args.cpus, _temp_dir=str(base / "ray"), include_dashboard=False, log_to_driver=False)
        start_s = time.perf_counter() - t0
        on_ray, ray_s = run(base, crawl.files, "ray", args.cpus)
        ray.shutdown()
        print(f"{args.docs} pages in {args.shards} WARC shards, {args.cpus} CPUs; Ray cluster start {start_s:.1f} s (not counted below)")
        print("| stage | local s | ray s | ray / local | same kept and rejected |")
        print("|---|---:|---:|---:|---|")
        for a, b in zip(local, on_ray):
            same = all(records(a.out_dir / sub) == records(b.out_dir / sub) for sub in (".", "rejected"))
            print(f"| {a.stage} | {a.seconds:.1f} | {b.seconds:.1f} | {b.seconds / a.seconds:.2f} | {'yes' if same else 'NO'} |")
        print(f"| whole run | {local_s:.1f} | {ray_s:.1f} | {ray_s / local_s:.2f} | |")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
