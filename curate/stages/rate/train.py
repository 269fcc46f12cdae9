"""`curate train-rater`: distil LLM labels of one criterion into a fastText rater.

As FineWeb-Edu distilled its LLM scores into a small classifier, the rater is a fastText classifier
with one class per score level; its rating is the expected value over the levels (the class
probabilities times the level values), so it is a number on the labels' own scale. Labels that are
not a few integer levels (Bradley-Terry ratings from pairwise comparisons) are first cut into
`bins` equal-count bins, each labelled by its mean rating ("regression by binning").

Training, the held-out split (by a hash of the text) and registration are model-filter's
(curate/stages/model_filter/train.py); this module prepares the levels and adds the rater's own
held-out figures: accuracy, F1 at the cut (FineWeb-Edu kept score >= 3) and Spearman correlation.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import spearmanr

from curate.inputs import resolve_inputs
from curate.langid import load_fasttext
from curate.models import ModelInfo, register_model, resolve_model, sha256_of
from curate.records import TEXT, is_rejected
from curate.shards import SHARD_SUFFIXES, read_shard
from curate.stage import StageError
from curate.stages.model_filter.score import classifier_line as normalise
from curate.stages.model_filter.score import load_scorer
from curate.stages.model_filter.train import TrainParams, _is_valid, train_classifier

LEVEL = "_level"
MAX_LEVELS = 11  # more distinct integer values than this are binned like continuous ratings


@dataclass
class RaterResult:
    model: ModelInfo
    documents: int
    skipped: int  # documents without a value for the criterion (failed or missing answers)
    levels: dict[str, int]  # level label -> documents
    metrics: dict = field(default_factory=dict)
    binned: bool = False
    seconds: float = 0.0


def read_criterion(inputs: list[str], criterion: str) -> tuple[list[tuple[str, float]], int]:
    """(text, value) for every document with text and a numeric value of `criterion`; and how many had none."""
    rows, skipped, seen_column = [], 0, False
    for shard in resolve_inputs(inputs, SHARD_SUFFIXES):
        for doc in read_shard(shard.path, shard.name, shard.source):
            if is_rejected(doc) or not isinstance(doc.get(TEXT), str) or not doc[TEXT].strip():
                continue
            seen_column |= criterion in doc
            value = doc.get(criterion)
            try:
                value = float(value) if value is not None else None
            except (TypeError, ValueError):
                raise StageError(f"{shard.label}: {criterion}={value!r} is not a number (document {doc.get('id')})") from None
            if value is None or not math.isfinite(value):
                skipped += 1
                continue
            rows.append((doc[TEXT], value))
    if not seen_column:
        raise StageError(f"no document in {', '.join(inputs)} has a column {criterion!r} (the criterion's labels)")
    return rows, skipped


def levels_for(values: list[float], bins: int) -> tuple[list[str], bool]:
    """A fastText label per value: the integer level, or the mean of its equal-count bin."""
    distinct = set(values)
    if len(distinct) <= MAX_LEVELS and all(float(v).is_integer() for v in distinct):
        return [str(int(v)) for v in values], False
    order = np.argsort(values, kind="stable")
    bin_of = np.empty(len(values), dtype=np.int64)
    bin_of[order] = np.arange(len(values)) * bins // len(values)
    arr = np.asarray(values)
    means = {b: float(arr[bin_of == b].mean()) for b in range(bins)}
    return [f"{means[b]:.4f}" for b in bin_of], True


def rater_metrics(model_path: str, name: str, held_out: list[tuple[str, float]], cut: float) -> dict:
    """Held-out figures of the expected-value rating against the labels."""
    if not held_out:
        return {}
    scorer = load_scorer(model_path)
    load_fasttext.cache_clear()
    predicted = np.asarray(scorer.score([line for line, _ in held_out])[scorer.column], dtype=float)
    gold = np.asarray([v for _, v in held_out], dtype=float)
    pos_gold, pos_pred = gold >= cut, predicted >= cut
    tp = int((pos_gold & pos_pred).sum())
    precision = tp / pos_pred.sum() if pos_pred.sum() else 0.0
    recall = tp / pos_gold.sum() if pos_gold.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    rho = spearmanr(predicted, gold).statistic if len(set(gold)) > 1 and len(set(predicted)) > 1 else float("nan")
    return {"cut": cut, "f1_at_cut": round(f1, 4), "precision_at_cut": round(float(precision), 4),
            "recall_at_cut": round(float(recall), 4), "spearman": round(float(rho), 4) if math.isfinite(rho) else None,
            "mae": round(float(np.abs(predicted - gold).mean()), 4), "documents": len(gold)}


def train_rater(inputs: list[str], criterion: str, out: Path, name: str | None = None, cut: float = 3.0,
                bins: int = 5, params: TrainParams = TrainParams(ratio=3.0), demo: bool = False) -> RaterResult:
    import time

    t0 = time.perf_counter()
    rows, skipped = read_criterion(inputs, criterion)
    if len(rows) < 2:
        raise StageError(f"only {len(rows)} documents have a {criterion!r} value: too few to train a rater")
    labels, binned = levels_for([v for _, v in rows], bins)
    if len(set(labels)) < 2:
        raise StageError(f"every labelled document has the same {criterion!r} value: nothing to learn")
    name = name or Path(out).stem
    with tempfile.TemporaryDirectory(prefix="curate-rater-") as tmp:
        prepared = Path(tmp) / "levels.parquet"
        pq.write_table(pa.table({TEXT: [t for t, _ in rows], LEVEL: labels}), prepared)
        result = train_classifier(Path(out), name, inputs=[str(prepared)], label_column=LEVEL, params=params)
        # fastText sometimes diverges to a near-constant model (GUIDE): check, and retrain once, fresh
        majority = max(result.valid_counts.values(), default=0) / max(1, sum(result.valid_counts.values()))
        if result.metrics and result.metrics["accuracy"] < majority and len(result.metrics.get("per_label", {})) > 1:
            result = train_classifier(Path(out), name, inputs=[str(prepared)], label_column=LEVEL,
                                      params=dataclasses.replace(params, seed=params.seed + 1))
    held_out = [(line, v) for line, v in ((normalise(t, params.max_chars), v) for t, v in rows)
                if _is_valid(line, params.valid_fraction)]
    info, path = resolve_model(name, verify=False)
    metrics = {"accuracy": result.metrics.get("accuracy"), "macro_f1": result.metrics.get("macro_f1"),
               **rater_metrics(str(path), name, held_out, cut)}
    info.kind = "demo-rater" if demo else "rater"
    info.origin = "curate train-rater" + (" (demo: labels known by construction, not a real rater)" if demo else "")
    info.meta.update({
        "criterion": criterion, "binned": binned, "cut": cut,
        "rater_held_out": metrics, "skipped_without_label": skipped,
        "training_data": [{"path": str(s.path.resolve()), "sha256": sha256_of(s.path)}
                          for s in resolve_inputs(inputs, SHARD_SUFFIXES) if s.path is not None],
    })
    info = register_model(info)
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return RaterResult(info, len(rows), skipped, dict(sorted(counts.items(), key=lambda kv: float(kv[0]))),
                       metrics, binned, time.perf_counter() - t0)
