"""Training a fastText quality classifier the way DCLM trained its filter, and registering it.

DCLM (Li et al. 2024, "DataComp-LM", §4.4) trained a fastText classifier on ~400k documents
(positives: OpenHermes-2.5 + ELI5, negatives: random RefinedWeb) with word bigrams and kept
the top 10% of the pool by its score. Here users bring their own positives and negatives
(or a label column for several classes). The held-out split is by a hash of the normalised
text, so a text and its exact copies are never on both sides of the split.
Imbalance is handled by downsampling the larger class(es) of the training split to at most
`ratio` times the smallest; the held-out split keeps the natural distribution, so its
precision/recall are what the filter will see.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import xxhash

from curate.inputs import resolve_inputs
from curate.langid import LABEL_PREFIX, load_fasttext
from curate.models import ModelInfo, models_dir, register_model, sha256_of
from curate.records import TEXT, URL, is_rejected
from curate.shards import SHARD_SUFFIXES, read_shard
from curate.atomic import temp_path
from curate.errors import StageError
from curate.stages.model_filter.score import NEGATIVE, POSITIVE, ModelScorer, classifier_line, column_for


@dataclass(frozen=True)
class TrainParams:
    """fastText's knobs: its supervised defaults, except word bigrams (DCLM), a smaller dim and fewer
    hash buckets."""

    epoch: int = 5
    lr: float = 0.1
    # fastText's default is 100; its classification paper (Joulin et al. 2017, "Bag of Tricks") used 10.
    # Measured on real pages (bench_model_filter.py): dim 32 has the F1 of dim 100, scores 2x faster, 1/3 the size.
    dim: int = 32
    word_ngrams: int = 2  # DCLM: bigram features
    min_count: int = 1
    bucket: int = 200_000  # fastText: 2M (256 MB at dim 32); 200k suits classifiers trained on <1M documents
    threads: int = 1  # fastText training is only reproducible single-threaded
    seed: int = 0
    max_chars: int | None = 10_000  # the same cut the model-filter stage applies when scoring
    valid_fraction: float = 0.1
    ratio: float = 1.0  # at most `ratio` times as many training examples per class as the smallest class
    quantize: bool = False  # a small .ftz (product quantisation, vocabulary cut to `cutoff` words)
    cutoff: int = 100_000
    # "text": the DCLM-style line model-filter scores; "tag2" (or the older "tag"): the tag stage's line
    # (lower-cased, title repeated, URL tokens; curate/stages/tag/features.py). Recorded in the registry,
    # so taggers build the line their model learnt from.
    features: str = "text"
    # character n-grams from minn to maxn (0 = none); help on small or multilingual data. fastText adds them to
    # the words; the linear model reads them instead of the words (the built-in sib200-topic tagger: 2-5)
    minn: int = 0
    maxn: int = 0
    # "fasttext", or "linear": TF-IDF words -> linear SVM (curate/stages/tag/linear.py), a tagger that is
    # far more accurate than fastText on a few thousand labelled documents; `c` is its regularisation
    model: str = "fasttext"
    c: float = 0.5


@dataclass
class TrainResult:
    model: ModelInfo
    counts: dict[str, int]  # documents read per label
    train_counts: dict[str, int]  # after the split and sampling
    valid_counts: dict[str, int]
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


def read_labelled(inputs: list[str], label: str | None, label_column: str | None,
                  line_of=None) -> list[tuple[str, str]]:
    """(label, text) pairs from shards: a fixed label, or each record's `label_column` value.
    `line_of(doc)`, when given, turns a record into the line to train on instead of its text."""
    if not inputs:
        return []
    out = []
    for shard in resolve_inputs(inputs, SHARD_SUFFIXES):
        for doc in read_shard(shard.path, shard.name, shard.source):
            if is_rejected(doc) or not doc[TEXT].strip():
                continue
            value = label if label_column is None else doc.get(label_column)
            if value is None or str(value).strip() == "":
                continue
            out.append((str(value).strip().replace(" ", "_"), doc[TEXT] if line_of is None else line_of(doc)))
    return out


def _is_valid(line: str, fraction: float) -> bool:
    return xxhash.xxh3_64_intdigest(line) % 10_000 < fraction * 10_000


def split_and_balance(examples: list[tuple[str, str]], params: TrainParams) -> tuple[list, list]:
    """Held-out split by text hash, then downsample each class of the training split to the ratio."""
    train, valid = [], []
    for label, line in examples:
        (valid if _is_valid(line, params.valid_fraction) else train).append((label, line))
    by_label: dict[str, list[str]] = {}
    for label, line in train:
        by_label.setdefault(label, []).append(line)
    if len(by_label) < 2:
        raise StageError(f"the training split holds only the label(s) {sorted(by_label)}: need at least two classes")
    cap = int(min(len(v) for v in by_label.values()) * params.ratio)
    rng = random.Random(params.seed)
    balanced = []
    for label in sorted(by_label):
        lines = by_label[label]
        if len(lines) > cap:
            lines = rng.sample(lines, cap)
        balanced += [(label, line) for line in lines]
    rng.shuffle(balanced)  # fastText's SGD sees classes interleaved
    return balanced, valid


def evaluate(scorer: ModelScorer, valid: list[tuple[str, str]], predict_top=None) -> dict:
    """Precision/recall/F1 on the held-out split: of the positive label for a binary model, else
    per label plus accuracy and macro F1 (prediction = the most probable label)."""
    if not valid:
        return {}
    ft_labels = (predict_top or (lambda lines: _predict_top(scorer, lines)[0]))([line for _, line in valid])
    gold = [label for label, _ in valid]
    per_label = {}
    for label in scorer.labels:
        tp = sum(g == label and p == label for g, p in zip(gold, ft_labels))
        fp = sum(g != label and p == label for g, p in zip(gold, ft_labels))
        fn = sum(g == label and p != label for g, p in zip(gold, ft_labels))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": tp + fn}
    accuracy = sum(g == p for g, p in zip(gold, ft_labels)) / len(gold)
    metrics = {"accuracy": round(accuracy, 4), "per_label": per_label, "documents": len(gold)}
    if scorer.positive is not None:
        metrics.update({k: per_label[scorer.positive][k] for k in ("precision", "recall", "f1")})
    else:
        metrics["macro_f1"] = round(sum(m["f1"] for m in per_label.values()) / len(per_label), 4)
    return metrics


def _fit_in_fresh_process(train_file: Path, out: Path, params: TrainParams, quantize: bool) -> tuple[str, ...]:
    """Run `_fit` in a new Python process (not multiprocessing: that re-imports the caller's
    __main__, which fails from stdin or a notebook); returns the model's labels."""
    job = json.dumps({"train_file": str(train_file), "out": str(out), "params": params.__dict__, "quantize": quantize})
    code = "import sys; from curate.stages.model_filter.train import _fit_main; _fit_main(sys.stdin.read())"
    package_root = str(Path(__file__).resolve().parents[3])  # so the child imports this same curate
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], input=job, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit code {proc.returncode}"
        hint = ": training diverged, try a lower --lr" if "NaN" in why else ""
        raise StageError(f"fastText training failed ({why}){hint}")
    return tuple(json.loads(proc.stdout))


def _fit_main(job_json: str) -> None:
    job = json.loads(job_json)
    labels = _fit(job["train_file"], job["out"], TrainParams(**job["params"]), job["quantize"])
    print(json.dumps(labels))


def _fit(train_file: str, out: str, params: TrainParams, quantize: bool) -> list[str]:
    """Train and save one model; returns its labels."""
    import fasttext

    model = fasttext.train_supervised(
        input=train_file, epoch=params.epoch, lr=params.lr, dim=params.dim, wordNgrams=params.word_ngrams,
        minCount=params.min_count, bucket=params.bucket, thread=params.threads, seed=params.seed, verbose=0,
        minn=params.minn, maxn=params.maxn,
    )
    if quantize:
        model.quantize(input=train_file, qnorm=True, retrain=True, cutoff=params.cutoff, thread=params.threads)
    model.save_model(out)
    return [label[len(LABEL_PREFIX):] for label in model.get_labels()]


def _predict_top(scorer: ModelScorer, lines: list[str]) -> tuple[list[str], list[float]]:
    labels, probs = load_fasttext(scorer.path).predict(lines, k=1)
    return [l[0][len(LABEL_PREFIX):] for l in labels], [float(p[0]) for p in probs]


def _portable_path(out: Path) -> str:
    """Relative to the models folder when inside it (the registry then moves with the folder)."""
    out = out.resolve()
    try:
        return str(out.relative_to(models_dir().resolve()))
    except ValueError:
        return str(out)


def train_classifier(
    out: Path,
    name: str | None = None,
    positive: list[str] | None = None,
    negative: list[str] | None = None,
    inputs: list[str] | None = None,
    label_column: str | None = None,
    params: TrainParams = TrainParams(),
) -> TrainResult:
    """Train on labelled shards, evaluate on the held-out split, save to `out`, register as `name`."""
    t0 = time.perf_counter()
    line_of = _line_maker(params)
    if label_column is not None:
        if positive or negative:
            raise StageError("give either --positive/--negative or INPUTS with --labels COLUMN, not both")
        examples = read_labelled(inputs or [], None, label_column, line_of)
        if not examples:
            raise StageError(f"no documents with text and a {label_column!r} value in {inputs}: empty training set")
    else:
        if inputs:
            raise StageError("INPUTS need --labels COLUMN; for two classes use --positive and --negative")
        pos = read_labelled(positive or [], POSITIVE, None, line_of)
        neg = read_labelled(negative or [], NEGATIVE, None, line_of)
        for what, found, given in (("positive", pos, positive), ("negative", neg, negative)):
            if not found:
                raise StageError(f"no {what} documents with text in {given or '(no --' + what + ' given)'}: empty training set")
        examples = pos + neg
    train, valid = split_and_balance(examples, params)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize = params.quantize or out.suffix == ".ftz"
    name = name or out.stem
    positive_label = POSITIVE if label_column is None else None
    retries = 0
    if params.model == "linear":
        labels, metrics = _train_linear(train, valid, out, name, params, positive_label)
    elif params.model != "fasttext":
        raise StageError(f"unknown model type {params.model!r}: fasttext or linear")
    else:
        labels, metrics, retries, params = _train_fasttext(train, valid, out, name, params, quantize, positive_label)
    scorer = ModelScorer(name, str(out.resolve()), column_for(name), labels, positive_label)
    load_fasttext.cache_clear()
    if retries:
        metrics["retrained_after_divergence"] = retries
    counts = Counter(label for label, _ in examples)
    info = ModelInfo(
        name=name,
        path=_portable_path(out),
        sha256="",
        license="trained locally on the user's data",
        origin="curate train-classifier",
        kind="quality-classifier" if label_column is None else "classifier",
        meta={
            "labels": list(labels),
            "features": params.features,
            "positive_label": positive_label,
            "params": {k: v for k, v in params.__dict__.items()},
            "training_data": [
                {"label": lab, "path": str(Path(p).resolve()), "sha256": sha256_of(Path(p))}
                for lab, group in (("positive", positive), ("negative", negative), (label_column, inputs))
                for arg in (group or []) for p in _files(arg)
            ],
            "documents": dict(sorted(counts.items())),
            "trained_on": dict(sorted(Counter(label for label, _ in train).items())),
            "held_out": metrics,
        },
    )
    info = register_model(info)
    return TrainResult(info, dict(sorted(counts.items())), info.meta["trained_on"],
                       dict(sorted(Counter(label for label, _ in valid).items())), metrics, time.perf_counter() - t0)


def _train_fasttext(train: list[tuple[str, str]], valid: list[tuple[str, str]], out: Path, name: str,
                    params: TrainParams, quantize: bool, positive_label: str | None):
    """Fit in a fresh process, retrain with the next seed when it diverged; (labels, metrics, retries, params)."""
    retries = 0
    with tempfile.TemporaryDirectory(prefix="curate-train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as f:
            for label, line in train:
                f.write(f"__label__{label} {line}\n")
        # fastText leaks state between trainings in one process (a second one sometimes fails with
        # "Encountered NaN" on the same data), so each training gets a fresh process.
        tmp_out = temp_path(out)
        # fastText sometimes diverges without NaN (near-chance accuracy with settings that worked a run
        # earlier): a model no better than always answering the commonest held-out label is retrained
        # with the next seed, in a fresh process.
        while True:
            try:
                labels = _fit_in_fresh_process(train_file, tmp_out, params, quantize)
            except StageError as e:  # NaN loss: the same data often trains fine with another seed
                if "NaN" not in str(e) or retries == MAX_RETRIES:
                    raise
                retries += 1
                params = replace(params, seed=params.seed + 1)
                continue
            load_fasttext.cache_clear()  # a model saved over an older file at the same path
            scorer = ModelScorer(name, str(tmp_out.resolve()), column_for(name), labels, positive_label)
            metrics = evaluate(scorer, valid)
            if not _looks_diverged(metrics, valid) or retries == MAX_RETRIES:
                break
            retries += 1
            params = replace(params, seed=params.seed + 1)
        os.replace(tmp_out, out)
    return labels, metrics, retries, params


MAX_RETRIES = 2


def _train_linear(train: list[tuple[str, str]], valid: list[tuple[str, str]], out: Path, name: str,
                  params: TrainParams, positive_label: str | None) -> tuple[tuple[str, ...], dict]:
    """Fit a linear TF-IDF tagger (no divergence to guard against: the fit is convex), evaluate, save."""
    from curate.stages.tag import linear

    if out.suffix != linear.SUFFIX:
        raise StageError(f"a linear model is saved as {linear.SUFFIX}, not {out.suffix or 'no suffix'}: -o {out.with_suffix(linear.SUFFIX)}")
    try:
        lp = linear.LinearParams(c=params.c, max_chars=params.max_chars or linear.LinearParams.max_chars,
                                 features=params.features, seed=params.seed,
                                 char_ngrams=(params.minn, params.maxn) if params.maxn else None, words=not params.maxn)
    except ValueError as e:
        raise StageError(f"linear model: {e}") from None
    try:
        model = linear.fit([line for _, line in train], [label for label, _ in train], lp)
    except ValueError as e:
        raise StageError(f"linear model: {e}") from None
    scorer = ModelScorer(name, str(out), column_for(name), model.labels, positive_label)
    metrics = evaluate(scorer, valid, lambda lines: [model.labels[i] for i in model.scores(lines).argmax(axis=1)])
    tmp_out = temp_path(out)
    linear.save(model, tmp_out)
    os.replace(tmp_out, out)
    linear.load.cache_clear()
    return model.labels, metrics


def _looks_diverged(metrics: dict, valid: list[tuple[str, str]]) -> bool:
    if len(valid) < 50 or not metrics:
        return False  # too few held-out documents to tell
    commonest = Counter(label for label, _ in valid).most_common(1)[0][1] / len(valid)
    return metrics["accuracy"] <= commonest


def _line_maker(params: TrainParams):
    """The function from a record to its training line, for the chosen feature set."""
    if params.features == "text":
        return lambda doc: classifier_line(doc[TEXT], params.max_chars)
    if params.features in ("tag", "tag2"):
        from curate.stages.tag.features import tagger_line

        return lambda doc: tagger_line(doc[TEXT], doc.get(URL), params.max_chars, params.features)
    raise StageError(f"unknown feature set {params.features!r}: text, tag2 (or the older tag)")


def _files(arg: str) -> list[Path]:
    return [s.path for s in resolve_inputs([arg], SHARD_SUFFIXES) if s.path is not None]
