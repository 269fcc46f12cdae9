"""The export's first pass: global statistics over all inputs, in DuckDB.

A quality band is given in percentiles of the whole input (REWIRE rewrote the middle of the
distribution), so the cut values must be known before any document is chosen; the budget sample
and the per-domain shares also need the number of eligible documents. DuckDB reads only the
columns it needs from Parquet and JSONL (plain, .gz, .zst), so this pass is cheap next to the
second one, which reads every document in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from curate.rewrite.policy import Policy
from curate.shards import PARQUET_SUFFIXES

URL_HOST = "url_host"
# The host of a URL, the same in SQL and in Python (export.url_host).
HOST_REGEX = r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#@]*@)?([^/:?#]+)"


class ScanError(Exception):
    """The inputs cannot answer what the policy asks (e.g. no such score column)."""


@dataclass
class InputStats:
    band: tuple[float, float] | None = None  # score values at the band's low and high percentiles
    scored: int = 0  # documents with a score (the band's population)
    eligible: int = 0  # documents inside the band (and with a bucket, when routed)
    eligible_chars: int = 0
    domain_counts: dict[str, int] = field(default_factory=dict)  # eligible documents per domain (keep_mix)


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _relation(paths: list[Path]) -> str:
    parquet = [p for p in paths if p.name.endswith(PARQUET_SUFFIXES)]
    jsonl = [p for p in paths if not p.name.endswith(PARQUET_SUFFIXES)]
    parts = []
    if parquet:
        parts.append(f"SELECT * FROM read_parquet({_sql_list(parquet)}, union_by_name = true)")
    if jsonl:
        parts.append(f"SELECT * FROM read_json({_sql_list(jsonl)}, format = 'newline_delimited', union_by_name = true, "
                     f"ignore_errors = true, maximum_object_size = 268435456)")
    return " UNION ALL BY NAME ".join(parts)


def _quote(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def needs_scan(policy: Policy) -> bool:
    b = policy.budget
    return bool(policy.band or b.max_docs or b.max_tokens or (policy.domains and policy.domains.keep_mix))


def scan_inputs(paths: list[Path], policy: Policy, memory_limit: str = "1GB") -> InputStats:
    """Band cut values, eligible counts and (for keep_mix) eligible documents per domain."""
    paths = [p for p in paths if p.stat().st_size > 0]
    if not paths:
        return InputStats()
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET threads = 2")
    rel = _relation(paths)
    try:
        columns = {row[0] for row in con.execute(f"DESCRIBE {rel}").fetchall()}
    except duckdb.Error as e:
        raise ScanError(f"could not read the inputs for the global pass: {str(e).splitlines()[0]}") from None
    stats = InputStats()
    where = ["text IS NOT NULL"] if "text" in columns else ["false"]
    if policy.band:
        col = policy.band.column
        if col not in columns:
            raise ScanError(f"band column {col!r} is in none of the inputs (columns: {', '.join(sorted(columns))})")
        score = f"TRY_CAST({_quote(col)} AS DOUBLE)"
        lo, hi = policy.band.low / 100, policy.band.high / 100
        n, cuts = con.execute(f"SELECT count({score}), quantile_cont({score}, [{lo}, {hi}]) FROM ({rel})").fetchone()
        stats.scored = n
        if not n:
            raise ScanError(f"band column {col!r} holds no numeric value in any input")
        stats.band = (float(cuts[0]), float(cuts[1]))
        where.append(f"{score} >= {stats.band[0]!r}")
        where.append(f"{score} {'<=' if policy.band.high == 100 else '<'} {stats.band[1]!r}")
    if policy.route:
        col = policy.route.column
        if col not in columns:
            raise ScanError(f"route column {col!r} is in none of the inputs (columns: {', '.join(sorted(columns))})")
        where.append(f"TRY_CAST({_quote(col)} AS DOUBLE) IS NOT NULL")
    cond = " AND ".join(where)
    stats.eligible, chars = con.execute(f"SELECT count(*), sum(length(text)) FROM ({rel}) WHERE {cond}").fetchone()
    stats.eligible_chars = int(chars or 0)
    if policy.domains and policy.domains.keep_mix:
        dcol = policy.domains.column
        if dcol == URL_HOST:
            if "url" not in columns:
                raise ScanError("domains.column url_host needs a url column, which no input has")
            expr = f"lower(nullif(regexp_extract(url, '{HOST_REGEX}', 2), ''))"
        elif dcol in columns:
            expr = f"CAST({_quote(dcol)} AS VARCHAR)"
        else:
            raise ScanError(f"domain column {dcol!r} is in none of the inputs (columns: {', '.join(sorted(columns))})")
        rows = con.execute(f"SELECT {expr} AS d, count(*) FROM ({rel}) WHERE {cond} GROUP BY d").fetchall()
        stats.domain_counts = {("" if d is None else d): n for d, n in rows}
    con.close()
    return stats
