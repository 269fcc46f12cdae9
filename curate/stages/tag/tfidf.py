"""Sublinear TF-IDF rows for a batch of token lists, with no per-word Python.

A batch's tokens are mapped to vocabulary ids by `map(dict.get, ...)` (a C loop), counted by
building one sparse matrix (duplicates summed), then weighted (1 + log tf) x idf and
L2-normalised in numpy: the same numbers as `TfidfVectorizer(sublinear_tf=True)` with the same
vocabulary and idf (tests/test_tag_linear.py), about 1.2x faster per document (CPU time, 3,000
characters: 112 vs 133 µs) and without keeping a vectorizer object around. Fitting the
vocabulary counts document frequencies with `set` and `Counter` (C loops) instead of
scikit-learn's per-token loop. The linear tagger (linear.py) and the clusters (clusters.py) use it.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, repeat

import numpy as np


def fit_vocabulary(token_lists: list[list[str]], min_df: int, max_features: int | None = None):
    """(word -> column, idf float32) with TfidfVectorizer's conventions: words of document frequency
    >= min_df in alphabetical order, smoothed idf = ln((1 + n) / (1 + df)) + 1. With `max_features`,
    the words of highest document frequency. Counted with C loops (set, Counter), not per word in Python."""
    df = Counter(chain.from_iterable(map(set, token_lists)))
    kept = [(w, c) for w, c in df.items() if c >= min_df]
    if max_features is not None and len(kept) > max_features:
        kept = sorted(kept, key=lambda wc: (-wc[1], wc[0]))[:max_features]
    kept.sort()
    vocab = {w: i for i, (w, _) in enumerate(kept)}
    freq = np.fromiter((c for _, c in kept), dtype=np.float64, count=len(kept))
    idf = (np.log((1.0 + len(token_lists)) / (1.0 + freq)) + 1.0).astype(np.float32)
    return vocab, idf


def counts(token_lists: list[list[str]], vocab: dict[str, int]):
    """Term counts (CSR, float32), one row per token list; unknown words are dropped."""
    lens = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    ids = np.fromiter(map(vocab.get, chain.from_iterable(token_lists), repeat(-1)), dtype=np.int64,
                      count=int(lens.sum()))
    return id_counts(ids, lens, len(vocab))


def id_counts(ids: np.ndarray, lens: np.ndarray, columns: int):
    """Term counts (CSR, float32) from the vocabulary ids of all rows one after another (`lens` per row;
    an id of -1 is an unknown term, dropped)."""
    from scipy.sparse import csr_matrix

    rows = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    known = ids >= 0
    m = csr_matrix((np.ones(int(known.sum()), dtype=np.float32), (rows[known], ids[known])), shape=(len(lens), columns))
    m.sum_duplicates()
    return m


def weigh(m, idf: np.ndarray):
    """Counts -> L2-normalised (1 + log tf) x idf, in place."""
    from sklearn.preprocessing import normalize

    m.data = (np.log(m.data) + 1.0) * idf[m.indices]
    return normalize(m, copy=False)  # rows to unit length (empty rows stay empty)


def tfidf(token_lists: list[list[str]], vocab: dict[str, int], idf: np.ndarray):
    return weigh(counts(token_lists, vocab), idf)
