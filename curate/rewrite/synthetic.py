"""Generated documents for the rewrite-queue tests, demo and benchmark: paragraphs of prose-like
text with a quality score, a 0-19 quality bucket, a language, a domain tag and a URL whose host
follows a skewed (Zipf-like) distribution, as in a real crawl where a few sites are large."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.stages.dedup.synthetic import DocMaker

LANGUAGES = ["en", "en", "en", "en", "de", "fr", "es"]
TOPICS = ["science", "sports", "health", "finance", "travel", "software"]


class RewriteDocMaker(DocMaker):
    def __init__(self, seed: int = 0, hosts: int = 200):
        super().__init__(seed=seed, vocab_size=5_000)
        w = 1.0 / np.arange(1, hosts + 1)
        self.host_cdf = np.cumsum(w) / w.sum()

    def paragraphs(self, n: int, min_words: int = 20, max_words: int = 120) -> str:
        return "\n".join(self.document(min_words, max_words) for _ in range(n))

    def record(self, i: int, prefix: str = "doc") -> dict:
        r = self.rng
        host = int(np.searchsorted(self.host_cdf, r.random()))
        score = float(r.random())
        return {
            "id": f"{prefix}-{i}",
            "text": self.paragraphs(int(r.integers(1, 9))),
            "url": f"https://site{host}.example.org/page/{i}",
            "source": "synthetic",
            "quality_score": round(score, 6),
            "quality_bucket": min(19, int(score * 20)),
            "language": LANGUAGES[int(r.integers(len(LANGUAGES)))],
            "topic": TOPICS[int(r.integers(len(TOPICS)))],
        }


def write_docs(path: Path, n: int, seed: int = 0, prefix: str = "doc", start: int = 0,
               batch: int = 50_000) -> Path:
    """`n` generated documents as one Parquet (or .jsonl) file."""
    import orjson

    maker = RewriteDocMaker(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".jsonl"):
        with open(path, "wb") as f:
            for i in range(start, start + n):
                f.write(orjson.dumps(maker.record(i, prefix)) + b"\n")
        return path
    writer = None
    for lo in range(start, start + n, batch):
        rows = [maker.record(i, prefix) for i in range(lo, min(lo + batch, start + n))]
        table = pa.Table.from_pylist(rows)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return path


def write_many(path: Path, n: int, seed: int = 0, batch: int = 100_000, pool: int = 4_000, prefix: str = "doc") -> Path:
    """`n` documents fast (for the benchmark): each is 1-8 paragraphs drawn from a pool of
    generated paragraphs, after a first line unique to the document, so texts are distinct."""
    maker = RewriteDocMaker(seed)
    paragraphs = [maker.document(20, 120) for _ in range(pool)]
    rng = np.random.default_rng(seed)
    host_cdf = maker.host_cdf
    writer = None
    for lo in range(0, n, batch):
        m = min(batch, n - lo)
        ks = rng.integers(1, 9, size=m).tolist()
        picks = rng.integers(0, pool, size=sum(ks)).tolist()
        scores = rng.random(m)
        hosts = np.searchsorted(host_cdf, rng.random(m))
        texts, at = [], 0
        for j, k in enumerate(ks):
            texts.append(f"Document {lo + j} of the benchmark corpus.\n" + "\n".join([paragraphs[p] for p in picks[at:at + k]]))
            at += k
        table = pa.table({
            "id": [f"{prefix}-{i}" for i in range(lo, lo + m)],
            "text": texts,
            "url": [f"https://site{h}.example.org/page/{i}" for h, i in zip(hosts, range(lo, lo + m))],
            "source": ["synthetic"] * m,
            "quality_score": scores,
            "quality_bucket": np.minimum(19, (scores * 20).astype(np.int64)),
            "language": np.array(LANGUAGES, dtype=object)[rng.integers(0, len(LANGUAGES), size=m)].tolist(),
        })
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return path
