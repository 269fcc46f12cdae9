"""select, report and explain on a generated 1M-document run with a full run's columns: time and peak memory.

Builds RUN/00-extract .. RUN/04-tokens (kept shards, rejected/ shards with reasons and details,
_manifest/ entries) from one generated table of N documents (text ~0.8 KB each; language, scores,
filter_failed, dup_cluster_size/duplicate_of, n_tokens, rating_edu, quality_bucket, topic, format),
then times, each in a fresh process (peak RSS from wait4):
- `curate select RUN/00-extract -o OUT --where <3 conjuncts>` (the whole corpus), and beside it the
  same selection with pyarrow.dataset (filter + write the kept rows only, no rejects) as a reference;
- `curate report RUN -o report.html`;
- `curate explain RUN ID` for a kept, a rule-rejected and a deduplicated document (wall time of the
  command, and of the library call alone).

    .venv/bin/python scripts/bench_select.py [--docs 1000000] [--work /tmp/bench-select] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
WHERE = "language = 'en' AND rating_edu >= 2.5 AND quality_bucket > 11"
SHARDS = 10


def generate(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(3000)] + ["the", "of", "and", "to", "a", "in"] * 200)
    words = rng.integers(40, 220, n)
    flat = vocab[rng.integers(0, len(vocab), int(words.sum()))]
    ends = np.cumsum(words)
    starts = ends - words
    texts = [" ".join(flat[s:e]) for s, e in zip(starts, ends)]
    langs = rng.choice(np.array(["en", "de", "fr", "es", "ja", "ru"]), n, p=[0.55, 0.12, 0.1, 0.1, 0.08, 0.05])
    domains = np.array([f"site{i}.example" for i in range(5000)])[rng.zipf(1.3, n) % 5000]
    ids = np.char.add("doc-", np.arange(n).astype(str))
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    return pa.table({
        "id": ids, "text": texts, "url": np.char.add(np.char.add("https://", domains), np.char.add("/p/", np.arange(n).astype(str))),
        "source": np.full(n, "cc-2024"), "source_file": np.char.add("crawl-", (np.arange(n) // 50_000).astype(str)),
        "source_offset": rng.integers(0, 1 << 30, n), "domain": domains, "crawl_date": np.full(n, "2024-05-01"),
        "language": langs, "language_score": rng.uniform(0.3, 1.0, n).astype(np.float32),
        "filter_failed": pa.array([[] if x > 0.2 else ["gopher_stop_words"] for x in rng.uniform(0, 1, n)], pa.list_(pa.string())),
        "quality": rng.beta(2, 2, n), "dup_cluster_size": np.where(rng.uniform(0, 1, n) < 0.1, rng.integers(2, 6, n), 1),
        "n_tokens": (lengths / 3.3).astype(np.int64), "tokens_method": np.full(n, "estimate"),
        "rating_edu": np.round(rng.uniform(0, 5, n), 1), "quality_bucket": rng.integers(0, 20, n),
        "topic": rng.choice(np.array(["science", "sports", "news", "travel", "health", "finance"]), n),
        "format": rng.choice(np.array(["article", "forum", "listing", "blog"]), n),
    })


def write_stage(folder: Path, table: pa.Table, kept_mask, reason: str | None, details=None, extra_rejected=None) -> pa.Table:
    """Write a stage folder from `table` (its input): kept rows, rejected rows with reasons, manifests."""
    (folder / "_manifest").mkdir(parents=True, exist_ok=True)
    kept = table.filter(kept_mask)
    rejected = table.filter(pc.invert(kept_mask))
    if reason is not None:
        rejected = rejected.append_column("reject_reason", pa.array([reason] * len(rejected)))
        rejected = rejected.append_column("reject_detail", details(rejected) if details else pa.nulls(len(rejected), pa.string()))
        if extra_rejected:
            for name, fn in extra_rejected.items():
                rejected = rejected.append_column(name, fn(rejected))
    n_in = len(table)
    for s in range(SHARDS):
        name = f"part-{s:02d}"
        k = kept.slice(s * len(kept) // SHARDS, (s + 1) * len(kept) // SHARDS - s * len(kept) // SHARDS)
        r = rejected.slice(s * len(rejected) // SHARDS, (s + 1) * len(rejected) // SHARDS - s * len(rejected) // SHARDS)
        pq.write_table(k, folder / f"{name}.parquet", compression="zstd", row_group_size=100_000)
        outputs, rej = [f"{name}.parquet"], []
        if len(r):
            (folder / "rejected").mkdir(exist_ok=True)
            pq.write_table(r, folder / "rejected" / f"{name}.parquet", compression="zstd", row_group_size=100_000)
            rej = [f"rejected/{name}.parquet"]
        stats = {"docs_in": len(k) + len(r), "kept": len(k), "rejected": len(r), "seconds": 0.0,
                 "reasons": {reason: len(r)} if len(r) else {}, "reasons_by_language": {}, "source": "cc-2024"}
        (folder / "_manifest" / f"{name}.json").write_bytes(orjson.dumps({
            "input": name, "input_hash": "", "input_size": 0, "input_mtime_ns": 0, "fingerprint": "bench",
            "outputs": outputs, "rejected": rej, "stats": stats}))
    assert n_in == len(kept) + len(rejected)
    return kept


def build_run(run: Path, n: int) -> None:
    t = generate(n)
    rng = np.random.default_rng(1)
    extract = write_stage(run / "00-extract", t, pa.array(rng.uniform(0, 1, n) > 0.02), "extract:empty")
    filt = write_stage(run / "01-filter", extract, pc.equal(pc.list_value_length(extract["filter_failed"]), 0), "filter:gopher_stop_words")
    q = filt["quality"]
    mf = write_stage(run / "02-model-filter", filt, pc.greater_equal(q, 0.3), "model-filter:low_score",
                     details=lambda r: pc.binary_join_element_wise(pa.array(["quality="] * len(r)), pc.cast(pc.round(r["quality"], 4), pa.string()),
                                                                   pa.array([" < 0.3"] * len(r)), ""))
    m = len(mf)
    dup = pa.array(np.random.default_rng(2).uniform(0, 1, m) < 0.08)
    dd = write_stage(run / "03-dedup", mf, pc.invert(dup), "dedup:minhash",
                     details=lambda r: pc.binary_join_element_wise(pa.array(["duplicate of "] * len(r)), r["id"], pa.array(["x"] * len(r)), ""),
                     extra_rejected={"duplicate_of": lambda r: pc.binary_join_element_wise(r["id"], pa.array(["x"] * len(r)), "")})
    write_stage(run / "04-tokens", dd, pa.array(np.ones(len(dd), bool)), None)


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh-process run (GNU time's maximum resident set size)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.decode()[-2000:]}")
    return seconds, int(proc.stderr.decode().strip().splitlines()[-1]) / 1024


PYARROW_SELECT = """
import glob, sys, pyarrow.dataset as ds, pyarrow.compute as pc
src, out = sys.argv[1], sys.argv[2]
d = ds.dataset(sorted(glob.glob(src + "/*.parquet")), format="parquet")  # the kept shards, not rejected/
f = (pc.field("language") == "en") & (pc.field("rating_edu") >= 2.5) & (pc.field("quality_bucket") > 11)
ds.write_dataset(d.scanner(filter=f), out, format="parquet", existing_data_behavior="overwrite_or_ignore",
                 file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"))
"""


PYARROW_SELECT_BOTH = """
import glob, sys, pyarrow as pa, pyarrow.dataset as ds, pyarrow.compute as pc, pyarrow.parquet as pq, os
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out + "/rejected", exist_ok=True)
f = (pc.field("language") == "en") & (pc.field("rating_edu") >= 2.5) & (pc.field("quality_bucket") > 11)
for path in sorted(glob.glob(src + "/*.parquet")):
    name = os.path.basename(path)
    d = ds.dataset(path, format="parquet")
    pq.write_table(d.to_table(filter=f), out + "/" + name, compression="zstd")
    rej = d.to_table(filter=~f)
    rej = rej.append_column("reject_reason", pa.array(["select:where"] * len(rej)))
    pq.write_table(rej, out + "/rejected/" + name, compression="zstd")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-select"))
    ap.add_argument("--keep", action="store_true", help="keep the generated run")
    args = ap.parse_args()
    run = args.work / "run"
    curate = [str(ROOT / ".venv" / "bin" / "curate")]
    if not (run / "04-tokens" / "_manifest").is_dir() or len(list((run / "00-extract" / "_manifest").glob("*.json"))) != SHARDS:
        shutil.rmtree(args.work, ignore_errors=True)
        t0 = time.perf_counter()
        build_run(run, args.docs)
        print(f"generated a {args.docs:,}-document run in {time.perf_counter() - t0:.0f} s "
              f"({sum(p.stat().st_size for p in run.rglob('*.parquet')) / 2**30:.2f} GiB of Parquet)")
    sel_out, ref_out = args.work / "selected", args.work / "pyarrow-selected"
    shutil.rmtree(sel_out, ignore_errors=True)
    shutil.rmtree(ref_out, ignore_errors=True)
    shutil.rmtree(str(ref_out) + "-both", ignore_errors=True)
    rows = []
    s, m = measure([*curate, "select", str(run / "00-extract"), "-o", str(sel_out), "--where", WHERE])
    rows.append(("select, 3 conjuncts (kept + rejected + manifests)", s, m))
    s2, m2 = measure([sys.executable, "-c", PYARROW_SELECT, str(run / "00-extract"), str(ref_out)])
    rows.append(("reference: pyarrow.dataset filter + write (kept only)", s2, m2))
    s2b, m2b = measure([sys.executable, "-c", PYARROW_SELECT_BOTH, str(run / "00-extract"), str(ref_out) + "-both"])
    rows.append(("reference: pyarrow per shard, kept + rejected with a reason column", s2b, m2b))
    s3, m3 = measure([*curate, "select", str(run / "00-extract"), "--where", WHERE, "--explain"])
    rows.append(("select --explain (counts only)", s3, m3))
    s4, m4 = measure([*curate, "report", str(run), "-o", str(args.work / "report.html")])
    rows.append(("report (whole run, 5 stages)", s4, m4))
    import duckdb

    kept_id = duckdb.sql(f"SELECT id FROM read_parquet('{run}/04-tokens/part-05.parquet') LIMIT 1 OFFSET 777").fetchall()[0][0]
    rej_id = duckdb.sql(f"SELECT id FROM read_parquet('{run}/02-model-filter/rejected/part-07.parquet') LIMIT 1 OFFSET 99").fetchall()[0][0]
    dup_id = duckdb.sql(f"SELECT id FROM read_parquet('{run}/03-dedup/rejected/part-09.parquet') LIMIT 1 OFFSET 5").fetchall()[0][0]
    sys.path.insert(0, str(ROOT))
    from curate.explain import explain

    for label, doc in (("kept", kept_id), ("rejected by model-filter", rej_id), ("duplicate", dup_id)):
        s5, m5 = measure([*curate, "explain", str(run), doc])
        t0 = time.perf_counter()
        story = explain(run, doc)
        lib = time.perf_counter() - t0
        rows.append((f"explain a {label} document (library call {lib:.2f} s)", s5, m5))
        assert story.stages[0].status == "kept"
    startup, startup_mem = measure([*curate, "--help"])
    rows.append(("(curate --help: interpreter + import start-up)", startup, startup_mem))
    kept = sum(pq.ParquetFile(p).metadata.num_rows for p in sel_out.glob("*.parquet"))
    ref_kept = sum(pq.ParquetFile(p).metadata.num_rows for p in ref_out.rglob("*.parquet"))
    assert kept == ref_kept, (kept, ref_kept)
    print(f"\n{args.docs:,} documents; select keeps {kept:,} (pyarrow: {ref_kept:,}); {os.cpu_count()} cores\n")
    print("| command | seconds | peak RSS MiB |")
    print("|---|---|---|")
    for name, sec, mem in rows:
        print(f"| {name} | {sec:.1f} | {mem:,.0f} |")
    print(f"\nselect vs pyarrow writing kept only: {s / s2:.2f}× the time (curate also writes {args.docs - kept:,} rejected rows); "
          f"vs pyarrow writing kept + rejected: {s / s2b:.2f}×")
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
