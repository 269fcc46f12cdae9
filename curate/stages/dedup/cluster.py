"""Global clustering with DuckDB: key groups -> candidate pairs -> union-find -> per-shard decisions.

Every document gets an `ord`: index documents keep their iid (0..M-1, earliest first), this
run's documents follow, ordered by source priority, then id (then shard and row, for equal
ids), or with `survivor: first-seen` by source priority, then input shard and row. For each key (exact hash, URL hash, each LSH band) DuckDB groups documents by key, out
of core under `memory_limit`, and links every member of a group to the group's smallest
ord (a star: k-1 pairs, not k^2). Only groups holding at least one document of this run
matter. The union-find roots are therefore the survivors, the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from curate.stages.dedup.sign import band_column, sketch_similarity
from curate.stages.dedup.unionfind import UnionFind

if TYPE_CHECKING:
    from curate.stages.dedup.index import DedupIndex

PAIR_BATCH = 1 << 20  # pairs fetched from DuckDB at a time


@dataclass
class ClusterSettings:
    method: str  # exact | minhash | both
    scope: str  # global | local
    dedup_urls: bool
    source_priority: list[str]
    bands: int
    memory_limit: str
    threads: int
    hashes: int = 0
    min_similarity: float = 0.0  # LSH candidates estimated below this are not linked
    survivor: str = "lowest-id"  # lowest-id | first-seen (input shard and position before id)


def connect(db_path: Path, s: ClusterSettings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db_path), read_only=read_only)
    spill = db_path.parent / "duckdb-spill"
    spill.mkdir(exist_ok=True)
    con.execute(f"SET memory_limit = {sql_str(s.memory_limit)}")
    con.execute(f"SET temp_directory = {sql_str(spill)}")
    con.execute(f"SET threads = {max(1, s.threads)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def sql_str(x: object) -> str:
    """A SQL string literal (file paths may hold quotes)."""
    return "'" + str(x).replace("'", "''") + "'"


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(sql_str(x) for x in items) + "]"


def cluster(sig_files: list[Path], index: DedupIndex | None, run_key: str, s: ClusterSettings, work: Path) -> dict:
    """Cluster this run's documents (and the index); write `work/decisions/shard_no=K/*.parquet`.

    Leaves `work/cluster.duckdb` with tables `docs` and `outcome` for `survivors()`.
    """
    db_path = work / "cluster.duckdb"
    db_path.unlink(missing_ok=True)
    con = connect(db_path, s)
    m = index.size(exclude=run_key) if index else 0
    with_bands = s.method != "exact"
    bands = s.bands if with_bands else 0
    prio = s.source_priority
    # first-seen: the order the inputs were given, as the index orders earlier runs (so batches
    # of a crawl processed one after another keep the copies one run over all of them keeps)
    order = "d.shard_no, d.row" if s.survivor == "first-seen" else "d.id, d.shard_no, d.row"
    con.execute("CREATE TEMP TABLE prio AS SELECT unnest($1::VARCHAR[]) AS source, generate_subscripts($1::VARCHAR[], 1) AS p", [prio])
    band_cols = "".join(f", {band_column(i)}" for i in range(bands)) + (", d.sketch" if bands else "")
    con.execute(f"""
        CREATE TABLE docs AS
        SELECT {m} + row_number() OVER (ORDER BY coalesce(prio.p, {len(prio) + 1}), {order}) - 1 AS ord,
               d.shard_no, d.row, d.id, d.source, d.exact_hi, d.exact_lo, d.url{band_cols}
        FROM read_parquet({_sql_list([str(f) for f in sig_files])}) d LEFT JOIN prio USING (source)
    """)
    n = con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
    if index and m:
        con.execute(f"CREATE VIEW idx_docs AS SELECT * FROM read_parquet({_sql_list(index.doc_files(run_key))}, union_by_name = true)")
    verify = bands > 0 and s.min_similarity > 0
    if verify:
        con.execute("CREATE VIEW sketches AS SELECT ord, sketch FROM docs"
                    + (" UNION ALL SELECT iid AS ord, sketch FROM idx_docs" if index and m else ""))
    uf = UnionFind(m + n)
    part = ", source" if s.scope == "local" else ""
    pairs = dropped = 0

    def link(keys: list[str], new_table: str, old_table: str | None, check_similarity: bool = False) -> None:
        nonlocal pairs, dropped
        k = ", ".join(keys) + part
        not_null = " AND ".join(f"{c} IS NOT NULL" for c in keys)
        # only index entries whose key occurs in this run can link to it: a semi-join keeps the
        # group-by at this run's size however large the index grows
        union = (f"UNION ALL SELECT iid AS ord, {k}, false AS new FROM {old_table} SEMI JOIN {new_table} USING ({k})"
                 if old_table else "")
        sql = f"""
            WITH everything AS (
                SELECT ord, {k}, true AS new FROM {new_table} WHERE {not_null}
                {union}),
            groups AS (
                SELECT {k}, min(ord) AS root FROM everything WHERE {not_null}
                GROUP BY {k} HAVING count(*) > 1 AND bool_or(new)),
            pairs AS (
                SELECT d.ord, g.root FROM {new_table} d JOIN groups g USING ({k}) WHERE d.ord <> g.root)"""
        if check_similarity:
            sql += " SELECT p.ord, p.root, a.sketch, b.sketch FROM pairs p JOIN sketches a ON a.ord = p.ord JOIN sketches b ON b.ord = p.root"
        else:
            sql += " SELECT ord, root FROM pairs"
        reader = con.sql(sql).to_arrow_reader(PAIR_BATCH // 8 if check_similarity else PAIR_BATCH)
        for batch in reader:
            a = batch.column(0).to_numpy()
            b = batch.column(1).to_numpy()
            pairs += len(a)
            if check_similarity:
                similar = _similar(batch.column(2), batch.column(3), s.hashes, s.min_similarity)
                dropped += int((~similar).sum())
                a, b = a[similar], b[similar]
            uf.union(a, b)

    if s.method != "minhash":
        link(["exact_hi", "exact_lo"], "docs", "idx_docs" if index and m else None)
    if s.dedup_urls:
        link(["url"], "docs", "idx_docs" if index and m else None)
    for i in range(bands):
        old = None
        if index and m:
            files = index.band_files(i, run_key)
            if files:
                con.execute(f"CREATE OR REPLACE VIEW idx_band AS SELECT iid, source, key AS {band_column(i)} FROM read_parquet({_sql_list(files)})")
                old = "idx_band"
        link([band_column(i)], "docs", old, check_similarity=verify)

    roots = uf.roots()
    new_roots = roots[m:]
    # cluster size: this run's members, plus one when the survivor is an index document
    sizes = np.bincount(new_roots, minlength=m + n) + (np.arange(m + n) < m)
    member = np.flatnonzero(sizes[new_roots] > 1)
    outcome = pa.table({"ord": member + m, "root": new_roots[member], "size": sizes[new_roots[member]]})
    con.register("outcome_arrow", outcome)
    con.execute("CREATE TABLE outcome AS SELECT * FROM outcome_arrow")
    con.unregister("outcome_arrow")
    root_info = ("SELECT ord, id, exact_hi, exact_lo, url FROM docs"
                 + (" UNION ALL SELECT iid AS ord, id, exact_hi, exact_lo, url FROM idx_docs" if index and m else ""))
    decisions = work / "decisions"
    con.execute(f"""
        COPY (
            SELECT d.shard_no, d.row, d.id, o.size AS cluster_size,
                   CASE WHEN o.ord = o.root THEN NULL
                        WHEN d.exact_hi = r.exact_hi AND d.exact_lo = r.exact_lo THEN 'exact'
                        WHEN d.url = r.url THEN 'url'
                        ELSE 'minhash' END AS rule,
                   CASE WHEN o.ord = o.root THEN NULL ELSE r.id END AS duplicate_of
            FROM outcome o JOIN docs d ON d.ord = o.ord JOIN ({root_info}) r ON r.ord = o.root
        ) TO {sql_str(decisions)} (FORMAT parquet, PARTITION_BY (shard_no), OVERWRITE_OR_IGNORE)
    """)
    rejected = int((new_roots != np.arange(m, m + n)).sum())
    con.close()
    return {"docs": n, "index_docs": m, "pairs": pairs, "pairs_below_similarity": dropped, "clustered": len(member),
            "rejected": rejected}


def _similar(a: pa.Array, b: pa.Array, hashes: int, threshold: float) -> np.ndarray:
    """Pairs whose sketches estimate a Jaccard similarity >= threshold; pairs without a sketch on
    either side (index parts written without one) are kept, as LSH alone would."""
    known = (a.is_valid().to_numpy(zero_copy_only=False) & b.is_valid().to_numpy(zero_copy_only=False))
    keep = ~known
    if known.any():
        idx = np.flatnonzero(known)
        sim = sketch_similarity(_sketch_rows(a.take(idx), hashes), _sketch_rows(b.take(idx), hashes))
        keep[idx] = sim >= threshold
    return keep


def _sketch_rows(col: pa.Array, hashes: int) -> np.ndarray:
    """(rows, hashes) uint8 view of a binary column whose values are all `hashes` bytes long."""
    if pa.types.is_fixed_size_binary(col.type):
        start, data = col.offset * hashes, col.buffers()[1]
    else:
        offsets = np.frombuffer(col.buffers()[1], dtype=np.int64 if pa.types.is_large_binary(col.type) else np.int32)
        start, data = int(offsets[col.offset]), col.buffers()[2]
    return np.frombuffer(data, dtype=np.uint8)[start:start + len(col) * hashes].reshape(len(col), hashes)


def survivors(work: Path, s: ClusterSettings):
    """Connection and SQL selecting this run's kept documents (for the index), in ord order."""
    con = connect(work / "cluster.duckdb", s, read_only=True)
    sql = "SELECT d.* FROM docs d ANTI JOIN (SELECT ord FROM outcome WHERE ord <> root) r ON d.ord = r.ord ORDER BY d.ord"
    return con, sql
