"""The per-shard pass: each document's exact key, URL key, MinHash band keys and sketch, to Parquet.

Runs in worker processes (one input shard each). Rows are numbered in the order the stage
sees documents in `process_shard` (`Stage.rows`), which is how the decisions are matched back
to documents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.atomic import atomic_path
from curate.batching import batched
from curate.records import ID, SOURCE, TEXT, URL
from curate.stages.dedup.lsh import band_keys
from curate.stages.dedup.minhash import MinHasher
from curate.stages.dedup.normalize import exact_key, url_key

BATCH = 1024  # documents per numpy batch: large enough to amortise per-call overhead


def band_column(i: int) -> str:
    return f"b{i:03d}"


def sig_schema(bands: int, hashes: int = 0) -> pa.Schema:
    """Keys of one shard; with hashes > 0 also the `sketch` (low byte of each signature value)."""
    return pa.schema(
        [("shard_no", pa.int32()), ("row", pa.int64()), ("id", pa.string()), ("source", pa.string()),
         ("exact_hi", pa.uint64()), ("exact_lo", pa.uint64()), ("url", pa.uint64())]
        + [(band_column(i), pa.uint64()) for i in range(bands)]
        + ([("sketch", pa.binary(hashes))] if hashes else [])
    )


def sketch_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity from two (pairs, hashes) uint8 sketches (b-bit minwise hashing,
    Li & Koenig 2010: values agree with probability J + (1 - J)/256)."""
    agree = (a == b).mean(axis=1)
    return (agree - 1 / 256) / (1 - 1 / 256)


def sign_shard(job: tuple) -> int:
    """Write the keys of one shard's documents to `out`; returns the number of rows.

    job = (stage, shard, shard_no, out): the stage reads the shard exactly as the run does.
    """
    stage, shard, shard_no, out = job
    out = Path(out)
    if out.exists():  # done by an earlier, interrupted run with the same key
        return pq.ParquetFile(out).metadata.num_rows
    cfg = stage.config
    p = stage.params
    hasher = MinHasher(p.ngram, p.hashes, p.seed) if cfg.method != "exact" else None
    bands = p.bands if hasher else 0
    schema = sig_schema(bands, p.hashes if hasher else 0)
    rows = 0
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in batched(stage.rows(shard), BATCH):
            writer.write_table(_keys(batch, rows, shard_no, stage, hasher, schema))
            rows += len(batch)
        if rows == 0:
            writer.write_table(_keys([], 0, shard_no, stage, hasher, schema))
    return rows


def _keys(docs: list[dict], first_row: int, shard_no: int, stage, hasher: MinHasher | None, schema: pa.Schema) -> pa.Table:
    cfg, p = stage.config, stage.params
    texts = [d[TEXT] for d in docs]
    cols: dict[str, object] = {
        "shard_no": np.full(len(docs), shard_no, dtype=np.int32),
        "row": np.arange(first_row, first_row + len(docs), dtype=np.int64),
        "id": [str(d[ID]) for d in docs],
        "source": [d.get(SOURCE) or "" for d in docs],
    }
    exact = [exact_key(t) if cfg.method != "minhash" else None for t in texts]
    cols["exact_hi"] = pa.array([e[0] if e else None for e in exact], pa.uint64())
    cols["exact_lo"] = pa.array([e[1] if e else None for e in exact], pa.uint64())
    cols["url"] = pa.array([url_key(d.get(URL)) if cfg.dedup_urls else None for d in docs], pa.uint64())
    if hasher is not None:
        sig, has_sig = hasher.signatures(texts)
        keys = band_keys(sig, p.bands, p.rows)
        mask = np.ones(len(docs), dtype=bool)
        mask[has_sig] = False  # documents shorter than one shingle have no band keys
        for i in range(p.bands):
            full = np.zeros(len(docs), dtype=np.uint64)
            full[has_sig] = keys[:, i]
            cols[band_column(i)] = pa.array(full, pa.uint64(), mask=mask)
        if "sketch" in schema.names:
            sketch = np.zeros((len(docs), p.hashes), dtype=np.uint8)
            sketch[has_sig] = sig & 0xFF
            cols["sketch"] = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(p.hashes), len(docs), [pa.array(~mask).buffers()[1], pa.py_buffer(sketch.tobytes())])
    return pa.table(cols, schema=schema)
