"""A linear TF-IDF tagger: the tag line's words -> sublinear TF-IDF -> one linear score per label.

Why (measured in scripts/bench_tag.py on WebOrganizer's dev documents, a few thousand training
documents for 24 labels): a linear SVM on TF-IDF words beats a fastText tagger by 11-16 points of
accuracy at this data size. fastText averages word vectors it learns from scratch; with ~150
documents per label it cannot learn good ones, while TF-IDF weighting plus a large-margin linear
model needs no embedding at all.

Tagging runs at about fastText's speed (bench_tag.py: 0.97x a plain fastText predict loop on
4 KB documents) because nothing runs per word in Python (tfidf.py: vocabulary lookups in a C loop,
counts, weights and norms in numpy) and a batch is scored with one sparse x dense product. The
scores equal scikit-learn's `TfidfVectorizer(analyzer=str.split, sublinear_tf=True)` followed by
the classifier's `decision_function` (checked in tests/test_tag_linear.py).

Probabilities are the softmax of the scores: exact for the logistic loss; for the SVM loss
(the default: more accurate here) a monotone confidence, not a calibrated probability.

The model is one `.npz` file (no pickle): vocabulary, idf, weights, intercepts, labels, params.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from curate.stages.tag.tfidf import fit_vocabulary, tfidf

LOSSES = ("svm", "logistic")
SUFFIX = ".npz"


@dataclass(frozen=True)
class LinearParams:
    loss: str = "svm"  # scikit-learn's LinearSVC (squared hinge); "logistic": LogisticRegression
    c: float = 0.5  # inverse regularisation strength (chosen on the tuning part, see docs/tag.md)
    min_df: int = 2  # a word in one training document is noise and bloats the model
    max_chars: int = 3_000  # of each document's text (the tag line adds the title and URL tokens)
    features: str = "tag2"
    seed: int = 0


@dataclass
class LinearModel:
    labels: tuple[str, ...]
    vocab: dict[str, int]
    idf: np.ndarray  # (V,) float32
    coef: np.ndarray  # (V, L) float32: column j scores label j
    intercept: np.ndarray  # (L,) float32
    params: LinearParams

    def matrix(self, lines: list[str]):
        """Rows of L2-normalised sublinear TF-IDF (scipy CSR), one per line."""
        return tfidf([line.split() for line in lines], self.vocab, self.idf)

    def scores(self, lines: list[str]) -> np.ndarray:
        return np.asarray(self.matrix(lines) @ self.coef) + self.intercept

    def predict(self, lines: list[str]) -> np.ndarray:
        """Per line, every label's probability (softmax of the scores), shape (n, L)."""
        s = self.scores(lines)
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        return s


def fit(lines: list[str], labels: list[str], params: LinearParams = LinearParams()) -> LinearModel:
    """Fit the vocabulary, idf and the linear model on training lines (the tag line of each document)."""
    if params.loss not in LOSSES:
        raise ValueError(f"unknown loss {params.loss!r}: {' or '.join(LOSSES)}")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two labels, got {classes}")
    words = [line.split() for line in lines]
    vocab, idf = fit_vocabulary(words, params.min_df if len(lines) >= 50 else 1)
    x = tfidf(words, vocab, idf)
    if params.loss == "svm":
        from sklearn.svm import LinearSVC

        clf = LinearSVC(C=params.c, random_state=params.seed)
    else:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=params.c, max_iter=1000, random_state=params.seed)
    clf.fit(x, labels)
    coef = np.asarray(clf.coef_, dtype=np.float32)
    intercept = np.asarray(clf.intercept_, dtype=np.float32)
    if len(clf.classes_) == 2:  # binary: one score for classes_[1]; make it two symmetric columns
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    return LinearModel(tuple(str(c) for c in clf.classes_), vocab, idf, np.ascontiguousarray(coef.T), intercept, params)


def save(model: LinearModel, path: Path) -> None:
    words = np.empty(len(model.vocab), dtype=object)
    for w, i in model.vocab.items():
        words[i] = w
    meta = {"labels": list(model.labels), "params": asdict(model.params), "format": "curate-linear-tagger-1"}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # the caller writes to a temporary path and renames
        np.savez_compressed(f, words=words.astype(str), idf=model.idf, coef=model.coef.astype(np.float16),
                            intercept=model.intercept, meta=np.array(json.dumps(meta)))


@functools.cache
def load(path: str, sha256: str = "") -> LinearModel:
    """Once per process (sha256 in the key: a retrained model at the same path is reloaded)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != "curate-linear-tagger-1":
            raise ValueError(f"{path}: not a curate linear tagger")
        words = z["words"].tolist()
        return LinearModel(tuple(meta["labels"]), {w: i for i, w in enumerate(words)}, z["idf"].astype(np.float32),
                           z["coef"].astype(np.float32), z["intercept"].astype(np.float32),
                           LinearParams(**meta["params"]))


def is_linear(path: str | Path) -> bool:
    return str(path).endswith(SUFFIX)
