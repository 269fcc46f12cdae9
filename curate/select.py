"""`curate select`: keep the documents a SQL predicate accepts, optionally only the global top P% of them.

The predicate is DuckDB SQL over the shards' columns (`language = 'en' AND rating_edu >= 3`). It is
bound against the columns before anything is written, so a typo or an unknown column is a one-line
error. Documents not selected are not dropped: they go to `rejected/` with every column, as with
any stage, with `reject_reason` `select:where` (the predicate is false or NULL) or `select:not_top`
(outside the top P%), and `reject_detail` naming the first conjunct that failed, or the cut.
Rejecting rather than only counting keeps the promise every stage makes (in = kept + rejected, and
`curate explain` can show why any one document is missing).

`explain` counts documents and tokens each top-level conjunct removes alone and in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curate.cutoff import Cutoff, find_cutoff
from curate.query import ROW, SHARD, Docs, ShardCounts, check_expression, fingerprint, open_docs, parquet_shards, \
    quote_ident, split_conjuncts, sql_string, write_decided
from curate.errors import StageError

WHERE, NOT_TOP = "select:where", "select:not_top"


@dataclass
class ExplainRow:
    conjunct: str
    alone_docs: int
    alone_tokens: int
    in_order_docs: int
    in_order_tokens: int
    remaining_docs: int
    remaining_tokens: int


@dataclass
class Explained:
    docs: int
    tokens: int
    tokens_kind: str
    rows: list[ExplainRow]


@dataclass
class Selection:
    counts: dict[str, ShardCounts]
    cutoff: Cutoff | None
    tokens_kind: str

    @property
    def docs_in(self) -> int:
        return sum(c.docs_in for c in self.counts.values())

    @property
    def kept(self) -> int:
        return sum(c.kept for c in self.counts.values())


def parse_percent(value: str | float) -> float:
    text = str(value).strip()
    try:
        p = float(text[:-1] if text.endswith("%") else text)
    except ValueError:
        raise StageError(f"--keep-top must be a percentage such as 10% (got {value!r})") from None
    if not 0 < p <= 100:
        raise StageError(f"--keep-top must be between 0% and 100% (got {value!r})")
    return p


def prepare(inputs: list[str], where: str | None, by: str | None = None, keep_top: str | None = None) -> tuple[Docs, list[str]]:
    """Open the inputs and check the predicate and score column; nothing is written."""
    if keep_top is not None and not by:
        raise StageError("--keep-top needs --by COLUMN (the score to rank by)")
    if by and keep_top is None:
        raise StageError("--by ranks for --keep-top; give --keep-top P% too")
    docs = open_docs(parquet_shards(inputs))
    conjuncts = split_conjuncts(where) if where and where.strip() else []
    if where and where.strip():
        check_expression(docs, where, "--where", want="BOOLEAN")
        for c in conjuncts:
            check_expression(docs, c, "--where conjunct", want="BOOLEAN")
    if by:
        check_expression(docs, by, "--by", want="NUMERIC")
    return docs, conjuncts


def explain(docs: Docs, conjuncts: list[str]) -> Explained:
    """Documents and tokens each conjunct removes alone, and in order (after the earlier ones)."""
    t = docs.tokens
    aggs = ["count(*)", f"coalesce(sum({t}), 0)"]
    for i, c in enumerate(conjuncts):
        fails = f"NOT coalesce(({c}), false)"
        earlier = " AND ".join(f"coalesce(({p}), false)" for p in conjuncts[:i]) or "true"
        aggs += [f"count(*) FILTER ({fails})", f"coalesce(sum({t}) FILTER ({fails}), 0)",
                 f"count(*) FILTER ({earlier} AND {fails})", f"coalesce(sum({t}) FILTER ({earlier} AND {fails}), 0)"]
    row = docs.con.execute(f"SELECT {', '.join(aggs)} FROM docs").fetchone()
    total_docs, total_tokens = int(row[0]), int(row[1])
    out, left_d, left_t = [], total_docs, total_tokens
    for i, c in enumerate(conjuncts):
        a_d, a_t, o_d, o_t = (int(v) for v in row[2 + 4 * i: 6 + 4 * i])
        left_d, left_t = left_d - o_d, left_t - o_t
        out.append(ExplainRow(c, a_d, a_t, o_d, o_t, left_d, left_t))
    return Explained(total_docs, total_tokens, docs.tokens_kind, out)


def select(docs: Docs, conjuncts: list[str], out_dir: Path, by: str | None = None, keep_top: float | None = None) -> Selection:
    where = " AND ".join(f"coalesce(({c}), false)" for c in conjuncts) or "true"
    cutoff = None
    keep = where
    if keep_top is not None:
        scores = f"SELECT ({by}) AS score, {SHARD} AS shard, {ROW} AS row FROM docs WHERE {where} AND ({by}) IS NOT NULL"
        cutoff = find_cutoff(docs.con, scores, [], keep_top)
        keep = f"{where} AND {cutoff.keeps_sql(by, SHARD, ROW)}"
    first_failing = " ".join(f"WHEN NOT coalesce(({c}), false) THEN CASE WHEN ({c}) IS NULL THEN "
                             f"{sql_string(f'NULL: {c}')} ELSE {sql_string(f'false: {c}')} END" for c in conjuncts)
    if keep_top is not None:
        cut = f"cut {cutoff.last[0]:.6g}" if cutoff and cutoff.last else "nothing kept"
        top_detail = (f"'{by}=' || coalesce(CAST(({by}) AS VARCHAR), 'NULL') || "
                      f"{sql_string(f' not in the top {keep_top:g}% ({cut})')}")
        reason = f"CASE WHEN {where} THEN '{NOT_TOP}' ELSE '{WHERE}' END"
        detail = f"CASE {first_failing} ELSE {top_detail} END" if conjuncts else top_detail
    else:
        reason = f"'{WHERE}'"
        detail = f"CASE {first_failing} END" if conjuncts else "NULL"
    fp = fingerprint("select", {"where": conjuncts, "by": by, "keep_top": keep_top})
    counts = write_decided(docs, out_dir, keep, reason, detail, fp)
    return Selection(counts, cutoff, docs.tokens_kind)


__all__ = ["prepare", "explain", "select", "parse_percent", "Explained", "Selection", "quote_ident"]
