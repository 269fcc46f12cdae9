"""The rate stage: fastText raters score every document, and a Nemotron-CC quality bucket.

Each rater (`curate train-rater`, or any fastText model with numeric labels) writes
`rating_<criterion>`: the expected value of its levels, on the labels' own scale (0-5 for edu).
`quality_bucket` follows Nemotron-CC (Su et al. 2024, "Nemotron-CC: Transforming Common Crawl into
a Refined Long-Horizon Pretraining Dataset", section 2.2): each rater's ranking over the WHOLE input
is cut into N equal-count buckets (0 = lowest, N-1 = highest), and a document's bucket is the
maximum over raters. So the stage is two-pass (`streaming = False`): prepare() rates every shard
once, in parallel, caching the ratings in the work folder as model-filter's keep-top does
(curate/cutoff.py), then DuckDB finds each rater's N-1 bucket edges over all shards; the
second pass reads the cached ratings back and adds the bucket.

It never removes a document: keeping, repeating or sampling by bucket is the select stage's policy.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import Field, field_validator

from curate.batching import batched
from curate.cutoff import DOC_ID, ROW, bucket_edges, read_cache, write_cache
from curate.errors import StageError
from curate.inputs import InputShard
from curate.langid import LABEL_PREFIX, load_fasttext
from curate.models import list_models, model_path, resolve_model
from curate.records import ID, TEXT
from curate.stage import PrepareContext, Stage, StageConfig, StageSummary
from curate.stages import register
from curate.stages.model_filter.score import ModelScorer, column_for, load_scorer
from curate.stages.model_filter.score import classifier_line as normalise

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


@dataclass(frozen=True)
class RatePlan:
    """What the first pass hands to every shard: its cached ratings and each rater's bucket edges."""

    cache_files: dict[str, Path]  # input shard name -> cached ratings
    edges: dict[str, list[float]]  # rating column -> the N-1 edges of its ranking over all inputs


@register
class RateStage(Stage):
    """Rate documents with fastText raters (rating_<criterion>) and a Nemotron-CC quality_bucket; drops nothing."""

    name = "rate"
    Config = RateConfig
    columns = {BUCKET: pa.int16()}
    streaming = False  # the buckets cut each rater's ranking over all inputs
    cli_commands = [_add_commands]
    prepared: RatePlan | None = None
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

    def output_columns(self) -> dict[str, pa.DataType]:
        return {**{f"rating_{criterion_of(name)}": pa.float64() for name in self.config.raters}, BUCKET: pa.int16()}

    def fingerprint_extra(self) -> dict:
        return {"raters": [resolve_model(name, verify=False)[0].sha256 for name in self.config.raters]}

    def setup(self) -> None:
        self._scorers = [(load_scorer(name), f"rating_{criterion_of(name)}") for name in self.config.raters]

    def rate(self, batch: list[dict]) -> dict[str, list[float]]:
        """rating_<criterion> columns for a batch of documents."""
        lines = [normalise(d[TEXT], self.config.max_chars) for d in batch]
        return {column: rating(scorer, lines) for scorer, column in self._scorers}

    # -- first pass: rate everything, then the bucket edges over all inputs -------------

    def prepare(self, ctx: PrepareContext) -> RatePlan:
        # the cache is keyed by the inputs and this stage's fingerprint: a resumed run reuses finished rating
        files = {s.name: ctx.cache_path(f"ratings-{s.name}.parquet") for s in ctx.inputs}
        ctx.map_shards(_rate_shard, [(self, s, files[s.name]) for s in ctx.inputs if not files[s.name].exists()])
        columns = [f"rating_{criterion_of(name)}" for name in self.config.raters]
        return RatePlan(files, {c: bucket_edges(files, c, self.config.buckets) for c in columns})

    # -- second pass: cached ratings back, plus the bucket --------------------------------

    def process_shard(self, docs: Iterable[dict], shard: InputShard) -> Iterator[dict]:
        if self.prepared is None:
            raise StageError("rate needs a first pass over all inputs (prepare): run it with curate, "
                             "not as a streaming datatrove step")
        cached = read_cache(self.prepared.cache_files[shard.name])
        ratings = {k: v for k, v in cached.items() if k not in (ROW, DOC_ID)}
        edges = self.prepared.edges
        row = 0
        for batch in batched(docs, BATCH):
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

    def summary(self, stats) -> StageSummary | None:
        if self.prepared is None or not self.prepared.edges:
            return None
        n = self.config.buckets
        rows = [[column, f"{e[0]:.3f}" if e else "-", f"{e[len(e) // 2]:.3f}" if e else "-", f"{e[-1]:.3f}" if e else "-"]
                for column, e in self.prepared.edges.items()]
        return StageSummary(f"rate: {n} buckets per rater (edges of the ranking over all inputs)",
                            ["rating", "bucket 1 starts", "median", f"top bucket ({n - 1}) starts"], rows)


def _rate_shard(job: tuple[RateStage, InputShard, Path]) -> int:
    """First pass for one shard (in a worker): rate its documents and cache the ratings."""
    stage, shard, path = job
    stage.setup()
    rows: dict[str, list] = {ROW: [], DOC_ID: []}
    row = 0
    for batch in batched(stage.rows(shard), BATCH):  # the rows process_shard will see
        rows[ROW] += range(row, row + len(batch))
        rows[DOC_ID] += [d[ID] for d in batch]
        for k, v in stage.rate(batch).items():
            rows.setdefault(k, []).extend(v)
        row += len(batch)
    for _, column in stage._scorers:
        rows.setdefault(column, [])
    write_cache(path, rows)
    return row
