"""The rate stage: fastText raters score every document, and a Nemotron-CC quality bucket.

Each rater (`curate train-rater`, or any fastText model with numeric labels) writes
`rating_<criterion>`: the expected value of its levels, on the labels' own scale (0-5 for edu).
`quality_bucket` follows Nemotron-CC (Su et al. 2024, "Nemotron-CC: Transforming Common Crawl into
a Refined Long-Horizon Pretraining Dataset", section 2.2): each rater's ranking over the WHOLE input
is cut into N equal-count buckets (0 = lowest, N-1 = highest), and a document's bucket is the
maximum over raters. So the stage is two-pass (`streaming = False`): prepare() rates every shard
once, in parallel, caching the ratings in the work folder as model-filter's keep-top does
(model_filter/keep_top.py), then DuckDB finds each rater's N-1 bucket edges over all shards; the
second pass reads the cached ratings back and adds the bucket.

It never removes a document: keeping, repeating or sampling by bucket is the select stage's policy.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import pyarrow as pa
from pydantic import Field, field_validator
from rich.table import Table

from curate.inputs import InputShard
from curate.manifest import file_hash
from curate.models import list_models, model_path, resolve_model
from curate.records import ID, TEXT, is_rejected
from curate.stage import PrepareContext, Stage, StageConfig, StageError, register
from curate.stages.model_filter.keep_top import DOC_ID, ROW, bucket_edges, read_cache, write_cache
from curate.langid import LABEL_PREFIX, load_fasttext
from curate.stages.model_filter.score import ModelScorer, column_for, load_scorer, normalise

BUCKET = "quality_bucket"
BATCH = 2048


class RateConfig(StageConfig):
    raters: list[str] = Field(..., json_schema_extra={"cli_aliases": ["--rater"]}, description=(
        "Raters: registered names (`curate models`) or .bin/.ftz paths of fastText models with numeric labels."))
    buckets: int = Field(20, ge=1, le=1000, description=(
        "Equal-count buckets per rater's ranking over the whole input (Nemotron-CC: 20 of 5%)."))
    max_chars: int | None = Field(10_000, ge=1, description="Rate only the first N characters of each document.")

    @field_validator("raters")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("give at least one rater")
        return v


def rating(scorer: ModelScorer, lines: list[str]) -> list[float]:
    """The score column model-filter's ModelScorer.score computes (expected level, or the positive
    label's probability), without the per-label columns a rater does not keep: about a fifth faster."""
    if scorer.positive is not None or not scorer.numeric:
        return scorer.score(lines)[scorer.column]
    values = {LABEL_PREFIX + label: float(label) for label in scorer.labels}
    labels, probs = load_fasttext(scorer.path).predict(lines, k=-1)
    return [sum(values[lab] * float(p) for lab, p in zip(doc_labels, doc_probs))
            for doc_labels, doc_probs in zip(labels, probs)]


def criterion_of(name_or_path: str) -> str:
    """The criterion a rater rates: recorded at training (also when the rater is named by its
    path: the registry entry of that file), else its name."""
    info, path = resolve_model(name_or_path, verify=False)
    if not info.meta:
        same_file = [m for m in list_models() if model_path(m).resolve() == path.resolve()]
        info = same_file[0] if same_file else info
    return column_for(str(info.meta.get("criterion") or info.name))


def _add_commands(app) -> None:
    from curate.annotate.cli import add_annotate_commands
    from curate.stages.rate.cli import add_train_rater_command

    add_annotate_commands(app)
    add_train_rater_command(app)


@register
class RateStage(Stage):
    """Rate documents with fastText raters (rating_<criterion>) and a Nemotron-CC quality_bucket; drops nothing."""

    name = "rate"
    Config = RateConfig
    columns = {BUCKET: pa.int16()}
    streaming = False  # the buckets cut each rater's ranking over all inputs
    cli_commands = [_add_commands]
    examples = (
        "curate annotate export docs/ -o ann/edu --task edu-json --sample 2000 --by source\n"
        "curate train-rater labels/edu.parquet --criterion edu -o models/edu-rater.bin\n"
        "curate rate docs/ -o rated/ --raters edu-rater --buckets 20"
    )

    def check(self) -> None:
        seen = {}
        for name in self.config.raters:
            scorer = load_scorer(name, verify=True)
            if not scorer.has_numeric_score:
                raise StageError(f"rater {name!r} has labels {list(scorer.labels)}: a rater needs numeric levels "
                                 "(train it with `curate train-rater`) or a known positive label")
            crit = criterion_of(name)
            if crit in seen:
                raise StageError(f"raters {seen[crit]!r} and {name!r} both rate {crit!r}: give one rater per criterion")
            seen[crit] = name

    def fingerprint_extra(self) -> dict:
        return {"raters": [resolve_model(name, verify=False)[0].sha256 for name in self.config.raters]}

    def setup(self) -> None:
        self._scorers = [(load_scorer(name), f"rating_{criterion_of(name)}") for name in self.config.raters]

    def rate(self, batch: list[dict]) -> dict[str, list[float]]:
        """rating_<criterion> columns for a batch of documents."""
        lines = [normalise(d[TEXT], self.config.max_chars) for d in batch]
        return {column: rating(scorer, lines) for scorer, column in self._scorers}

    # -- first pass: rate everything, then the bucket edges over all inputs -------------

    def prepare(self, ctx: PrepareContext) -> None:
        work = ctx.work_dir / "ratings"
        files = {s.name: work / f"{s.name}-{file_hash(s.path)[:16]}-{self.fingerprint()}.parquet" for s in ctx.inputs}
        for stale in set(work.glob("*.parquet")) - set(files.values()) if work.exists() else ():
            stale.unlink()
        ctx.map_shards(_rate_shard, [(self, s, files[s.name]) for s in ctx.inputs if not files[s.name].exists()])
        self._cache_files = files
        columns = [f"rating_{criterion_of(name)}" for name in self.config.raters]
        self._edges = {c: bucket_edges(files, c, self.config.buckets) for c in columns}

    # -- second pass: cached ratings back, plus the bucket --------------------------------

    def process_shard(self, docs: Iterable[dict], shard: InputShard) -> Iterator[dict]:
        if not hasattr(self, "_cache_files"):
            raise StageError("rate needs a first pass over all inputs (prepare): run it with curate, "
                             "not as a streaming datatrove step")
        cached = read_cache(self._cache_files[shard.name])
        ratings = {k: v for k, v in cached.items() if k not in (ROW, DOC_ID)}
        edges = self._edges
        it = iter(docs)
        row = 0
        while batch := list(islice(it, BATCH)):
            if cached[DOC_ID][row:row + len(batch)] != [d[ID] for d in batch]:
                raise StageError(f"{shard.label}: changed since it was rated; run again with --fresh")
            for i, doc in enumerate(batch):
                bucket = 0
                for column, values in ratings.items():
                    value = values[row + i]
                    doc[column] = value
                    bucket = max(bucket, bisect_right(edges[column], value))
                doc[BUCKET] = bucket
                yield doc
            row += len(batch)

    def summary(self, stats: dict):
        edges = getattr(self, "_edges", None)
        if not edges:
            return None
        n = self.config.buckets
        table = Table(title=f"rate: {n} buckets per rater (edges of the ranking over all inputs)", title_justify="left")
        for col in ("rating", "bucket 1 starts", "median", f"top bucket ({n - 1}) starts"):
            table.add_column(col, justify="left" if col == "rating" else "right")
        for column, e in edges.items():
            cells = [f"{e[0]:.3f}" if e else "-", f"{e[len(e) // 2]:.3f}" if e else "-", f"{e[-1]:.3f}" if e else "-"]
            table.add_row(column, *cells)
        return table


def _rate_shard(job: tuple[RateStage, InputShard, Path]) -> int:
    """First pass for one shard (in a worker): rate its documents and cache the ratings."""
    stage, shard, path = job
    stage.setup()
    rows: dict[str, list] = {ROW: [], DOC_ID: []}
    docs = (d for d in stage.read(shard) if not is_rejected(d))  # the runner passes only these on
    row = 0
    while batch := list(islice(docs, BATCH)):
        rows[ROW] += range(row, row + len(batch))
        rows[DOC_ID] += [d[ID] for d in batch]
        for k, v in stage.rate(batch).items():
            rows.setdefault(k, []).extend(v)
        row += len(batch)
    for _, column in stage._scorers:
        rows.setdefault(column, [])
    write_cache(path, rows)
    return row
