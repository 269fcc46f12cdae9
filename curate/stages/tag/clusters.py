"""Clusters, CLIMB's way on a CPU: documents -> vectors -> k-means fitted on a sample -> every
document's nearest centre.

CLIMB (Diao et al. 2025) embedded documents with a sentence encoder, clustered them with k-means
and merged the clusters into fewer groups before searching mixtures over them. Here the default
vectors need no model file: hashed TF-IDF (scikit-learn's HashingVectorizer, so no vocabulary to
store) reduced by a truncated SVD to `dims` dimensions (LSA) and L2-normalised; MiniBatchKMeans
fits the centres. `merge_to` optionally groups the k centres into fewer groups (Ward
agglomeration of the centres), CLIMB's regrouping step. Each cluster is described by its most
distinctive terms in the sample and the URLs of the sample documents nearest its centre.

The fitted model (joblib) goes to the models registry with its parameters and descriptions, so a
later run (or another corpus) can assign with the same clusters (`cluster_model: NAME`).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

N_FEATURES = 2**18
MIN_DF = 2  # a term in one sample document says nothing about clusters
TOP_TERMS = 8
EXAMPLES = 3


@dataclass
class ClusterParams:
    k: int
    dims: int = 100
    sample: int = 20_000
    max_chars: int = 3_000  # clustering looks at the start of a document: enough for its subject
    seed: int = 0
    merge_to: int | None = None


@dataclass
class ClusterModel:
    params: ClusterParams
    vectorizer: object
    tfidf: object
    svd: object
    kmeans: object
    used: object = None  # hashed feature columns seen in at least MIN_DF sample documents (the SVD's input)
    group_of: list[int] | None = None  # cluster -> merged group, with merge_to
    terms: list[list[str]] = field(default_factory=list)
    examples: list[list[str]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # sample documents per cluster

    def vectors(self, texts: list[str]) -> np.ndarray:
        from sklearn.preprocessing import normalize

        x = self.tfidf.transform(self.vectorizer.transform([t[: self.params.max_chars] for t in texts]))
        return normalize(self.svd.transform(x[:, self.used])).astype(np.float32)

    def assign(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centre and the distance to it (Euclidean, between unit vectors: 0..2)."""
        v = self.vectors(texts)
        d = self.kmeans.transform(v)
        nearest = d.argmin(axis=1)
        return nearest, d[np.arange(len(nearest)), nearest]

    def describe(self) -> list[dict]:
        return [{"cluster": c, "group": self.group_of[c] if self.group_of else None, "sample_docs": self.sizes[c],
                 "top_terms": self.terms[c], "examples": self.examples[c]} for c in range(self.params.k)]


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    # no stop-word list: it would be English-only; the IDF weighting plays down common words instead
    return HashingVectorizer(n_features=N_FEATURES, alternate_sign=False, norm=None, lowercase=True,
                             token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b", dtype=np.float32)


def fit(texts: list[str], names: list[str], params: ClusterParams) -> ClusterModel:
    """Fit on a sample of texts; `names` (URLs or ids) become the clusters' examples."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    if len(texts) < params.k:
        from curate.stage import StageError

        raise StageError(f"clustering: {len(texts)} documents with text cannot make {params.k} clusters; lower `cluster`")
    vectorizer = _vectorizer()
    counts = vectorizer.transform([t[: params.max_chars] for t in texts])
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    # The SVD keeps a dims x features matrix: over all 2^18 hashed columns that is 200 MB to save and
    # load in every worker; over the columns the sample actually uses (df >= MIN_DF) a few MB.
    df = np.bincount(counts.indices, minlength=N_FEATURES)
    used = np.flatnonzero(df >= (MIN_DF if len(texts) >= 1_000 else 1))
    x = tfidf.transform(counts)[:, used]
    dims = max(2, min(params.dims, x.shape[0] - 1, x.shape[1] - 1))
    svd = TruncatedSVD(n_components=dims, algorithm="randomized", n_iter=4, random_state=params.seed).fit(x)
    svd.components_ = svd.components_.astype(np.float32)
    v = normalize(svd.transform(x)).astype(np.float32)
    kmeans = MiniBatchKMeans(n_clusters=params.k, batch_size=4096, n_init=3, max_no_improvement=20,
                             random_state=params.seed).fit(v)
    model = ClusterModel(params, vectorizer, tfidf, svd, kmeans, used=used)
    d = kmeans.transform(v)
    labels = d.argmin(axis=1)
    model.sizes = np.bincount(labels, minlength=params.k).tolist()
    if params.merge_to and params.merge_to < params.k:
        from sklearn.cluster import AgglomerativeClustering

        model.group_of = AgglomerativeClustering(n_clusters=params.merge_to, linkage="ward").fit_predict(
            kmeans.cluster_centers_).tolist()
    model.terms = _top_terms(texts, labels, params)
    model.examples = []
    for c in range(params.k):
        members = np.flatnonzero(labels == c)
        nearest = members[np.argsort(d[members, c])[:EXAMPLES]]
        model.examples.append([names[i] for i in nearest])
    return model


def _top_terms(texts: list[str], labels: np.ndarray, params: ClusterParams) -> list[list[str]]:
    """Per cluster, the terms most over-represented in its documents (document frequency in the
    cluster vs in the sample, weighted by how common they are in the cluster)."""
    analyse = _vectorizer().build_analyzer()
    overall: Counter = Counter()
    per: list[Counter] = [Counter() for _ in range(params.k)]
    for text, c in zip(texts, labels):
        terms = set(analyse(text[:1_000]))
        overall.update(terms)
        per[c].update(terms)
    n_all = len(texts)
    sizes = np.bincount(labels, minlength=params.k)
    out = []
    for c in range(params.k):
        n_c = max(1, int(sizes[c]))
        scored = []
        for term, df in per[c].items():
            if df < 2 and n_c > 4:
                continue
            p_c, p_all = df / n_c, overall[term] / n_all
            scored.append((p_c * math.log(p_c / p_all), term))
        out.append([t for _, t in sorted(scored, reverse=True)[:TOP_TERMS]])
    return out


def save(model: ClusterModel, path: Path) -> None:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    joblib.dump(model, tmp, compress=1)
    tmp.replace(path)


@functools.cache
def load(path: str, sha256: str = "") -> ClusterModel:
    """Once per process (sha256 in the key: a refitted model at the same path is reloaded)."""
    import joblib

    return joblib.load(path)


def purity(clusters: list[int], labels: list[str]) -> float:
    """Share of documents whose cluster's majority label is their own label."""
    by: dict[int, Counter] = {}
    for c, lab in zip(clusters, labels):
        by.setdefault(c, Counter())[lab] += 1
    return sum(cnt.most_common(1)[0][1] for cnt in by.values()) / max(1, len(labels))
