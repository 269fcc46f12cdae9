"""The domain mix: documents and (estimated) tokens per topic, format, cluster, URL tag and source.

Counted from the stage's kept output after every shard is done (so a resumed run counts what it
did not redo), or as documents stream past when there is no output folder (`-o -`). The same
rows go to stderr as a table and to `_summary/tag-domain-mix.parquet` beside the output.
Tokens are estimated as UTF-8 bytes / 4 (about right for English with GPT-style tokenizers; a
`token_count` column, when present, is used instead).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.records import SOURCE, TEXT

TOKEN_COUNT = "token_count"
BYTES_PER_TOKEN = 4
NONE = "(none)"


def estimate_tokens(doc: dict) -> int:
    n = doc.get(TOKEN_COUNT)
    if isinstance(n, int):
        return n
    text = doc.get(TEXT) or ""
    return -(-len(text.encode("utf-8", "replace")) // BYTES_PER_TOKEN)  # rounded up: any text is >= 1 token


@dataclass
class DomainMix:
    """Counts per (dimension, value); dimensions are column names (topic, format, cluster, url_tags, source)."""

    dimensions: tuple[str, ...]
    docs: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    tokens: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    total_docs: int = 0
    total_tokens: int = 0

    def add(self, values: dict[str, object], tokens: int) -> None:
        self.total_docs += 1
        self.total_tokens += tokens
        for dim in self.dimensions:
            value = values.get(dim)
            for v in (value or [NONE]) if isinstance(value, (list, tuple)) else [value]:
                key = (dim, NONE if v is None or v == "" else str(v))
                self.docs[key] += 1
                self.tokens[key] += tokens

    def add_doc(self, doc: dict) -> None:
        self.add(doc, estimate_tokens(doc))

    def rows(self) -> list[dict]:
        """One row per (dimension, value), by dimension then descending documents."""
        out = []
        for dim in self.dimensions:
            keys = sorted((k for k in self.docs if k[0] == dim), key=lambda k: (-self.docs[k], k[1]))
            for key in keys:
                out.append({
                    "dimension": dim, "value": key[1], "docs": self.docs[key], "tokens": self.tokens[key],
                    "docs_share": self.docs[key] / self.total_docs if self.total_docs else 0.0,
                    "tokens_share": self.tokens[key] / self.total_tokens if self.total_tokens else 0.0,
                })
        return out

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        schema = pa.schema([("dimension", pa.string()), ("value", pa.string()), ("docs", pa.int64()),
                            ("tokens", pa.int64()), ("docs_share", pa.float64()), ("tokens_share", pa.float64())])
        pq.write_table(pa.Table.from_pylist(self.rows(), schema=schema), tmp)
        tmp.replace(path)
        return path


def mix_from_files(files: Iterable[Path], dimensions: tuple[str, ...]) -> DomainMix:
    """Count a mix from Parquet/JSONL output shards, reading only the columns it needs."""
    from curate.shards import read_shard

    mix = DomainMix(dimensions)
    for path in files:
        if path.suffix == ".parquet":
            pf = pq.ParquetFile(path)
            have = set(pf.schema_arrow.names)
            cols = [c for c in (*dimensions, TEXT, TOKEN_COUNT) if c in have]
            for batch in pf.iter_batches(columns=cols, batch_size=8192):
                for doc in batch.to_pylist():
                    mix.add_doc(doc)
        else:
            for doc in read_shard(path, path.stem, path.stem):
                mix.add_doc(doc)
    return mix


def default_dimensions(tagger_columns: list[str], clusters: bool, url_tags: bool) -> tuple[str, ...]:
    dims = list(tagger_columns)
    if clusters:
        dims.append("cluster")
    if url_tags:
        dims.append("url_tags")
    dims.append(SOURCE)
    return tuple(dims)
