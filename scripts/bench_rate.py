"""Benchmarks of the rating loop (figures in docs/rate.md).

1. Rating throughput, one process (per core), on 3-5 KB documents, side by side in one run:
   - model-filter's scoring of the same documents with the same fastText model (the reference:
     curate's existing fastText scoring path, ~15,000 docs/s/core in docs/model-filter.md);
   - the rate stage's first pass (rating + caching the ratings) per rater;
   - the whole rate stage's work per document: first pass + the global bucket edges (DuckDB) +
     the second pass that reads the cached ratings back and assigns buckets.
   - the ceiling: fastText's predict alone, alternating with rate's and model-filter's use of it.
   Shard reading and writing are left out of all (the same for every stage). Times are CPU
   seconds of the one process (time.process_time), so docs/s/core holds on a shared machine.
2. Bradley-Terry recovery: synthetic documents with known ratings, 20 comparisons per document,
   each asked in both orders with a position bias; answers as hard letters and as probabilities;
   Spearman of the fitted ratings with the true ones, and the held-out pair accuracy.

Usage: python scripts/bench_rate.py [--docs 20000] [--bt-docs 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr


def make_docs(n: int, seed: int = 0) -> list[dict]:
    """English article text of 3-5 KB each, from the sample generator's prose."""
    from curate.demo_crawl import content

    rng = random.Random(seed)
    docs = []
    while len(docs) < n:
        text = content.article(rng, seed).gold
        while len(text) < 3000:
            text += "\n" + content.article(rng, seed).gold
        target = rng.randint(3000, 5000)
        docs.append({"id": f"b{len(docs)}", "text": text[:target], "source": "bench"})
    return docs


def bench_throughput(n: int) -> None:
    os.environ.setdefault("CURATE_MODELS_DIR", tempfile.mkdtemp(prefix="bench-rate-models-"))
    from curate.inputs import InputShard
    from curate.demo_crawl import generate_sample
    from curate.shards import ShardWriter
    from curate.stage import PrepareContext
    from curate.stages.model_filter import ModelFilterStage
    from curate.stages.model_filter.train import TrainParams
    from curate.stages.rate import BATCH, RateConfig, RateStage
    from curate.stages.rate.train import train_rater

    work = Path(tempfile.mkdtemp(prefix="bench-rate-"))
    info = generate_sample(work / "sample", docs=800, seed=1, fmt="jsonl")
    params = TrainParams(epoch=25, lr=0.5, ratio=3.0)  # dim 32, 200k buckets: the defaults
    for name in ("bench-rater-a", "bench-rater-b"):
        train_rater([str(info.train_positive.parent / "ratings.jsonl")], "edu", work / f"{name}.bin", name, params=params)
    docs = make_docs(n)
    sizes = [len(d["text"].encode()) for d in docs]
    print(f"{n:,} documents, {min(sizes):,}-{max(sizes):,} bytes (mean {sum(sizes) / n:,.0f})")
    shard_path = work / "docs.parquet"
    w = ShardWriter(shard_path, "parquet")
    for d in docs:
        w.write(d)
    w.commit()

    def timed(fn) -> float:
        """CPU seconds of this process: docs per CPU-second = docs/s/core, even on a shared machine."""
        t0 = time.process_time()
        fn()
        return time.process_time() - t0

    results = {}
    mf = ModelFilterStage(models=["bench-rater-a"], threshold=0.0)
    mf.setup()

    def mf_score():
        it = iter(docs)
        while batch := list(islice(it, 2048)):
            mf._annotate(batch)

    t_mf = timed(mf_score)  # the reference before and after the rate runs (the best of both)
    for raters in (["bench-rater-a"], ["bench-rater-a", "bench-rater-b"]):
        stage = RateStage(RateConfig(raters=raters, buckets=20))
        stage.setup()

        def rate_only():
            it = iter(docs)
            while batch := list(islice(it, BATCH)):
                stage.rate(batch)

        shard = InputShard(shard_path, "docs", "bench")
        ctx = PrepareContext(stage, [shard], work / f"work-{len(raters)}", 1, lambda fn, items: [fn(i) for i in items],
                             key=f"bench-{len(raters)}")

        def whole_stage():
            stage.prepared = stage.prepare(ctx)  # first pass + bucket edges over all inputs
            for _ in stage.process_shard(iter(docs), shard):  # second pass (sets the same columns again)
                pass

        results[len(raters)] = (min(timed(rate_only), timed(rate_only)), timed(whole_stage))
        import shutil

        shutil.rmtree(ctx.work_dir)
    t_mf = min(t_mf, timed(mf_score))
    print(f"\n{'what':58} {'docs/s/core':>12} {'per rater':>10}")
    print(f"{'model-filter scoring (reference), 1 model':58} {n / t_mf:>12,.0f} {n / t_mf:>10,.0f}")
    for k, (t_rate, t_all) in results.items():
        print(f"{f'rate: rating pass only, {k} rater(s)':58} {n / t_rate:>12,.0f} {k * n / t_rate:>10,.0f}")
        print(f"{f'rate: whole stage (rate+cache+edges+buckets), {k} rater(s)':58} {n / t_all:>12,.0f} "
              f"{k * n / t_all:>10,.0f}")
    # the ceiling: fastText's own predict, alternating with rate's and model-filter's use of it
    from curate.langid import load_fasttext
    from curate.stages.model_filter.score import classifier_line as normalise
    from curate.stages.model_filter.score import load_scorer
    from curate.stages.rate import rating

    scorer = load_scorer("bench-rater-a")
    ft = load_fasttext(scorer.path)
    lines = [normalise(d["text"], 10_000) for d in docs]

    def batched(fn):
        return lambda: [fn(lines[i:i + BATCH]) for i in range(0, len(lines), BATCH)]

    print(f"\n{'round':6} {'fastText predict(k=-1)':>24} {'rate: rating':>14} {'model-filter: score':>20}  (docs/s/core)")
    for r in range(3):
        c = timed(batched(lambda b: ft.predict(b, k=-1)))
        a = timed(batched(lambda b: rating(scorer, b)))
        m = timed(batched(scorer.score))
        print(f"{r + 1:<6} {n / c:>24,.0f} {n / a:>14,.0f} {n / m:>20,.0f}")
    t_rate, t_all = results[1]
    print(f"\nratios (1 rater): rating pass / model-filter scoring = {t_mf / t_rate:.2f}; "
          f"whole stage / rating pass = {t_rate / t_all:.2f} (the bucket pass must keep this above 0.5)")


def bench_bradley_terry(n: int, per_doc: int = 20, seed: int = 0) -> None:
    from curate.annotate import bradley_terry

    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1.5, n)
    a, b = [], []
    for _ in range(per_doc // 2):  # a ring over a random permutation: two comparisons per document
        perm = rng.permutation(n)
        a += list(perm)
        b += list(np.roll(perm, 1))
    a, b = np.array(a), np.array(b)
    bias = 0.8  # log-odds pushed towards whichever text is shown first
    p_first_ab = 1 / (1 + np.exp(-(true[a] - true[b] + bias)))
    p_first_ba = 1 / (1 + np.exp(-(true[b] - true[a] + bias)))
    keys = [f"{x}|{y}" for x, y in zip(a, b)]
    print(f"\nBradley-Terry: {n:,} documents, {per_doc} comparisons each ({len(a):,} pairs, both orders), "
          f"position bias {bias} log-odds")
    for label, p_ab, p_ba in (
        ("hard letters (no log-probs)", (rng.random(len(a)) < p_first_ab).astype(float),
         (rng.random(len(a)) < p_first_ba).astype(float)),
        ("probabilities (log-probs)", np.clip(p_first_ab + rng.normal(0, 0.05, len(a)), 0, 1),
         np.clip(p_first_ba + rng.normal(0, 0.05, len(a)), 0, 1)),
    ):
        t0 = time.perf_counter()
        p = bradley_terry.calibrated(p_ab, p_ba)
        report = bradley_terry.fit_with_check(n, a, b, p, keys)
        rho = spearmanr(report.ratings, true).statistic
        uncal = spearmanr(bradley_terry.fit(n, a, b, p_ab), true).statistic
        print(f"  {label:30} Spearman {rho:.4f} (one order only, uncalibrated: {uncal:.4f}); held-out pair "
              f"accuracy {report.held_out_accuracy:.3f} on {report.held_out:,}; {time.perf_counter() - t0:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--bt-docs", type=int, default=2_000)
    args = ap.parse_args()
    bench_throughput(args.docs)
    bench_bradley_terry(args.bt_docs)


if __name__ == "__main__":
    main()
