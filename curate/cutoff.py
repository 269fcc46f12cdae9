"""The global cut: keeping the top P% of documents by a score over the whole input, not per shard
(DCLM kept its top 10%), with exact counts and ties broken the same way on every run.

Documents are ordered by score (descending), then shard name, then row number: a total order,
so the K-th document is well defined and exactly K = round(P% of eligible) documents sort at or
before it, whatever the ties. DuckDB finds it out of core. Used by model-filter's keep_top and
rate (through a per-shard score cache, `write_cache` / `cached_cutoff`) and by
`curate select --keep-top` (over shard columns directly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from curate.atomic import atomic_path

ROW, DOC_ID, ELIGIBLE = "_row", "_id", "_eligible"


@dataclass(frozen=True)
class Cutoff:
    """The last kept document in the global order (None: keep nothing) and the counts behind it."""

    last: tuple[float, str, int] | None
    keep: int
    eligible: int

    def keeps(self, score: float, shard: str, row: int) -> bool:
        if self.last is None:
            return False
        s, sh, r = self.last
        return score > s or (score == s and (shard, row) <= (sh, r))

    def keeps_sql(self, score: str, shard: str, row: str) -> str:
        """The same test as a SQL condition over the given expressions (NULL score: not kept)."""
        if self.last is None:
            return "false"
        s, sh, r = self.last
        sh_lit = "'" + sh.replace("'", "''") + "'"
        return (f"coalesce(({score}) > {s!r} OR (({score}) = {s!r} AND "
                f"(({shard}) < {sh_lit} OR (({shard}) = {sh_lit} AND ({row}) <= {r}))), false)")


def find_cutoff(con: duckdb.DuckDBPyConnection, scores_sql: str, params: list, percent: float) -> Cutoff:
    """The cut keeping round(percent% of the rows of `scores_sql`).

    `scores_sql` is a query whose rows are the eligible documents as (score, shard, row), with
    non-NULL scores; `params` are its parameters.
    """
    eligible = con.execute(f"SELECT count(*) FROM ({scores_sql})", params).fetchone()[0]
    keep = math.floor(eligible * percent / 100 + 0.5)
    if keep == 0:
        return Cutoff(None, 0, eligible)
    last = con.execute(f"SELECT score, shard, row FROM ({scores_sql}) ORDER BY score DESC, shard, row LIMIT 1 OFFSET ?",
                       [*params, keep - 1]).fetchone()
    return Cutoff((float(last[0]), last[1], int(last[2])), keep, eligible)


def write_cache(path: Path, rows: dict[str, list]) -> None:
    """Write a shard's cached columns atomically (a killed run leaves no half file to trust)."""
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(rows), tmp, compression="zstd")


def read_cache(path: Path) -> dict[str, list]:
    return pq.read_table(path).to_pydict()


def cached_cutoff(cache_files: dict[str, Path], score_column: str, percent: float) -> Cutoff:
    """The cut over per-shard caches (shard name -> file with row, eligible and score columns)."""
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE names (file VARCHAR, shard VARCHAR)")
    con.executemany("INSERT INTO names VALUES (?, ?)", [(str(p), name) for name, p in cache_files.items()])
    scores = f"""
        SELECT s."{score_column}" AS score, n.shard AS shard, s.{ROW} AS row
        FROM read_parquet(?, filename = true, union_by_name = true) s JOIN names n ON s.filename = n.file
        WHERE s.{ELIGIBLE} AND s."{score_column}" IS NOT NULL
    """
    return find_cutoff(con, scores, [[str(p) for p in cache_files.values()]], percent)


def bucket_edges(cache_files: dict[str, Path], score_column: str, buckets: int) -> list[float]:
    """The N-1 scores that cut the ranking of all cached scores into N equal-count buckets (the
    rate stage's Nemotron-CC buckets): edge k is the score at quantile k/N, so with
    bisect_right(edges, score) a document lands in bucket 0 (lowest) .. N-1 (highest)."""
    files = [str(p) for p in cache_files.values()]
    if buckets < 2 or not files:
        return []
    con = duckdb.connect()
    quantiles = [k / buckets for k in range(1, buckets)]
    row = con.execute(f'SELECT quantile_disc(s."{score_column}", ?::DOUBLE[]) FROM read_parquet(?, union_by_name = true) s '
                      f'WHERE s."{score_column}" IS NOT NULL', [quantiles, files]).fetchone()
    return [float(x) for x in row[0]] if row and row[0] is not None else []
