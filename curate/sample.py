"""`curate sample`: a token budget of documents drawn without replacement.

Each document gets a key and the budget is filled in descending key order (a document that would
overshoot the budget is skipped, so the sample never exceeds it):
- uniform (no `--by`): key = Gumbel noise, i.e. a uniformly random order, the baseline every
  data-selection paper compares with;
- `--by COLUMN --temperature T`: key = score / T + Gumbel noise. Taking the top keys is sampling
  without replacement with probabilities ∝ exp(score / T) (the Gumbel top-k trick, as QuRating
  samples by quality ratings): T → 0 is the top-k by score, T → ∞ uniform. T = 0 means exactly top-k.
- `--per COLUMN`: the budget is split by the column's values (domains) so the sample keeps the
  input's token shares, or the shares of `--ref` (a YAML/JSON mapping value → share, or Parquet
  documents whose token shares are the reference), as WebOrganizer matches a reference domain
  distribution. A domain with fewer tokens than its share is taken whole (reported as short).

The noise is a hash of (seed, document id), so the same seed draws the same sample whatever the
sharding. Documents not drawn go to `rejected/` with `sample:not_sampled` (`sample:no_score` when
the score is NULL), as in every stage: nothing is lost, `curate explain` can say why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from curate.query import ROW, SHARD, Docs, check_expression, fingerprint, open_docs, parquet_shards, quote_ident, \
    sql_string, write_decided
from curate.errors import StageError

NOT_SAMPLED, NO_SCORE = "sample:not_sampled", "sample:no_score"
ALL = "(all)"


def gumbel_sql(seed: int, key: str = "id") -> str:
    """Gumbel(0, 1) noise from md5(seed:id): deterministic, independent of shard layout and threads."""
    u = f"((md5_number_upper({sql_string(f'{seed}:')} || CAST({quote_ident(key)} AS VARCHAR)) >> 11)::DOUBLE + 0.5) / 9007199254740992.0"
    return f"(-ln(-ln({u})))"


@dataclass
class DomainResult:
    value: str
    target_share: float
    budget: int
    tokens: int = 0
    docs: int = 0
    available: int = 0

    @property
    def short(self) -> bool:
        return self.available < self.budget


@dataclass
class SampleResult:
    tokens_target: int
    tokens: int
    docs: int
    docs_in: int
    tokens_kind: str
    domains: list[DomainResult] = field(default_factory=list)


def load_reference(ref: Path, column: str, docs: Docs) -> dict[str, float]:
    """Reference shares by value: a YAML/JSON mapping, or Parquet documents (their token shares)."""
    if not ref.exists():
        raise StageError(f"--ref {ref}: no such file")
    if ref.is_dir() or ref.name.endswith(".parquet"):
        other = open_docs(parquet_shards([str(ref)]), docs.con, view="ref_docs")
        if not other.has(column):
            raise StageError(f"--ref {ref}: no column {column!r}")
        rows = docs.con.execute(f"SELECT CAST({quote_ident(column)} AS VARCHAR), sum({other.tokens}) FROM ref_docs GROUP BY 1").fetchall()
        shares = {str(v): float(t) for v, t in rows}
    else:
        try:
            data = yaml.safe_load(ref.read_text()) if ref.suffix in (".yaml", ".yml") else json.loads(ref.read_text())
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise StageError(f"--ref {ref}: not a YAML/JSON mapping ({str(e).splitlines()[0]})") from None
        if not isinstance(data, dict) or not all(isinstance(v, (int, float)) and v >= 0 for v in data.values()):
            raise StageError(f"--ref {ref}: expected a mapping of {column} value -> share (non-negative numbers)")
        shares = {str(k): float(v) for k, v in data.items()}
    total = sum(shares.values())
    if total <= 0:
        raise StageError(f"--ref {ref}: the shares sum to 0")
    return {k: v / total for k, v in shares.items()}


def sample(inputs: list[str], out_dir: Path | None, tokens: int, by: str | None = None, temperature: float = 1.0,
           per: str | None = None, ref: Path | None = None, seed: int = 0) -> SampleResult:
    if tokens <= 0:
        raise StageError("--tokens must be positive")
    if temperature < 0:
        raise StageError("--temperature must be >= 0 (0 = top-k by score, large = uniform)")
    if ref is not None and per is None:
        raise StageError("--ref gives the shares of a --per COLUMN; give --per too")
    docs = open_docs(parquet_shards(inputs))
    if not docs.has("id"):
        raise StageError("the inputs have no id column (the sample is keyed by document id)")
    if by:
        check_expression(docs, by, "--by", want="NUMERIC")
    if per:
        check_expression(docs, quote_ident(per) if per in docs.columns else per, "--per")
    con = docs.con
    noise = gumbel_sql(seed)
    if by is None:
        key = noise
    elif temperature == 0 or math.isinf(temperature):
        key = f"({by})" if temperature == 0 else noise
    else:
        key = f"(({by}) / {float(temperature)!r} + {noise})"
    # ties in the key (T = 0) are broken by the noise, then the row identity
    order = f"_key DESC, _noise DESC, {SHARD}, {ROW}"
    dom = f"CAST({quote_ident(per) if per in docs.columns else per} AS VARCHAR)" if per else sql_string(ALL)
    eligible = f"({by}) IS NOT NULL" if by else "true"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE keyed AS
        SELECT {SHARD}, {ROW}, {docs.tokens} AS _tokens, coalesce({dom}, 'NULL') AS _dom, {key} AS _key, {noise} AS _noise
        FROM docs WHERE {eligible}""")
    available = dict(con.execute("SELECT _dom, sum(_tokens) FROM keyed GROUP BY 1").fetchall())
    if per is None:
        shares = {ALL: 1.0}
    elif ref is not None:
        shares = load_reference(ref, per, docs)
    else:
        total = sum(available.values()) or 1
        shares = {k: v / total for k, v in available.items()}
    domains = [DomainResult(v, s, math.floor(tokens * s), available=int(available.get(v, 0) or 0)) for v, s in sorted(shares.items())]
    con.execute("CREATE OR REPLACE TEMP TABLE budgets (_dom VARCHAR, _budget BIGINT)")
    con.executemany("INSERT INTO budgets VALUES (?, ?)", [(d.value, d.budget) for d in domains])
    # Fill each domain's budget in key order; a document that would overshoot is skipped, later smaller ones may fit.
    # (Cumulative sum of the prefix first; the skip-and-continue refinement is done on the small overshoot tail.)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE ranked AS
        SELECT k.*, b._budget, sum(_tokens) OVER (PARTITION BY k._dom ORDER BY {order}
                                                  ROWS UNBOUNDED PRECEDING) AS _cum
        FROM keyed k JOIN budgets b USING (_dom)""")
    con.execute("CREATE OR REPLACE TEMP TABLE picked AS SELECT _shard, _row, _dom, _tokens FROM ranked WHERE _cum <= _budget")
    _fill_gaps(con, order)
    got = {v: (int(n), int(t)) for v, n, t in con.execute("SELECT _dom, count(*), sum(_tokens) FROM picked GROUP BY 1").fetchall()}
    for d in domains:
        d.docs, d.tokens = got.get(d.value, (0, 0))
    result = SampleResult(tokens, sum(d.tokens for d in domains), sum(d.docs for d in domains),
                          con.execute("SELECT count(*) FROM docs").fetchone()[0], docs.tokens_kind, domains)
    if out_dir is not None:
        keep = f"EXISTS (SELECT 1 FROM picked p WHERE p.{SHARD} = docs.{SHARD} AND p.{ROW} = docs.{ROW})"
        reason = f"CASE WHEN {eligible} THEN '{NOT_SAMPLED}' ELSE '{NO_SCORE}' END"
        how = "uniform" if by is None else f"by {by} at temperature {temperature:g}"
        detail = sql_string(f"not drawn: {tokens:,} tokens {how}, seed {seed}" + (f", per {per}" if per else ""))
        fp = fingerprint("sample", {"tokens": tokens, "by": by, "t": temperature, "per": per, "ref": str(ref), "seed": seed})
        write_decided(docs, out_dir, keep, reason, detail, fp)
    return result


def _fill_gaps(con, order: str, rounds: int = 50) -> None:
    """After the prefix that fits, add later documents that still fit in each domain's remaining budget.

    Without this a single long document at the boundary would end a domain's sample early. Each
    round adds, per domain, the next document (in key order) not larger than what is left; a
    few rounds suffice because what is left shrinks with every addition.
    """
    for _ in range(rounds):
        added = con.execute(f"""INSERT INTO picked
            SELECT _shard, _row, _dom, _tokens FROM (
                SELECT r.*, row_number() OVER (PARTITION BY r._dom ORDER BY {order}) AS _n
                FROM ranked r
                JOIN (SELECT _dom, any_value(b._budget) - coalesce(sum(p._tokens), 0) AS _left
                      FROM budgets b LEFT JOIN picked p USING (_dom) GROUP BY _dom) l USING (_dom)
                WHERE r._tokens <= l._left AND r._tokens > 0
                  AND NOT EXISTS (SELECT 1 FROM picked q WHERE q._shard = r._shard AND q._row = r._row))
            WHERE _n = 1""").fetchone()
        if not added or not added[0]:
            return
