"""`curate mix mix.yaml -o OUT`: a training mixture with token targets per domain, from several inputs.

A domain is a value of `by`: `input` (the names under `inputs:`) or any column (topic, cluster,
language...). Each domain's target is given in tokens or as a share of `tokens`; without targets,
domains are weighted by temperature sampling, share ∝ tokens^(1/T) (T = 1: as they come; larger T
flattens towards equal shares, as multilingual mixtures do). Within a domain documents are drawn
in key order (uniform, or `score`/`score_temperature` as `curate sample`) without replacement for
the first pass; a target larger than the domain repeats documents: every document's first copy
comes before any second copy, and no document appears more than `max_epochs` times. With
`rehydrate: true` a document may appear at most min(dup_cluster_size, max_epochs) times, so the
duplicates dedup removed come back in proportion to how many there were (FineWeb-2's rehydration).

Writes the mixture (`OUT/NAME.parquet`, one row per copy, with `mix_domain` and `mix_copy`),
documents taken zero times to `OUT/rejected/` (`mix:not_taken`), `OUT/_manifest/`, `OUT/mix.json`
(what was taken from where and how many times), and `OUT/dolma/` (a Dolma mixer config plus
attribute files with each document's copies; see docs/select.md).
"""

from __future__ import annotations

import gzip
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curate.config import format_validation_error
from curate.inputs import InputError, InputShard
from curate.query import ROW, SHARD, check_expression, connect, fingerprint, open_docs, parquet_shards, quote_ident, \
    sql_string, write_decided
from curate.sample import gumbel_sql
from curate.errors import StageError

NOT_TAKEN = "mix:not_taken"
INPUT = "input"


class MixInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Name of this input (the domain when by: input).")
    path: str = Field(description="Parquet shards or folder, relative to the mix file.")
    where: str | None = Field(None, description="Optional SQL predicate: only these documents are candidates.")


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: int | None = Field(None, ge=0)
    share: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one(self):
        if (self.tokens is None) == (self.share is None):
            raise ValueError("give exactly one of tokens or share")
        return self


class MixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[MixInput] = Field(min_length=1)
    by: str = Field(INPUT, description="Domain: `input` or a column name.")
    tokens: int | None = Field(None, gt=0, description="Total tokens of the mixture (needed for shares and temperature).")
    targets: dict[str, Target | int | float] = Field({}, description="Per domain: tokens (int >= 1) or {share: s} / {tokens: n}.")
    temperature: float = Field(1.0, gt=0, description="Without targets: share of a domain ∝ its tokens^(1/T).")
    score: str | None = Field(None, description="Within a domain, draw by this score (Gumbel top-k) instead of uniformly.")
    score_temperature: float = Field(1.0, ge=0)
    max_epochs: int = Field(1, ge=1, description="At most this many copies of any document.")
    rehydrate: bool = Field(False, description="Cap copies by dup_cluster_size too (restore removed duplicates).")
    seed: int = 0
    dolma: Literal[True, False] = Field(True, description="Also write the Dolma mixer config and attributes.")

    @model_validator(mode="after")
    def _consistent(self):
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError("input names must be unique")
        norm = {}
        for k, v in self.targets.items():
            norm[k] = v if isinstance(v, Target) else Target(tokens=int(v)) if isinstance(v, int) and v >= 1 else Target(share=float(v))
        object.__setattr__(self, "targets", norm)
        if any(t.share is not None for t in norm.values()) and self.tokens is None:
            raise ValueError("share targets need `tokens` (the mixture's total)")
        if not norm and self.tokens is None:
            raise ValueError("give `targets` or `tokens` (with temperature weighting)")
        return self


def load_mix(path: Path) -> MixConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StageError(f"{path}: no such file") from None
    except yaml.YAMLError as e:
        raise StageError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    try:
        cfg = MixConfig(**(data or {}))
    except ValidationError as e:
        raise StageError(f"{path}: {format_validation_error(e)}") from None
    except TypeError:
        raise StageError(f"{path}: expected a mapping at the top level") from None
    base = path.parent
    for i in cfg.inputs:
        if not Path(i.path).is_absolute():
            i.path = str(base / i.path)
    return cfg


@dataclass
class DomainTaken:
    domain: str
    target_tokens: int
    available_tokens: int
    available_docs: int
    tokens: int = 0
    rows: int = 0
    docs: int = 0
    copies: dict[int, int] = field(default_factory=dict)  # copies -> documents taken that many times
    short_tokens: int = 0


@dataclass
class MixResult:
    tokens_target: int
    tokens: int
    tokens_kind: str
    domains: list[DomainTaken]
    inputs: dict[str, dict]


def plan_targets(cfg: MixConfig, available: dict[str, int]) -> dict[str, int]:
    """Target tokens per domain: explicit targets, or temperature weighting of what is available."""
    if cfg.targets:
        return {d: (t.tokens if t.tokens is not None else math.floor(cfg.tokens * t.share)) for d, t in cfg.targets.items()}
    weights = {d: a ** (1 / cfg.temperature) for d, a in available.items() if a > 0}
    total = sum(weights.values())
    return {d: math.floor(cfg.tokens * w / total) for d, w in weights.items()}


def mix(cfg: MixConfig, out_dir: Path | None) -> MixResult:
    con = connect()
    shards = []
    try:
        # output shards are named <input>.<shard>: stage outputs of different runs share file names
        per_input = {i.name: [InputShard(s.path, f"{i.name}.{s.name}", s.source) for s in parquet_shards([i.path])]
                     for i in cfg.inputs}
    except InputError as e:
        raise StageError(str(e)) from None
    for shards_of in per_input.values():
        shards += shards_of
    docs = open_docs(shards, con)
    con.execute("CREATE OR REPLACE TEMP TABLE shard_input (_shard VARCHAR, _input VARCHAR)")
    con.executemany("INSERT INTO shard_input VALUES (?, ?)", [(s.name, i) for i, ss in per_input.items() for s in ss])
    if cfg.by != INPUT and not docs.has(cfg.by):
        raise StageError(f"by: no column {cfg.by!r}; columns: {', '.join(sorted(docs.columns))}")
    if cfg.score:
        check_expression(docs, cfg.score, "score", want="NUMERIC")
    if cfg.rehydrate and not docs.has("dup_cluster_size"):
        raise StageError("rehydrate needs the dup_cluster_size column (written by dedup)")
    wheres = []
    for i in cfg.inputs:
        if i.where:
            check_expression(docs, i.where, f"inputs[{i.name}].where", want="BOOLEAN")
            wheres.append(f"(s._input = {sql_string(i.name)} AND NOT coalesce(({i.where}), false))")
    excluded = " OR ".join(wheres) or "false"
    dom = "s._input" if cfg.by == INPUT else f"coalesce(CAST(d.{quote_ident(cfg.by)} AS VARCHAR), 'NULL')"
    noise = gumbel_sql(cfg.seed)
    if cfg.score is None:
        key = noise
    elif cfg.score_temperature == 0:
        key = f"({cfg.score})"
    else:
        key = f"(({cfg.score}) / {cfg.score_temperature!r} + {noise})"
    cap = f"least({cfg.max_epochs}, greatest(1, coalesce(d.dup_cluster_size, 1)))" if cfg.rehydrate else str(cfg.max_epochs)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cand AS
        SELECT d.{SHARD}, d.{ROW}, s._input, {dom} AS _dom, {docs.tokens} AS _tokens, {key} AS _key, {noise} AS _noise,
               {cap} AS _cap
        FROM docs d JOIN shard_input s USING ({SHARD})
        WHERE NOT ({excluded}) {"AND (" + cfg.score + ") IS NOT NULL" if cfg.score else ""}""")
    avail = {d: (int(t or 0), int(n)) for d, t, n in con.execute("SELECT _dom, sum(_tokens), count(*) FROM cand GROUP BY 1").fetchall()}
    targets = plan_targets(cfg, {d: t for d, (t, _) in avail.items()})
    con.execute("CREATE OR REPLACE TEMP TABLE budgets (_dom VARCHAR, _budget BIGINT)")
    con.executemany("INSERT INTO budgets VALUES (?, ?)", list(targets.items()))
    # every copy of every document, first copies first: epoch c of a domain starts after epoch c-1 ends
    con.execute(f"""CREATE OR REPLACE TEMP TABLE copies AS
        SELECT c.*, r.range AS _copy, b._budget,
               sum(c._tokens) OVER (PARTITION BY c._dom ORDER BY r.range, c._key DESC, c._noise DESC, c.{SHARD}, c.{ROW}
                                    ROWS UNBOUNDED PRECEDING) AS _cum
        FROM cand c JOIN budgets b USING (_dom) CROSS JOIN range({cfg.max_epochs}) r
        WHERE r.range < c._cap""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE picked AS SELECT {SHARD}, {ROW}, _input, _dom, _tokens, _copy FROM copies WHERE _cum <= _budget")
    _fill_gaps(con)
    domains = []
    for d in sorted(set(targets) | set(avail)):
        a_t, a_n = avail.get(d, (0, 0))
        taken = DomainTaken(d, targets.get(d, 0), a_t, a_n)
        row = con.execute("SELECT coalesce(sum(_tokens), 0), count(*), count(DISTINCT (_shard, _row)) FROM picked WHERE _dom = ?", [d]).fetchone()
        taken.tokens, taken.rows, taken.docs = int(row[0]), int(row[1]), int(row[2])
        taken.copies = {int(k): int(n) for k, n in con.execute(
            "SELECT n, count(*) FROM (SELECT count(*) AS n FROM picked WHERE _dom = ? GROUP BY _shard, _row) GROUP BY 1 ORDER BY 1", [d]).fetchall()}
        taken.short_tokens = max(0, taken.target_tokens - taken.tokens) if taken.target_tokens > a_t * cfg.max_epochs else 0
        domains.append(taken)
    inputs = {i: {"docs_taken": int(n), "rows": int(r), "tokens": int(t or 0)} for i, n, r, t in con.execute(
        "SELECT _input, count(DISTINCT (_shard, _row)), count(*), sum(_tokens) FROM picked GROUP BY 1 ORDER BY 1").fetchall()}
    result = MixResult(sum(targets.values()), sum(d.tokens for d in domains), docs.tokens_kind, domains, inputs)
    if out_dir is not None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE taken AS SELECT {SHARD}, {ROW}, any_value(_dom) AS _dom, count(*) AS _n FROM picked GROUP BY ALL")
        keep = f"EXISTS (SELECT 1 FROM taken t WHERE t.{SHARD} = docs.{SHARD} AND t.{ROW} = docs.{ROW})"
        fp = fingerprint("mix", cfg.model_dump(mode="json"))
        write_decided(docs, out_dir, keep, f"'{NOT_TAKEN}'", sql_string("not taken into the mixture"), fp,
                      repeat=("picked", "p._dom AS mix_domain, p._copy AS mix_copy"))
        (out_dir / "mix.json").write_bytes(orjson.dumps({
            "config": cfg.model_dump(mode="json"), "tokens_kind": docs.tokens_kind,
            "tokens_target": result.tokens_target, "tokens": result.tokens,
            "domains": [asdict(d) for d in domains], "inputs": inputs}, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        if cfg.dolma:
            write_dolma(con, cfg, per_input, out_dir)
    return result


def _fill_gaps(con, rounds: int = 20) -> None:
    """Add later copies that still fit in a domain's remaining budget (see sample._fill_gaps)."""
    for _ in range(rounds):
        added = con.execute(f"""INSERT INTO picked
            SELECT {SHARD}, {ROW}, _input, _dom, _tokens, _copy FROM (
                SELECT c.*, row_number() OVER (PARTITION BY c._dom ORDER BY c._cum) AS _n
                FROM copies c
                JOIN (SELECT _dom, any_value(b._budget) - coalesce(sum(p._tokens), 0) AS _left
                      FROM budgets b LEFT JOIN picked p USING (_dom) GROUP BY _dom) l USING (_dom)
                WHERE c._tokens <= l._left AND c._tokens > 0
                  AND NOT EXISTS (SELECT 1 FROM picked q WHERE q.{SHARD} = c.{SHARD} AND q.{ROW} = c.{ROW} AND q._copy = c._copy)
                  AND (c._copy = 0 OR EXISTS (SELECT 1 FROM picked q WHERE q.{SHARD} = c.{SHARD} AND q.{ROW} = c.{ROW} AND q._copy = c._copy - 1)))
            WHERE _n = 1""").fetchone()
        if not added or not added[0]:
            return


def write_dolma(con, cfg: MixConfig, per_input: dict, out_dir: Path) -> Path:
    """A Dolma mixer config selecting the same documents, one stream per input and copy.

    Dolma's mixer filters documents by attributes; the attribute `curate_mix__copies` (a span over
    the whole text whose value is the number of copies) is written per shard under
    `dolma/attributes/curate_mix/<input>/<shard>.jsonl.gz` (the input's shard names). Stream `<input>-copy<k>` keeps documents
    taken at least k times, so running every stream reproduces the repetitions. Dolma reads
    documents as JSON lines: export them next to the attributes with
    `curate ingest <input path> -o OUT/dolma/documents/<input> --format jsonl.gz` (same shard names).
    """
    root = out_dir / "dolma"
    streams = []
    for name, shards in per_input.items():
        folder = root / "attributes" / "curate_mix" / name
        folder.mkdir(parents=True, exist_ok=True)
        for s in shards:
            rows = con.execute(f"""SELECT d.id, length(d.text), coalesce(t._n, 0) FROM docs d
                LEFT JOIN taken t ON t.{SHARD} = d.{SHARD} AND t.{ROW} = d.{ROW}
                WHERE d.{SHARD} = ? ORDER BY d.{ROW}""", [s.name]).fetchall()
            stem = s.name[len(name) + 1:]  # the input's own shard name, as `curate ingest` names its output
            with gzip.GzipFile(folder / f"{stem}.jsonl.gz", "wb", mtime=0) as f:
                for doc_id, length, n in rows:
                    f.write(orjson.dumps({"id": doc_id, "attributes": {"curate_mix__copies": [[0, length or 0, n]]}}) + b"\n")
        for k in range(1, cfg.max_epochs + 1):
            streams.append({
                "name": f"{name}-copy{k}",
                "documents": [str(root / "documents" / name / "*.jsonl.gz")],
                "attributes": ["curate_mix"],
                "output": {"path": str(root / "output" / f"{name}-copy{k}"), "max_size_in_bytes": 1_000_000_000},
                "filter": {"include": [f"$.attributes[?(@.curate_mix__copies && @.curate_mix__copies[0] && @.curate_mix__copies[0][2] >= {k})]"]},
            })
    path = root / "mixer.yaml"
    path.write_text("# Dolma mixer config written by `curate mix` (see docs/select.md)\n"
                    + yaml.safe_dump({"streams": streams, "processes": 1}, sort_keys=False))
    return path
