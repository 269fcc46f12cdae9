"""Clusters, CLIMB's way on a CPU: documents -> vectors -> k-means fitted on a sample -> every
document's nearest centre.

CLIMB (Diao et al. 2025) embedded documents with a sentence encoder, clustered them with k-means
and merged the clusters into fewer groups before searching mixtures over them. Here the default
vectors need no model file: TF-IDF over the sample's 50,000 most frequent words (tfidf.py: no
per-word Python) reduced by a truncated SVD to `dims` dimensions (LSA) and L2-normalised, all
float32; MiniBatchKMeans fits the centres. About 0.7 ms of CPU per sample document to fit and
0.2 ms per document to assign (bench_tag.py), so assigning scales with the workers. `merge_to`
optionally groups the k centres into fewer groups (Ward agglomeration of the centres), CLIMB's
regrouping step. Each cluster is described by its most
distinctive terms in the sample and the URLs of the sample documents nearest its centre.

The fitted model (joblib) goes to the models registry with its parameters and descriptions, so a
later run (or another corpus) can assign with the same clusters (`cluster_model: NAME`).
"""

from __future__ import annotations

import functools
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curate.stages.tag.tfidf import counts, fit_vocabulary, tfidf, weigh

MAX_FEATURES = 50_000  # the vocabulary: the most frequent words of the sample (df >= MIN_DF)
MIN_DF = 2  # a term in one sample document says nothing about clusters
TOP_TERMS = 8
EXAMPLES = 3
FORMAT = 2  # of the saved model; 1 = hashed features (refit those)


@dataclass
class ClusterParams:
    k: int
    dims: int = 100
    sample: int = 20_000
    max_chars: int = 3_000  # clustering looks at the start of a document: enough for its subject
    seed: int = 0
    merge_to: int | None = None


def _byte_table() -> bytes:
    table = bytearray(range(256))
    for c in string.punctuation + string.whitespace + string.digits:
        table[ord(c)] = ord(" ")
    return bytes(table)


_BYTES = _byte_table()


def words(text: str, max_chars: int) -> list[str]:
    """Lower-cased words of the start of a text: ASCII punctuation and digits split words and are
    dropped, in one C pass (no stop-word list: it would be English-only; IDF plays common words down)."""
    return text[:max_chars].lower().encode("utf-8", "replace").translate(_BYTES).decode("utf-8", "replace").split()


@dataclass
class ClusterModel:
    params: ClusterParams
    vocab: dict[str, int]
    idf: np.ndarray  # (V,) float32
    components: np.ndarray  # (dims, V) float32: the truncated SVD (LSA) projection
    centers: np.ndarray  # (k, dims) float32
    group_of: list[int] | None = None  # cluster -> merged group, with merge_to
    terms: list[list[str]] = field(default_factory=list)
    examples: list[list[str]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # sample documents per cluster
    format: int = FORMAT

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Unit-length LSA vectors (float32), one per text."""
        x = tfidf([words(t, self.params.max_chars) for t in texts], self.vocab, self.idf)
        return _unit(np.asarray(x @ self.components.T, dtype=np.float32))

    def assign(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centre and the distance to it (Euclidean, between unit vectors: 0..2)."""
        return _nearest(self.vectors(texts), self.centers)

    def describe(self) -> list[dict]:
        return [{"cluster": c, "group": self.group_of[c] if self.group_of else None, "sample_docs": self.sizes[c],
                 "top_terms": self.terms[c], "examples": self.examples[c]} for c in range(self.params.k)]


def _unit(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def _nearest(v: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # |v - c|^2 = |v|^2 + |c|^2 - 2 v.c: one matrix product for the whole batch
    d2 = (v * v).sum(axis=1)[:, None] + (centers * centers).sum(axis=1)[None, :] - 2.0 * (v @ centers.T)
    nearest = d2.argmin(axis=1)
    return nearest, np.sqrt(np.maximum(d2[np.arange(len(nearest)), nearest], 0.0))


def fit(texts: list[str], names: list[str], params: ClusterParams) -> ClusterModel:
    """Fit on a sample of texts; `names` (URLs or ids) become the clusters' examples."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD

    if len(texts) < params.k:
        from curate.stage import StageError

        raise StageError(f"clustering: {len(texts)} documents with text cannot make {params.k} clusters; lower `cluster`")
    tokens = [words(t, params.max_chars) for t in texts]
    vocab, idf = fit_vocabulary(tokens, MIN_DF if len(texts) >= 1_000 else 1, MAX_FEATURES)
    n = counts(tokens, vocab)
    x = weigh(n.copy(), idf)
    dims = max(2, min(params.dims, x.shape[0] - 1, x.shape[1] - 1))
    # float32 all the way and 2 power iterations (scikit-learn's default for this size is 4; the
    # purity against WebOrganizer's topics did not change, see docs/tag.md): most of the fit time
    svd = TruncatedSVD(n_components=dims, algorithm="randomized", n_iter=2, random_state=params.seed).fit(x)
    components = svd.components_.astype(np.float32)
    v = _unit(np.asarray(x @ components.T, dtype=np.float32))
    kmeans = MiniBatchKMeans(n_clusters=params.k, batch_size=4096, n_init=3, max_no_improvement=20,
                             random_state=params.seed).fit(v)
    centers = kmeans.cluster_centers_.astype(np.float32)
    model = ClusterModel(params, vocab, idf, components, centers)
    labels, _ = _nearest(v, centers)
    model.sizes = np.bincount(labels, minlength=params.k).tolist()
    if params.merge_to and params.merge_to < params.k:
        from sklearn.cluster import AgglomerativeClustering

        model.group_of = AgglomerativeClustering(n_clusters=params.merge_to, linkage="ward").fit_predict(centers).tolist()
    model.terms = _top_terms(n, labels, vocab, params.k)
    model.examples = []
    for c in range(params.k):
        members = np.flatnonzero(labels == c)
        dist = np.linalg.norm(v[members] - centers[c], axis=1)
        model.examples.append([names[i] for i in members[np.argsort(dist)[:EXAMPLES]]])
    return model


def _top_terms(n, labels: np.ndarray, vocab: dict[str, int], k: int) -> list[list[str]]:
    """Per cluster, the terms most over-represented in its documents: document frequency in the
    cluster vs in the sample, weighted by how common they are in the cluster (p_c log p_c/p_all)."""
    from scipy.sparse import csr_matrix

    present = csr_matrix((np.ones_like(n.data), n.indices, n.indptr), shape=n.shape)  # 1 where a doc has the term
    member = csr_matrix((np.ones(len(labels), np.float32), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    df_c = np.asarray((member @ present).todense())  # (k, V) document frequency per cluster
    df_all = df_c.sum(axis=0)
    sizes = np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
    p_c = df_c / sizes
    p_all = np.maximum(df_all, 1) / len(labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(df_c >= np.where(sizes > 4, 2, 1), p_c * np.log(p_c / p_all), -np.inf)
    term_of = np.empty(len(vocab), dtype=object)
    for w, i in vocab.items():
        term_of[i] = w
    out = []
    for c in range(k):
        best = np.argsort(-score[c])[:TOP_TERMS]
        out.append([str(term_of[i]) for i in best if np.isfinite(score[c, i])])
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

    model = joblib.load(path)
    if getattr(model, "format", 1) != FORMAT:
        from curate.stage import StageError

        raise StageError(f"cluster model {path} was fitted by an older curate (hashed features): fit it again with --cluster K")
    return model


def purity(clusters: list[int], labels: list[str]) -> float:
    """Share of documents whose cluster's majority label is their own label."""
    by: dict[int, Counter] = {}
    for c, lab in zip(clusters, labels):
        by.setdefault(c, Counter())[lab] += 1
    return sum(cnt.most_common(1)[0][1] for cnt in by.values()) / max(1, len(labels))
