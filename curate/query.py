"""Stage outputs as one DuckDB relation, and writing query results back as a stage's output.

`select`, `sample`, `mix`, `report` and `explain` are queries over shard columns, run out of core
by DuckDB. This module opens Parquet shards as the view `docs` (every column, plus `_shard` = the
input shard's name and `_row` = the row number within it, a stable identity), checks user SQL
before anything is written, and writes per-shard kept / rejected files and manifest entries in
the layout every stage uses (`NAME.parquet`, `rejected/NAME.parquet`, `_manifest/NAME.json`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from curate.inputs import InputError, InputShard, resolve_inputs
from curate.manifest import Entry, Manifest, file_hash
from curate.records import REJECT_DETAIL, REJECT_REASON
from curate.runner import REJECTED_DIR
from curate.errors import StageError
from curate.stages.tokens.estimate import token_sql

SHARD, ROW = "_shard", "_row"
MEMORY_LIMIT = "1GB"  # DuckDB spills to disk beyond this; keeps select/report under 2 GB on 1M docs


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = true")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parquet_shards(inputs: list[str]) -> list[InputShard]:
    """Input shards for a query command: Parquet only (what stages write)."""
    try:
        shards = resolve_inputs(inputs, (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".ndjson"))
    except InputError as e:
        raise StageError(str(e)) from None
    other = [s for s in shards if not str(s.path).endswith(".parquet")]
    if other:
        raise StageError(f"{other[0].path}: select/sample/mix read Parquet shards (what every stage writes); "
                         f"convert it first, e.g. `curate ingest {other[0].path} -o DIR`")
    return shards


@dataclass
class Docs:
    """The view `docs` over some shards, with what the commands need to know about it."""

    con: duckdb.DuckDBPyConnection
    shards: list[InputShard]
    columns: dict[str, str]  # name -> DuckDB type (without _shard/_row)
    tokens: str = ""  # SQL expression for a document's tokens
    tokens_kind: str = ""  # "n_tokens" or "estimate"

    def has(self, column: str) -> bool:
        return column in self.columns


def open_docs(shards: list[InputShard], con: duckdb.DuckDBPyConnection | None = None, view: str = "docs") -> Docs:
    con = con or connect()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {view}_names (file VARCHAR, {SHARD} VARCHAR, _source VARCHAR)")
    con.executemany(f"INSERT INTO {view}_names VALUES (?, ?, ?)", [(str(s.path), s.name, s.source) for s in shards])
    files = "[" + ", ".join(sql_string(str(s.path)) for s in shards) + "]"
    try:
        con.execute(f"""CREATE OR REPLACE TEMP VIEW {view} AS
            SELECT d.* EXCLUDE (filename, file_row_number), n.{SHARD}, d.file_row_number AS {ROW}
            FROM read_parquet({files}, filename = true, file_row_number = true, union_by_name = true) d
            JOIN {view}_names n ON d.filename = n.file""")
        described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    except duckdb.Error as e:
        raise StageError(f"cannot read the input shards: {first_line(e)}") from None
    columns = {name: typ for name, typ, *_ in described if name not in (SHARD, ROW)}
    tokens, kind = token_sql(set(columns))
    return Docs(con, shards, columns, tokens, kind)


def first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:400]


def check_expression(docs: Docs, expr: str, what: str, want: str | None = None) -> str:
    """Bind `expr` against the view's columns (no rows read); return its type, or raise a clear StageError."""
    if ";" in _strip_strings(expr):
        raise StageError(f"{what}: one SQL expression, without ';' (got {expr!r})")
    try:
        (typ,) = [r[1] for r in docs.con.execute(f"DESCRIBE SELECT ({expr}) AS x FROM docs").fetchall()]
    except duckdb.Error as e:
        msg = first_line(e)
        raise StageError(f"{what} {expr!r}: {msg}\n  columns: {', '.join(sorted(docs.columns))}") from None
    if want == "BOOLEAN" and typ != "BOOLEAN":
        raise StageError(f"{what} {expr!r} is {typ}, not a true/false condition")
    if want == "NUMERIC" and not re.match(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)", typ):
        raise StageError(f"{what} {expr!r} is {typ}, not a number")
    return typ


def _strip_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def split_conjuncts(predicate: str) -> list[str]:
    """Split a predicate at its top-level ANDs (not inside parentheses, strings, or BETWEEN x AND y)."""
    parts, depth, start, pending_between = [], 0, 0, 0
    token = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[()]|\b(?:AND|BETWEEN)\b", re.I)
    for m in token.finditer(predicate):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok.upper() == "BETWEEN":
            pending_between += 1
        elif depth == 0 and tok.upper() == "AND":
            if pending_between:
                pending_between -= 1
            else:
                parts.append(predicate[start:m.start()].strip())
                start = m.end()
    parts.append(predicate[start:].strip())
    return [p for p in parts if p]


# ------------------------------------------------------------------ writing results


@dataclass
class ShardCounts:
    docs_in: int = 0
    kept: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def fingerprint(command: str, options: dict) -> str:
    return hashlib.sha256(json.dumps({"command": command, **options}, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_decided(docs: Docs, out_dir: Path, keep_sql: str, reason_sql: str, detail_sql: str, fp: str,
                  repeat: tuple[str, str] | None = None) -> dict[str, ShardCounts]:
    """Write each shard's kept rows (`keep_sql` true) and rejected rows (with reason and detail).

    The SQL expressions are over the view `docs`. Rejected rows carry every input column plus
    `reject_reason` and `reject_detail`, as any stage's rejects. Files are written under a temporary
    name and renamed; each shard's manifest entry is saved last. `repeat` = (table, columns): a kept
    document is written once per row of `table` (alias p) with its (_shard, _row), adding `columns`
    (the mixture's copies).
    """
    target = out_dir.resolve()
    for shard in docs.shards:
        if shard.path.resolve().parent in (target, target / REJECTED_DIR):
            raise StageError(f"-o {out_dir} holds the input {shard.path}: write to another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir)
    drop = [c for c in (REJECT_REASON, REJECT_DETAIL) if docs.has(c)]
    exclude = ", ".join([SHARD, ROW] + [quote_ident(c) for c in drop])
    con = docs.con
    # counts first (reads only the columns the decision needs)
    counts: dict[str, ShardCounts] = {}
    for shard, reason, n in con.execute(f"""SELECT {SHARD}, CASE WHEN ({keep_sql}) THEN NULL ELSE ({reason_sql}) END, count(*)
                                            FROM docs GROUP BY ALL""").fetchall():
        c = counts.setdefault(shard, ShardCounts())
        c.docs_in += n
        if reason is None:
            c.kept += n
        else:
            c.reasons[reason] = n
    for shard in docs.shards:
        t0 = time.perf_counter()
        c = counts.setdefault(shard.name, ShardCounts())
        for path in (out_dir / f"{shard.name}.parquet", out_dir / REJECTED_DIR / f"{shard.name}.parquet"):
            path.unlink(missing_ok=True)
        written: dict[str, str] = {}
        one = _one_shard(docs, shard)  # this shard's rows only: each file is read by itself
        if c.kept and repeat is None:
            written["kept"] = _copy(con, f"SELECT docs.* EXCLUDE ({exclude}) FROM {one} WHERE ({keep_sql})",
                                    out_dir / f"{shard.name}.parquet")
        elif c.kept:
            table, columns = repeat
            written["kept"] = _copy(
                con, f"""SELECT docs.* EXCLUDE ({exclude}), {columns} FROM {one}
                         JOIN {table} p ON p.{SHARD} = docs.{SHARD} AND p.{ROW} = docs.{ROW}""",
                out_dir / f"{shard.name}.parquet")
        if c.docs_in - c.kept:
            written["rejected"] = _copy(
                con, f"""SELECT docs.* EXCLUDE ({exclude}), ({reason_sql}) AS {REJECT_REASON}, ({detail_sql}) AS {REJECT_DETAIL}
                         FROM {one} WHERE NOT ({keep_sql})""",
                out_dir / REJECTED_DIR / f"{shard.name}.parquet")
        st = shard.path.stat()
        manifest.save(shard.name, Entry(
            input=str(shard.path), input_hash=file_hash(shard.path), input_size=st.st_size,
            input_mtime_ns=st.st_mtime_ns, fingerprint=fp,
            outputs=[written["kept"]] if "kept" in written else [],
            rejected=[written["rejected"]] if "rejected" in written else [],
            stats={"docs_in": c.docs_in, "kept": c.kept, "rejected": c.docs_in - c.kept,
                   "seconds": time.perf_counter() - t0, "reasons": c.reasons, "reasons_by_language": {},
                   "source": shard.source}))
    _remove_stale(out_dir, manifest, {s.name for s in docs.shards})
    return counts


def _one_shard(docs: Docs, shard: InputShard) -> str:
    """A FROM item (aliased `docs`) with one shard's rows and the view's columns.

    Reading the file directly (not the all-shards view filtered by name) reads each file once; a
    shard lacking some of the view's columns falls back to the view.
    """
    cols = {n for n, *_ in docs.con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(shard.path))})").fetchall()}
    if set(docs.columns) <= cols:
        return (f"(SELECT d.* EXCLUDE (file_row_number), {sql_string(shard.name)} AS {SHARD}, d.file_row_number AS {ROW} "
                f"FROM read_parquet({sql_string(str(shard.path))}, file_row_number = true) d) AS docs")
    return f"(SELECT * FROM docs WHERE {SHARD} = {sql_string(shard.name)}) AS docs"


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    con.execute(f"COPY ({query}) TO {sql_string(str(tmp))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)")
    os.replace(tmp, path)
    return str(path.relative_to(path.parent.parent if path.parent.name == REJECTED_DIR else path.parent))


def _remove_stale(out_dir: Path, manifest: Manifest, keep: set[str]) -> None:
    """Outputs of inputs no longer given are removed, as the stage runner does."""
    for name in manifest.names():
        if name not in keep:
            for rel in (f"{name}.parquet", f"{REJECTED_DIR}/{name}.parquet"):
                (out_dir / rel).unlink(missing_ok=True)
            manifest.remove(name)
