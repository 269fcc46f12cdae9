"""Benchmarks of the tag stage, each side by side with its reference in one run.

    .venv/bin/python scripts/bench_tag.py [accuracy] [speed] [clusters] [--scale 100000]

- accuracy: WebOrganizer's dev documents (../shared/data/weborganizer_dev; silver labels of their
  gte-base classifiers, research use only: nothing trained here ships). Split by a hash of the URL
  into train (60%), tune (20%) and check (20%). Tuning compared settings on `tune` (trained on
  train); the reported models are trained on train+tune and measured on `check` only. Reference:
  a plain fastText tagger (lower-cased word unigrams, 25 epochs); curate's: a fastText tagger on
  the tag2 line, and the linear TF-IDF tagger (curate/stages/tag/linear.py). All train through
  `curate train-classifier`'s library (fastText: fresh process per training, divergence check).
- speed: URL features + starter rules + one tagger (fastText tag2, or linear) on 3-5 KB documents,
  one process, vs a plain fastText predict loop over the same documents (the floor).
- clusters: purity against the topic and format labels at k=24 (3 seeds), and fit/assign CPU time
  side by side with another checkout's clusters.py (`--reference-clusters`).
- scale: the whole stage with `cluster: 24` on N documents (fit on 20,000) with 2 workers: wall
  time, CPU seconds and peak memory of the main process (sampling + fit).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import xxhash  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "weborganizer_dev"
TASKS = {"topic": "weborganizer-topics", "format": "weborganizer-formats"}
# the settings chosen on the tune split (see docs/tag.md for what else was tried); ratio 100 = no
# downsampling of the larger classes (train-classifier's default of 1x the smallest class halves the
# format training data: its smallest class has 97 documents)
PLAIN = dict(features="plain", epoch=25, lr=0.5, dim=100, word_ngrams=1, bucket=400_000, minn=0, maxn=0, ratio=100)
FASTTEXT = dict(features="tag2", epoch=25, lr=0.5, dim=100, word_ngrams=1, bucket=400_000, minn=0, maxn=0, ratio=100)
LINEAR = dict(features="tag2", model="linear", c=0.5, max_chars=10_000, ratio=100)
SYSTEMS = {"plain": PLAIN, "fasttext": FASTTEXT, "linear": LINEAR}


def part_of(url: str) -> str:
    h = xxhash.xxh3_64_intdigest(url) % 10
    return "check" if h < 2 else "tune" if h < 4 else "train"


def load_docs() -> list[dict]:
    from curate.stages.tag.taxonomy import load_taxonomy

    names = {task: {lab.id: lab.label for lab in load_taxonomy(tax).labels} for task, tax in TASKS.items()}
    docs = []
    with gzip.open(DATA / "documents.jsonl.gz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            docs.append({"id": f"wo{i}", "text": rec["text"], "url": rec["url"], "part": part_of(rec["url"]),
                         "topic": names["topic"][rec["topic_id"]], "format": names["format"][rec["format_id"]]})
    return docs


def _plain_line(doc: dict) -> str:
    return " ".join(doc["text"].lower().split())


def train_tagger(docs: list[dict], task: str, settings: dict, out: Path) -> str:
    """Train through train-classifier's library; returns the registered name."""
    from curate.stages.model_filter.train import TrainParams, train_classifier

    s = dict(settings)
    features = s.pop("features")
    rows = [{"id": d["id"], "text": _plain_line(d) if features == "plain" else d["text"], "url": d["url"], "label": d[task]}
            for d in docs]
    random.Random(0).shuffle(rows)  # fastText reads the file in order: never feed it sorted by label
    path = out.with_suffix(".jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    params = TrainParams(features="text" if features == "plain" else features, valid_fraction=0.0, threads=1, **s)
    if params.model == "linear":
        out = out.with_suffix(".npz")
    train_classifier(out, out.stem, inputs=[str(path)], label_column="label", params=params)
    return out.stem


def measure(name: str, task: str, docs: list[dict], column: str) -> dict:
    from curate.stages.tag.taggers import load_tagger

    tagger = load_tagger(f"{column}={name}")
    texts = [_plain_line(d) if name.endswith("plain") else d["text"] for d in docs]
    pred = tagger.tag(texts, [d["url"] for d in docs], None if tagger.kind == "linear" else 10_000)[column]
    gold = [d[task] for d in docs]
    acc = sum(p == g for p, g in zip(pred, gold)) / len(gold)
    f1s = []
    for label in set(gold):
        tp = sum(p == g == label for p, g in zip(pred, gold))
        fp = sum(p == label != g for p, g in zip(pred, gold))
        fn = sum(g == label != p for p, g in zip(pred, gold))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": round(acc, 4), "macro_f1": round(sum(f1s) / len(f1s), 4), "docs": len(gold)}


def bench_accuracy(docs: list[dict], tmp: Path, tune: bool) -> dict:
    out = {}
    splits = {"tune": ([d for d in docs if d["part"] == "train"], [d for d in docs if d["part"] == "tune"]),
              "check": ([d for d in docs if d["part"] != "check"], [d for d in docs if d["part"] == "check"])}
    if not tune:
        del splits["tune"]
    for split, (train, test) in splits.items():
        for task in TASKS:
            for system, settings in SYSTEMS.items():
                name = f"wo-{split}-{task}-{system}"
                train_tagger(train, task, settings, tmp / f"{name}.bin")
                m = measure(name, task, test, task)
                out[f"{split}/{task}/{system}"] = m
                print(f"{split:5} {task:6} {system:8} acc {m['accuracy']:.3f} macro-F1 {m['macro_f1']:.3f} "
                      f"({len(train)} train, {m['docs']} test)", flush=True)
    return out


def bench_speed(docs: list[dict], tmp: Path, n: int = 10_000) -> dict:
    """docs/s of the stage's per-batch work (URL features + starter rules + one tagger) on 3-5 KB
    documents, one process, side by side with the floor: a plain fastText predict loop (lower-cased,
    whitespace-joined lines, the plain model) over the same documents."""
    from curate.langid import load_fasttext
    from curate.models import resolve_model
    from curate.stages.tag import TagConfig, TagStage

    train = [d for d in docs if d["part"] != "check"]
    for system in ("plain", "fasttext", "linear"):
        if not resolve_model_exists(f"wo-check-topic-{system}"):
            train_tagger(train, "topic", SYSTEMS[system], tmp / f"wo-check-topic-{system}.bin")
    pool = [d for d in docs if 3_000 <= len(d["text"].encode()) <= 5_000]
    batch = [dict(id=f"s{i}", text=pool[i % len(pool)]["text"], url=pool[i % len(pool)]["url"]) for i in range(n)]
    avg = sum(len(d["text"].encode()) for d in batch) / n

    def stage_rate(taggers: list[str], rules: str | None) -> float:
        stage = TagStage(TagConfig(taggers=taggers, url_rules=rules))
        stage.setup()
        stage.tag_batch([dict(d) for d in batch[:500]])  # load models, warm caches
        copies = [[dict(d) for d in batch[i:i + 2048]] for i in range(0, n, 2048)]
        t0 = time.process_time()
        for chunk in copies:
            stage.tag_batch(chunk)
        return n / (time.process_time() - t0)

    _, path = resolve_model("wo-check-topic-plain")
    ft = load_fasttext(str(path))
    ft.predict([_plain_line(d) for d in batch[:500]], k=1)

    def floor() -> float:
        t0 = time.process_time()
        for i in range(0, n, 2048):
            ft.predict([_plain_line(d) for d in batch[i:i + 2048]], k=1)
        return n / (time.process_time() - t0)

    # CPU time of this process (docs per CPU-second = docs/s/core; every step here is single-threaded),
    # the systems interleaved, best of 3 rounds: the machine is shared and wall time mostly measures waiting
    rates = {"floor": [], "url": [], "fasttext": [], "linear": [], "builtin": []}
    for _ in range(3):
        rates["floor"].append(floor())
        rates["url"].append(stage_rate([], "starter"))
        rates["fasttext"].append(stage_rate(["topic=wo-check-topic-fasttext"], "starter"))
        rates["linear"].append(stage_rate(["topic=wo-check-topic-linear"], "starter"))
        rates["builtin"].append(stage_rate(["topic=sib200-topic"], "starter"))  # the default configuration
    best = {k: max(v) for k, v in rates.items()}
    out = {"docs": n, "avg_kb": round(avg / 1000, 2), "docs_per_s": {k: round(v) for k, v in best.items()},
           "ratio_to_floor": {k: round(v / best["floor"], 3) for k, v in best.items()}}
    print(f"speed ({avg / 1000:.1f} KB docs, docs per CPU-second, best of 3): plain fastText predict loop (floor) "
          f"{best['floor']:,.0f} docs/s; tag stage URL features + starter rules {best['url']:,.0f} "
          f"({best['url'] / best['floor']:.2f}x); + fastText tag2 tagger {best['fasttext']:,.0f} "
          f"({best['fasttext'] / best['floor']:.2f}x); + linear tagger {best['linear']:,.0f} "
          f"({best['linear'] / best['floor']:.2f}x); the default configuration (+ built-in sib200-topic, char n-grams) "
          f"{best['builtin']:,.0f} ({best['builtin'] / best['floor']:.2f}x)", flush=True)
    return out


def resolve_model_exists(name: str) -> bool:
    from curate.models import resolve_model
    from curate.stage import StageError

    try:
        resolve_model(name, verify=False)
        return True
    except StageError:
        return False


def bench_clusters(docs: list[dict], tmp: Path, scale: int, reference: Path | None) -> dict:
    """Purity at k=24 over 3 seeds (fitted on and assigned to all dev documents); with `reference`
    (another checkout's curate/stages/tag/clusters.py, e.g. main's), its fit and assign on a
    20,000-document sample side by side with this one's; then the whole stage at `scale`."""
    import importlib.util

    import numpy as np

    from curate.stages.tag import clusters as cl

    out = {}
    texts, names = [d["text"] for d in docs], [d["url"] for d in docs]
    topics, formats = [d["topic"] for d in docs], [d["format"] for d in docs]
    for label, dims in (("LSA 100 dims (default)", 100), ("LSA 50 dims", 50)):
        pt, pf, secs = [], [], []
        for seed in range(3):
            t0 = time.perf_counter()
            model = cl.fit(texts, names, cl.ClusterParams(k=24, dims=dims, sample=len(texts), seed=seed))
            nearest, _ = model.assign(texts)
            secs.append(time.perf_counter() - t0)
            pt.append(cl.purity(nearest.tolist(), topics))
            pf.append(cl.purity(nearest.tolist(), formats))
        out[label] = {"purity_topic": round(float(np.mean(pt)), 4), "purity_topic_range": [round(min(pt), 3), round(max(pt), 3)],
                      "purity_format": round(float(np.mean(pf)), 4), "seconds": round(float(np.median(secs)), 1)}
        print(f"clusters k=24, {label}: purity vs topic {np.mean(pt):.3f} ({min(pt):.3f}-{max(pt):.3f} over 3 seeds), "
              f"vs format {np.mean(pf):.3f} ({np.median(secs):.1f} s fit + assign)", flush=True)
    rng = np.random.default_rng(0)  # reference: a random assignment with the same cluster sizes
    out["random (same sizes)"] = {"purity_topic": round(cl.purity(rng.permutation(nearest).tolist(), topics), 4)}
    print(f"clusters k=24, random assignment: purity vs topic {out['random (same sizes)']['purity_topic']:.3f}", flush=True)

    if reference is not None:  # this implementation and the reference one on the same 20,000 documents, interleaved
        spec = importlib.util.spec_from_file_location("reference_clusters", reference)
        ref = importlib.util.module_from_spec(spec)
        sys.modules["reference_clusters"] = ref
        spec.loader.exec_module(ref)
        sample = [texts[i % len(texts)] for i in range(20_000)]
        sample_names = [names[i % len(names)] for i in range(20_000)]
        times: dict[str, list] = {"this": [], "reference": []}
        for _ in range(2):
            for who, mod in (("this", cl), ("reference", ref)):  # CPU time: on a shared machine wall time is mostly waiting
                t0 = time.process_time()
                m = mod.fit(sample, sample_names, mod.ClusterParams(k=24, dims=100, sample=20_000))
                t1 = time.process_time()
                m.assign(sample)
                times[who].append((t1 - t0, time.process_time() - t1))
        best = {who: (min(f for f, _ in v), min(a for _, a in v)) for who, v in times.items()}
        out["fit_assign_20k"] = {who: {"fit_cpu_s": round(f, 1), "assign_cpu_s": round(a, 1)} for who, (f, a) in best.items()}
        print(f"clusters on 20,000 docs (CPU seconds, best of 2, interleaved): fit {best['this'][0]:.1f} s vs reference "
              f"{best['reference'][0]:.1f} s ({best['reference'][0] / best['this'][0]:.1f}x); assign {best['this'][1]:.1f} s "
              f"vs {best['reference'][1]:.1f} s ({best['reference'][1] / best['this'][1]:.1f}x)", flush=True)

    return out


def bench_scale(docs: list[dict], tmp: Path, scale: int) -> dict:
    """The whole stage with `cluster: 24` on N documents (the dev texts repeated), fit on 20,000,
    2 workers: wall time, CPU seconds and peak memory of the main process (sampling + fit)."""
    out = {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.inputs import resolve_inputs
    from curate.runner import run_stage
    from curate.stages.tag import TagConfig, TagStage

    src = tmp / f"scale-{scale}"
    src.mkdir(exist_ok=True)
    shards = 4
    for s in range(shards):
        rows = [{"id": f"x{i}", "text": docs[i % len(docs)]["text"], "url": docs[i % len(docs)]["url"], "source": "wo"}
                for i in range(s, scale, shards)]
        pq.write_table(pa.Table.from_pylist(rows), src / f"part-{s}.parquet")
    stage = TagStage(TagConfig(taggers=[], url_rules=None, cluster=24, cluster_sample=20_000))
    load_before = os.getloadavg()[0]
    cpu = lambda who: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(who))  # noqa: E731
    cpu_self0 = cpu(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = run_stage(stage, resolve_inputs([str(src)], TagStage.input_suffixes), tmp / f"scale-out-{scale}", workers=2)
    secs = time.perf_counter() - t0
    load = max(load_before, os.getloadavg()[0])
    cpu_main = cpu(resource.RUSAGE_SELF) - cpu_self0
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # workers are started by a forkserver, not by this process: their CPU and memory are not in
    # RUSAGE_CHILDREN, so only the main process (sampling, fit, the benchmark's own shard writing) is reported
    out["scale"] = {"docs": result.stats.docs_in, "seconds": round(secs, 1), "peak_mib_main": round(peak_self),
                    "workers": 2, "fit_sample": 20_000, "load_average_1min": round(load, 1),
                    "cpu_s_main": round(cpu_main, 1)}
    print(f"clusters at scale: {result.stats.docs_in:,} docs (fit on 20,000, k=24, 2 workers) in {secs:.1f} s; "
          f"main process: peak RSS {peak_self:,.0f} MiB, {cpu_main:.1f} CPU seconds (sampling + fit); load average up to "
          f"{load:.1f} on {os.cpu_count()} cores", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("parts", nargs="*", default=["accuracy", "speed", "clusters", "scale"])
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--reference-clusters", type=Path, help="another checkout's curate/stages/tag/clusters.py to time side by side")
    ap.add_argument("--tune", action="store_true", help="also train on `train` and measure on `tune` (the tuning runs)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"error: {DATA} not found (../shared/data beside the clone)", file=sys.stderr)
        return 2
    docs = load_docs()
    print(f"WebOrganizer dev: {len(docs)} documents; parts {dict(Counter(d['part'] for d in docs))}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-tag-") as tmp:
        os.environ["CURATE_MODELS_DIR"] = str(Path(tmp) / "models")  # nothing trained here is registered for real
        (Path(tmp) / "models").mkdir()
        if "accuracy" in args.parts:
            results["accuracy"] = bench_accuracy(docs, Path(tmp), args.tune)
        if "speed" in args.parts:
            results["speed"] = bench_speed(docs, Path(tmp))
        if "clusters" in args.parts:
            results["clusters"] = bench_clusters(docs, Path(tmp), args.scale, args.reference_clusters)
        if "scale" in args.parts:
            results["scale"] = bench_scale(docs, Path(tmp), args.scale)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
