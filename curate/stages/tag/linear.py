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

With `char_ngrams=(lo, hi)` the features are the words' character n-grams instead of (or, with
`words=True`, besides) the words, as scikit-learn's `analyzer="char_wb"` makes them: each word padded
with a space on both sides, n-grams never crossing words. They let one model read 205 languages,
including those that do not put spaces between words (the built-in `sib200-topic`, docs/tag.md).

The model is one `.npz` file (no pickle): vocabulary, idf, weights, intercepts, labels, params.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from curate.stages.tag.tfidf import fit_vocabulary, id_counts, tfidf, weigh

LOSSES = ("svm", "logistic")
SUFFIX = ".npz"


@dataclass(frozen=True)
class LinearParams:
    loss: str = "svm"  # scikit-learn's LinearSVC (squared hinge); "logistic": LogisticRegression
    c: float = 0.5  # inverse regularisation strength (chosen on the tuning part, see docs/tag.md)
    min_df: int = 2  # a word in one training document is noise and bloats the model
    max_features: int | None = None  # keep only the most frequent features (model size)
    max_chars: int = 3_000  # of each document's text (the tag line adds the title and URL tokens)
    features: str = "tag2"
    seed: int = 0
    char_ngrams: tuple[int, int] | None = None  # (lo, hi): character n-grams of each word, as char_wb makes them
    words: bool = True  # with char_ngrams: also the words themselves
    buckets: int | None = None  # with char_ngrams: hash features into this many columns (no vocabulary kept)

    def __post_init__(self) -> None:
        if self.buckets is not None and self.char_ngrams is None:
            raise ValueError("buckets: only with char_ngrams")
        if self.char_ngrams is not None:  # from JSON: a list
            lo, hi = self.char_ngrams
            if not 1 <= lo <= hi:
                raise ValueError(f"char_ngrams {self.char_ngrams}: need 1 <= lo <= hi")
            object.__setattr__(self, "char_ngrams", (int(lo), int(hi)))


@functools.cache
def _slices(length: int, lo: int, hi: int) -> tuple[slice, ...]:
    """The n-gram slices of a padded word of `length` characters, in char_wb's order (a padded word no
    longer than n is one n-gram, and longer n are not tried)."""
    out = []
    for n in range(lo, hi + 1):
        if length <= n:
            out.append(slice(0, length))
            break
        out.extend(slice(i, i + n) for i in range(length - n + 1))
    return tuple(out)


def tokens(line: str, params: LinearParams) -> list[str]:
    """The features of one line: its words, and/or their character n-grams (one C-level map per word)."""
    words = line.split()
    if params.char_ngrams is None:
        return words
    lo, hi = params.char_ngrams
    out = list(words) if params.words else []
    extend = out.extend
    for w in words:
        padded = f" {w} "
        extend(map(padded.__getitem__, _slices(len(padded), lo, hi)))
    return out


def _bucket(buckets: int):
    import xxhash

    return lambda token: xxhash.xxh3_64_intdigest(token) % buckets  # stable across processes, unlike hash()


class WordIds(dict):
    """word -> the column ids of its features (its character n-grams, and the word itself with `words`;
    unknown ones left out), worked out the first time the word is seen. Words repeat (Zipf), so tagging
    costs a dict lookup per word instead of a slice and a lookup per n-gram (15-20 per word). Columns
    come from the vocabulary, or with `buckets` from a hash. Bounded: emptied at `max_words`."""

    def __init__(self, vocab: dict[str, int], params: LinearParams, max_words: int = 200_000) -> None:
        super().__init__()
        self.params, self.max_words = params, max_words
        self.lookup = _bucket(params.buckets) if params.buckets else vocab.get

    def __missing__(self, word: str) -> tuple[int, ...]:
        if len(self) >= self.max_words:
            self.clear()
        ids = tuple(i for i in map(self.lookup, tokens(word, self.params)) if i is not None)
        self[word] = ids
        return ids


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
        if self.params.char_ngrams is None:
            return tfidf([line.split() for line in lines], self.vocab, self.idf)
        word_ids = self.__dict__.get("_word_ids")
        if word_ids is None:
            word_ids = self.__dict__["_word_ids"] = WordIds(self.vocab, self.params)
        return weigh(line_counts(lines, word_ids, len(self.idf)), self.idf)

    def scores(self, lines: list[str]) -> np.ndarray:
        return np.asarray(self.matrix(lines) @ self.coef) + self.intercept

    def predict(self, lines: list[str]) -> np.ndarray:
        """Per line, every label's probability (softmax of the scores), shape (n, L)."""
        s = self.scores(lines)
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        return s


def line_counts(lines: list[str], word_ids: WordIds, columns: int):
    """Term counts (CSR) of the lines, their features' columns looked up word by word."""
    rows = [list(chain.from_iterable(map(word_ids.__getitem__, line.split()))) for line in lines]
    lens = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    return id_counts(np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lens.sum())), lens, columns)


def fit(lines: list[str], labels: list[str], params: LinearParams = LinearParams()) -> LinearModel:
    """Fit the vocabulary, idf and the linear model on training lines (the tag line of each document)."""
    if params.loss not in LOSSES:
        raise ValueError(f"unknown loss {params.loss!r}: {' or '.join(LOSSES)}")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two labels, got {classes}")
    if params.buckets:  # hashed columns: idf from the document frequency of each column
        vocab = {}
        m = line_counts(lines, WordIds(vocab, params), params.buckets)
        df = np.bincount(m.indices, minlength=params.buckets)
        idf = (np.log((1.0 + len(lines)) / (1.0 + df)) + 1.0).astype(np.float32)
        x = weigh(m, idf)
    else:
        words = [tokens(line, params) for line in lines]
        vocab, idf = fit_vocabulary(words, params.min_df if len(lines) >= 50 else 1, params.max_features)
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
    """Weights as int8 with one scale per label (a quarter of float32: the built-in SIB-200 tagger's 1.7M
    features x 7 labels take 11 MB; its top label moved on 0.8% of the dev sentences, accuracy measured
    on the saved file, docs/tag.md), idf as float16."""
    words = np.empty(len(model.vocab), dtype=object)
    for w, i in model.vocab.items():
        words[i] = w
    meta = {"labels": list(model.labels), "params": asdict(model.params), "format": "curate-linear-tagger-1"}
    scale = np.maximum(np.abs(model.coef).max(axis=0), 1e-12) / 127
    coef = np.round(model.coef / scale).astype(np.int8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # the caller writes to a temporary path and renames
        np.savez_compressed(f, words=words.astype(str), idf=model.idf.astype(np.float16), coef=coef,
                            coef_scale=scale.astype(np.float32), intercept=model.intercept,
                            meta=np.array(json.dumps(meta)))


@functools.cache
def load(path: str, sha256: str = "") -> LinearModel:
    """Once per process (sha256 in the key: a retrained model at the same path is reloaded)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != "curate-linear-tagger-1":
            raise ValueError(f"{path}: not a curate linear tagger")
        words = z["words"].tolist()
        coef = z["coef"].astype(np.float32)
        if "coef_scale" in z:  # int8 weights (older files: float16)
            coef *= z["coef_scale"]
        return LinearModel(tuple(meta["labels"]), {w: i for i, w in enumerate(words)}, z["idf"].astype(np.float32),
                           coef, z["intercept"].astype(np.float32), LinearParams(**meta["params"]))


def is_linear(path: str | Path) -> bool:
    return str(path).endswith(SUFFIX)
