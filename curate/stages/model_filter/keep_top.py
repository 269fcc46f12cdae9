"""Keeping the top P% of documents by score over the whole input, not per shard (DCLM kept its top 10%).

The cut itself is curate/cutoff.py (shared with `curate select --keep-top`).
First pass (`Stage.prepare`): every shard's added columns are computed once, in parallel, and
cached in the work folder as `<shard>.parquet` (row number, id, eligible, columns). DuckDB then
finds the K-th best document over all shards, K = round(P% of the eligible documents), ordering
by score (descending), then shard name, then row: a total order, so ties at the cut are broken
the same way on every run and exactly K documents are kept.
Second pass (`process_shard`): each shard reads its cached columns and keeps a document when it
sorts at or before the cut.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from curate.cutoff import Cutoff
from curate.cutoff import find_cutoff as global_cutoff

ROW, DOC_ID, ELIGIBLE = "_row", "_id", "_eligible"


def write_cache(path: Path, rows: dict[str, list]) -> None:
    """Write a shard's cached columns atomically (a killed run leaves no half file to trust)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table(rows), tmp, compression="zstd")
    tmp.replace(path)


def read_cache(path: Path) -> dict[str, list]:
    return pq.read_table(path).to_pydict()


def find_cutoff(cache_files: dict[str, Path], score_column: str, percent: float) -> Cutoff:
    """The cut that keeps round(percent% of eligible documents) over all shards."""
    con = duckdb.connect()
    files = [str(p) for p in cache_files.values()]
    shard_of = {str(p): name for name, p in cache_files.items()}
    con.execute("CREATE TEMP TABLE names (file VARCHAR, shard VARCHAR)")
    con.executemany("INSERT INTO names VALUES (?, ?)", list(shard_of.items()))
    scores = f"""
        SELECT s."{score_column}" AS score, n.shard AS shard, s.{ROW} AS row
        FROM read_parquet(?, filename = true, union_by_name = true) s JOIN names n ON s.filename = n.file
        WHERE s.{ELIGIBLE} AND s."{score_column}" IS NOT NULL
    """
    return global_cutoff(con, scores, [files], percent)
