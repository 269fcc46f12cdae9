"""Rebuild curate's built-in multilingual topic tagger `sib200-topic` from the SIB-200 data.

SIB-200 (Adelani et al. 2024; sentences from FLORES-200, CC BY-SA 4.0): 7 topics, 205 languages,
701 training and 99 dev sentences per language, the same sentences in every language.

    .venv/bin/python scripts/build_sib200_tagger.py [--data ../shared/data/sib200] [--model linear|fasttext]

Trains on every language's train split with the tag stage's own line features (features.py),
checks accuracy on the dev split (English and all languages), and writes the model
(curate/assets/models/sib200-topic.npz or .ftz) with a JSON sidecar of its parameters and dev metrics.

- `--model linear` (the shipped one): the linear tagger (curate/stages/tag/linear.py) over the words'
  character 2-5-grams, TF-IDF weighted, a linear SVM; the fit is convex (nothing to diverge).
- `--model fasttext` (the first shipped models): fastText with word bigrams and character 2-4-grams,
  quantised; retrained with the next seed when a run diverged (fastText sometimes does: NaN loss or
  near-chance accuracy). Each training runs in a fresh process (fastText leaks state between
  trainings in one process).

Baseline for comparison (`--plain`): fastText on lower-cased word unigrams, no character n-grams, 25 epochs.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.stages.tag.features import tagger_line  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sib200"
ASSETS = ROOT / "curate" / "assets" / "models"
# what the shipped model uses (chosen on the dev split; see docs/tag.md)
PARAMS = dict(epoch=25, lr=0.5, dim=64, wordNgrams=2, minn=2, maxn=4, bucket=400_000, minCount=1)
PLAIN = dict(epoch=25, lr=0.5, dim=100, wordNgrams=1, minn=0, maxn=0, bucket=2_000_000, minCount=1)
QUANTIZE = dict(qnorm=True, retrain=False, cutoff=200_000, dsub=2)
# chosen by --tune (train on 80% of the train split, measure on the other 20%; docs/tag.md)
LINEAR = dict(char_ngrams=(2, 5), words=False, c=1.0, min_df=2, max_features=None)
MAX_CHARS = 1_000
MIN_ACCURACY = 0.30  # below this on dev (chance is ~0.14-0.25) a run is treated as diverged


def label_of(category: str) -> str:
    return category.strip().replace("/", "_").replace(" ", "_")


def in_tune_part(index_id: str) -> bool:
    """The tuning hold-out of the train split: 20% of the sentences by a hash of their id, so a
    sentence and its translations are all on the same side."""
    import xxhash

    return xxhash.xxh3_64_intdigest(index_id) % 10 < 2


def read_split(data: Path, split: str, part: str | None = None) -> list[tuple[str, str, str]]:
    """(language, label, text) for every language folder; `part` "fit"/"tune" halves the train split."""
    rows = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        path = folder / f"{split}.tsv.gz"
        if not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for rec in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if part is not None and in_tune_part(rec["index_id"]) != (part == "tune"):
                    continue
                rows.append((folder.name, label_of(rec["category"]), rec["text"]))
    return rows


def line(text: str, plain: bool) -> str:
    return " ".join(text.lower().split()) if plain else tagger_line(text, None, None)


def _train_child(job: dict) -> None:
    import fasttext

    model = fasttext.train_supervised(input=job["train"], thread=job["threads"], seed=job["seed"], verbose=0, **job["params"])
    if job["quantize"]:
        model.quantize(input=job["train"], thread=job["threads"], **QUANTIZE)
    model.save_model(job["out"])


def train(train_file: Path, out: Path, params: dict, seed: int, threads: int, quantize: bool) -> None:
    job = {"train": str(train_file), "out": str(out), "params": params, "seed": seed, "threads": threads, "quantize": quantize}
    code = "import json,sys; sys.path.insert(0, %r); import build_sib200_tagger as b; b._train_child(json.loads(sys.stdin.read()))" % str(Path(__file__).parent)
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(job), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")


def evaluate(predict, dev: list[tuple[str, str, str]], plain: bool) -> dict:
    """Accuracy of `predict(lines) -> labels` on (language, label, text) rows: English, all, per language."""
    predicted = predict([line(t, plain) for _, _, t in dev])
    right = Counter()
    total = Counter()
    for (lang, gold, _), pred in zip(dev, predicted):
        total[lang] += 1
        right[lang] += pred == gold
    per_lang = {lang: right[lang] / total[lang] for lang in total}
    return {
        "english": round(per_lang.get("eng_Latn", 0.0), 4),
        "all_languages": round(sum(right.values()) / sum(total.values()), 4),
        "mean_per_language": round(sum(per_lang.values()) / len(per_lang), 4),
        "worst_languages": {k: round(v, 3) for k, v in sorted(per_lang.items(), key=lambda kv: kv[1])[:5]},
        "languages": len(per_lang),
        "sentences": sum(total.values()),
    }


def fasttext_predictor(model_path: Path):
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(str(model_path))
    cut = len("__label__")
    return lambda lines: [labels[0][cut:] for labels in model.predict(lines, k=1)[0]]


def build_fasttext(args, train_rows, dev, params: dict, quantize: bool, out: Path):
    """Train (retrying diverged runs with the next seed), evaluate, move to `out`: (metrics, seed)."""
    with tempfile.TemporaryDirectory(prefix="sib200-") as tmp:
        train_file = Path(tmp) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as f:
            for _, label, text in train_rows:
                f.write(f"__label__{label} {line(text, args.plain)}\n")
        tmp_out = Path(tmp) / "model.ftz"
        for attempt in range(args.tries):
            seed = args.seed + attempt
            try:
                train(train_file, tmp_out, params, seed, args.threads, quantize)
                metrics = evaluate(fasttext_predictor(tmp_out), dev, args.plain)
            except RuntimeError as e:
                print(f"seed {seed}: training failed ({e}); retrying", file=sys.stderr)
                continue
            if metrics["all_languages"] >= MIN_ACCURACY:
                break
            print(f"seed {seed}: dev accuracy {metrics['all_languages']} looks diverged; retrying", file=sys.stderr)
        else:
            raise RuntimeError("every training run diverged")
        if out is not None:
            os.replace(tmp_out, out)
    return metrics, seed


def build_linear(train_rows, dev, params: dict, out: Path | None):
    """Fit the linear tagger on the tag2 lines, save to `out`, evaluate the saved file (int8 weights):
    (metrics, seed)."""
    from curate.stages.tag import linear

    lp = linear.LinearParams(**params, max_chars=MAX_CHARS, features="tag2")
    model = linear.fit([line(t, False) for _, _, t in train_rows], [label for _, label, _ in train_rows], lp)
    lines = [line(t, False) for _, _, t in dev]
    fitted = model.scores(lines).argmax(axis=1)
    with tempfile.TemporaryDirectory(prefix="sib200-") as tmp:
        tmp_out = (out.with_name(out.name + ".tmp") if out is not None else Path(tmp) / "model.npz")
        linear.save(model, tmp_out)
        saved = linear.load(str(tmp_out))
        top = saved.scores(lines).argmax(axis=1)
        if out is not None:
            os.replace(tmp_out, out)
    metrics = evaluate(lambda _lines: [saved.labels[i] for i in top], dev, False)
    metrics["features"] = len(model.vocab) or lp.buckets
    metrics["top_label_changed_by_saving"] = int((top != fitted).sum())
    return metrics, lp.seed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", choices=("linear", "fasttext"), default="linear")
    ap.add_argument("--out", type=Path, help="default: curate/assets/models/sib200-topic.npz (.ftz for fastText)")
    ap.add_argument("--plain", action="store_true", help="the fastText baseline: word unigrams, no features, no quantisation")
    ap.add_argument("--no-quantize", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tries", type=int, default=3, help="fastText: retrain with the next seed when a run diverged")
    ap.add_argument("--tune", action="store_true",
                    help="compare settings: train on 80%% of the train split, measure on the other 20%% (by sentence id); "
                         "nothing is written but the metrics")
    ap.add_argument("--param", action="append", default=[],
                    help="override a parameter, e.g. --param dim=32 (fastText) or --param c=0.5 (linear)")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"error: SIB-200 data folder {args.data} not found", file=sys.stderr)
        return 2
    kind = "fasttext" if args.plain else args.model
    params = dict(PLAIN if args.plain else PARAMS if kind == "fasttext" else LINEAR)
    for kv in args.param:
        k, v = kv.split("=", 1)
        if k == "char_ngrams":
            params[k] = tuple(int(x) for x in v.split(","))
        elif isinstance(params.get(k), bool):
            params[k] = v.lower() in ("1", "true", "yes")
        else:
            params[k] = type(params.get(k, 0.0))(float(v)) if params.get(k) is not None else int(float(v))
    quantize = kind == "fasttext" and not (args.plain or args.no_quantize or args.tune)
    out = args.out or ASSETS / f"sib200-topic{'.npz' if kind == 'linear' else '.ftz'}"

    t0 = time.perf_counter()
    if args.tune:
        train_rows, dev = read_split(args.data, "train", "fit"), read_split(args.data, "train", "tune")
    else:
        train_rows, dev = read_split(args.data, "train"), read_split(args.data, "dev")
    import random

    random.Random(0).shuffle(train_rows)  # fastText's SGD should see languages and classes interleaved
    target = None if args.tune else out
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "linear":
            metrics, seed = build_linear(train_rows, dev, params, target)
        else:
            metrics, seed = build_fasttext(args, train_rows, dev, params, quantize, target)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.tune:
        print(json.dumps({"tune": True, "model": kind, "params": params, "features": "text" if args.plain else "tag2",
                          "metrics": metrics, "seconds": round(time.perf_counter() - t0, 1)}))
        return 0
    meta = {
        "name": "sib200-topic",
        "file": out.name,
        "kind": "topic-tagger", "column": "topic",
        "origin": "scripts/build_sib200_tagger.py on SIB-200 (github.com/dadelani/sib-200) train splits, 205 languages",
        "model": kind,
        "features": "text" if args.plain else "tag2",
        "taxonomy": "sib200-topics",
        "params": params, "seed": seed,
        "quantized": quantize if kind == "fasttext" else "int8 weights, one scale per label", "quantize": QUANTIZE if quantize else None,
        "train_sentences": len(train_rows), "dev": metrics, "seconds": round(time.perf_counter() - t0, 1),
        # the tag stage reads this much of each document with this model: character n-grams make every
        # word cost ~10-20 lookups, and a page's start says its topic (bench_tag.py speed)
        "max_chars": MAX_CHARS,
        "license": "CC-BY-SA-4.0 (trained on SIB-200 / FLORES-200 sentences; Adelani et al. 2024)",
    }
    import hashlib

    meta["sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    meta["size"] = out.stat().st_size
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({k: meta[k] for k in ("params", "dev", "seconds")}, indent=1))
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
