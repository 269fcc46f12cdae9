"""Benchmark `curate rewrite-queue export` on generated documents: wall time and peak memory.

    python scripts/bench_rewrite.py                      # 1,000,000 documents (the issue's target: < 2 min, < 2 GB)
    python scripts/bench_rewrite.py --docs 100000        # quicker

Documents (1-8 paragraphs, ~2.3 KB each, with a quality score, a 0-19 bucket, a language and a
URL over a skewed set of hosts) are generated once into 8 Parquet shards (cached under --work).
Then, each in a fresh process as a user runs it, with its peak resident memory:
  1. the floor: reading every document with curate's shard reader and nothing else;
  2. REWIRE-style export: the 20th-60th percentile band of the score, Wikipedia style;
  3. Nemotron-CC-style export: bucket routing, one style for low buckets and four for high ones,
     capped at 200,000 documents with per-domain caps (keep_mix).
The export's figures are reported as a ratio to the floor, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POLICIES = {
    "rewire": """
        name: rewire-middle
        band: {column: quality_score, low: 20, high: 60}
        styles: [wikipedia]
        model: gpt-4o-mini
        price: {input_per_million: 0.075, output_per_million: 0.30}
    """,
    "nemotron": """
        name: nemotron-cc-routing
        route:
          column: quality_bucket
          routes:
            - {max: 11, styles: [wikipedia_paraphrase]}
            - {min: 12, styles: [diverse_qa, distill, extract_knowledge, knowledge_list]}
        budget: {max_docs: 200000}
        domains: {column: url_host, keep_mix: true}
        model: gpt-4o-mini
        price: {input_per_million: 0.075, output_per_million: 0.30}
    """,
}

READ_ONLY = """
import sys
from pathlib import Path
from curate.shards import read_shard
n = chars = 0
for p in sorted(Path(sys.argv[1]).glob("*.parquet")):
    for doc in read_shard(p):
        n += 1
        chars += len(doc["text"])
print(n, chars)
"""


def generate(folder: Path, docs: int, shards: int = 8) -> None:
    from multiprocessing import Pool

    marker = folder / f".done-{docs}"
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    per = docs // shards
    jobs = [(folder / f"part-{i:02d}.parquet", per if i < shards - 1 else docs - per * (shards - 1), i) for i in range(shards)]
    with Pool(2) as pool:
        pool.starmap(_gen, jobs)
    marker.touch()


def _gen(path: Path, n: int, seed: int) -> None:
    from curate.rewrite.synthetic import write_many

    write_many(path, n, seed=seed, prefix=f"s{seed}")


def timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (the process tree, user + system), peak resident memory in GiB summed
    over the process tree, stdout. CPU seconds say more than wall time on a shared machine."""
    import resource

    from bench_dedup import TreeMemory  # the same sampler as the dedup benchmark

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "120"})
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    mem.stop = True
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
    return seconds, cpu, mem.peak / 2**30, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/curate-bench-rewrite"))
    ap.add_argument("--policies", default="rewire,nemotron")
    ap.add_argument("--workers", default="1,2", help="Worker counts to run each export with.")
    args = ap.parse_args()

    data = args.work / f"docs-{args.docs}"
    t = time.perf_counter()
    generate(data, args.docs)
    print(f"documents: {args.docs:,} in {data} (generated or cached, {time.perf_counter() - t:.0f} s); "
          f"{sum(p.stat().st_size for p in data.glob('*.parquet')) / 2**20:,.0f} MiB of Parquet")

    py = sys.executable
    floor_s, floor_cpu, floor_gb, out = timed([py, "-c", READ_ONLY, str(data)])
    n, chars = map(int, out.split()[:2])
    print(f"floor (read every document with curate's shard reader): {floor_s:.1f} s wall, {floor_cpu:.1f} s CPU, "
          f"peak {floor_gb:.2f} GiB, "
          f"{n:,} docs, {chars / n:,.0f} chars/doc")
    for name in args.policies.split(","):
        policy = args.work / f"{name}.yaml"
        policy.write_text(textwrap.dedent(POLICIES[name]))
        for workers in map(int, args.workers.split(",")):
            queue = args.work / f"queue-{name}"
            shutil.rmtree(queue, ignore_errors=True)
            seconds, cpu, gb, out = timed([py, "-m", "curate.cli", "rewrite-queue", "export", str(data), "-o", str(queue),
                                      "--policy", str(policy), "--json", "-w", str(workers)])
            m = orjson.loads(out[out.index("{"):out.rindex("}") + 1])
            size = sum(p.stat().st_size for p in (queue / "exports").rglob("requests-*.jsonl")) / 2**20
            # worker processes are children of multiprocessing's forkserver, which is never waited for:
            # their CPU time is not in RUSAGE_CHILDREN, so CPU is reported for -w 1 only
            cpu_text = f"{cpu:.1f} s CPU ({cpu / floor_cpu:.1f}x the floor's), " if workers == 1 else ""
            print(f"export {name} -w {workers}: {seconds:.1f} s wall ({seconds / floor_s:.1f}x the floor), "
                  f"{cpu_text}peak {gb:.2f} GiB "
                  f"(process tree); {m['documents']['queued']:,} documents queued, {m['requests']:,} requests in "
                  f"{len(m['files'])} files ({size:,.0f} MiB); {m['documents']['read'] / seconds:,.0f} docs/s read; "
                  f"estimated {m['tokens']['input']:,} input tokens, cost {m['cost']['total_expected']:,.2f} USD",
                  flush=True)
            shutil.rmtree(queue, ignore_errors=True)


if __name__ == "__main__":
    main()
