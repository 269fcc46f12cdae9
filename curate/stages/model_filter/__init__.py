"""The model-filter stage: fastText classifier scores (DCLM / FineWeb-Edu style) and a language filter.

Every document gets one column per model (see score.py). The first model in `models` decides:
with `threshold`, documents scoring below it are removed; with `keep_top`, only the top P% by
score over the whole input are kept (keep_top.py). The other models are scored for later
selection ("score now, decide later", as Dolma's taggers). `languages`/`min_language_score`
keep documents by the `language`/`language_score` columns extract wrote, computing them with
lid.176 when absent. With `mode: tag` nothing is removed: the would-be reject reason goes to
the `model_filter_reason` column instead (the runner's tag mode, as for every stage).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.batching import batched
from curate.cutoff import DOC_ID, ELIGIBLE, ROW, Cutoff, cached_cutoff, read_cache, write_cache
from curate.inputs import InputShard
from curate.langid import predict_languages
from curate.models import resolve_model
from curate.records import ID, LANGUAGE, LANGUAGE_SCORE, TEXT
from curate.errors import StageError
from curate.stage import PrepareContext, Stage, StageConfig, StageSummary
from curate.stages import register
from curate.stages.model_filter.score import classifier_line, column_for, load_scorer

BATCH = 2048  # documents per fastText call: large enough to amortise the call, small in memory


class ModelFilterConfig(StageConfig):
    models: list[str] = Field([], json_schema_extra={"cli_aliases": ["--model"]}, description=(
        "Classifiers to score with: registered names (`curate models`) or .bin/.ftz paths. "
        "The first decides (threshold / keep_top); all are written as columns named after the model."))
    threshold: float | None = Field(None, description="Keep documents whose first-model score is at least this.")
    keep_top: str | float | None = Field(None, description=(
        "Keep the top P% of documents by first-model score over the whole input (e.g. 10%), as DCLM did."))
    languages: list[str] = Field([], description="Keep only these languages (lid.176 codes, e.g. en,de).")
    min_language_score: float = Field(0.0, ge=0.0, le=1.0, description=(
        "Keep only documents whose language_score is at least this (FineWeb: 0.65 for English)."))
    max_chars: int | None = Field(10_000, ge=1, description=(
        "Score only the first N characters of each document (bounded cost on huge pages)."))
    positive_label: str | None = Field(None, description=(
        "For a binary model trained elsewhere: the label whose probability is the score (default: "
        "the one recorded at training, else 'positive' or 'hq')."))

    @field_validator("keep_top", mode="before")
    @classmethod
    def _percent(cls, v):
        if v is None:
            return None
        text = str(v).strip()
        try:
            p = float(text[:-1] if text.endswith("%") else text)
        except ValueError:
            raise ValueError(f"keep_top must be a percentage such as 10% (got {v!r})") from None
        if not 0 < p <= 100:
            raise ValueError(f"keep_top must be between 0% and 100% (got {v!r})")
        return p

    @model_validator(mode="after")
    def _consistent(self):
        if self.threshold is not None and self.keep_top is not None:
            raise ValueError("give threshold or keep_top, not both")
        if (self.threshold is not None or self.keep_top is not None) and not self.models:
            raise ValueError("threshold and keep_top need a model (models: NAME)")
        if not self.models and not self.languages and not self.min_language_score:
            raise ValueError("nothing to do: give models and/or languages / min_language_score")
        return self


def _add_train_command(app) -> None:
    from curate.stages.model_filter.cli import add_train_command

    add_train_command(app)


@dataclass(frozen=True)
class KeepTopPlan:
    """What the first pass hands to every shard: its cached scores and the global cut."""

    cache_files: dict[str, Path]  # input shard name -> cached columns
    cutoff: Cutoff


@register
class ModelFilterStage(Stage):
    """Score documents with fastText classifiers; keep by threshold, global top P%, or language."""

    name = "model-filter"
    Config = ModelFilterConfig
    reads = {LANGUAGE: str, LANGUAGE_SCORE: float}
    cli_commands = [_add_train_command]
    prepared: KeepTopPlan | None = None
    contract_options = {"languages": ["en"]}
    examples = (
        "curate train-classifier --positive good.jsonl --negative bad.jsonl -o models/quality.bin --name quality\n"
        "curate model-filter runs/filtered -o runs/scored --models quality --keep-top 10%\n"
        "curate model-filter in/ -o out/ --models quality --threshold 0.5 --mode tag\n"
        "curate model-filter in/ -o out/ --languages en,de --min-language-score 0.65"
    )

    @property
    def streaming(self) -> bool:  # type: ignore[override]
        return self.config.keep_top is None  # the global top P% needs every input first

    def check(self) -> None:
        cfg = self.config
        for i, name in enumerate(cfg.models):
            scorer = load_scorer(name, cfg.positive_label if i == 0 else None, verify=True)
            if i == 0 and (cfg.threshold is not None or cfg.keep_top is not None) and not scorer.has_numeric_score:
                raise StageError(f"model {name!r} has labels {list(scorer.labels)}: threshold/keep_top need a "
                                 "numeric score; name the positive label (positive_label) or use numeric labels")
        if self._filters_language:
            resolve_model("lid176")

    @property
    def _filters_language(self) -> bool:
        return bool(self.config.languages or self.config.min_language_score)

    def output_columns(self) -> dict[str, pa.DataType]:
        cols = {column_for(resolve_model(name, verify=False)[0].name): pa.float64() for name in self.config.models}
        if self._filters_language:
            cols.update({LANGUAGE: pa.string(), LANGUAGE_SCORE: pa.float32()})
        return cols

    def fingerprint_extra(self) -> dict:
        return {"models": [resolve_model(name, verify=False)[0].sha256 for name in self.config.models]}

    def setup(self) -> None:
        cfg = self.config
        self._scorers = [load_scorer(name, cfg.positive_label if i == 0 else None) for i, name in enumerate(cfg.models)]

    # -- scoring ---------------------------------------------------------------------

    def _annotate(self, batch: list[dict]) -> dict[str, list]:
        """The columns this stage adds, for a batch of documents (language only when filtering on it)."""
        cfg = self.config
        cols: dict[str, list] = {}
        if self._filters_language:
            langs = [d.get(LANGUAGE) for d in batch]
            scores = [d.get(LANGUAGE_SCORE) for d in batch]
            missing = [i for i, (lang, s) in enumerate(zip(langs, scores)) if lang is None or s is None]
            if missing:
                for i, (lang, s) in zip(missing, predict_languages([batch[i][TEXT] for i in missing], max_chars=cfg.max_chars)):
                    langs[i], scores[i] = lang, s
            cols[LANGUAGE], cols[LANGUAGE_SCORE] = langs, scores
        if self._scorers:
            lines = [classifier_line(d[TEXT], cfg.max_chars) for d in batch]
            for scorer in self._scorers:
                cols.update(scorer.score(lines))
        return cols

    def _language_reason(self, lang: str, score: float) -> tuple[str, str] | None:
        cfg = self.config
        if cfg.languages and lang not in cfg.languages:
            return "language", f"{lang} ({score:.2f}) not in {','.join(cfg.languages)}"
        if score < cfg.min_language_score:
            return "language_score", f"{lang} {score:.3f} < {cfg.min_language_score}"
        return None

    def _decide(self, doc: dict, shard: str, row: int) -> dict:
        cfg = self.config
        why = None
        if self._filters_language:
            why = self._language_reason(doc[LANGUAGE], doc[LANGUAGE_SCORE])
        if why is None and self._scorers:
            column = self._scorers[0].column
            score = doc[column]
            if cfg.threshold is not None and score < cfg.threshold:
                why = "low_score", f"{column}={score:.4f} < {cfg.threshold}"
            elif cfg.keep_top is not None and not self.prepared.cutoff.keeps(score, shard, row):
                last = self.prepared.cutoff.last
                why = "not_top", (f"{column}={score:.4f} not in the top {cfg.keep_top:g}% "
                                               f"(cut {last[0]:.4f})" if last else f"top {cfg.keep_top:g}% is empty")
        return self.reject(doc, *why) if why else doc

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        return self.process_shard(docs, InputShard(None, "stdin", "stdin"))

    def process_shard(self, docs: Iterable[dict], shard: InputShard) -> Iterator[dict]:
        cached = None
        if self.config.keep_top is not None:
            if self.prepared is None:
                raise StageError("keep_top needs a first pass over all inputs (prepare): run it with curate, "
                                 "not as a streaming datatrove step")
            cached = read_cache(self.prepared.cache_files[shard.name])
        row = 0
        for batch in batched(docs, BATCH):
            if cached is None:
                cols = self._annotate(batch)
            else:
                if cached[DOC_ID][row:row + len(batch)] != [d[ID] for d in batch]:
                    raise StageError(f"{shard.label}: changed since it was scored; run again with --fresh")
                cols = {k: v[row:row + len(batch)] for k, v in cached.items() if k not in (ROW, DOC_ID, ELIGIBLE)}
            for i, doc in enumerate(batch):
                for column, values in cols.items():
                    doc[column] = values[i]
                yield self._decide(doc, shard.name, row + i)
            row += len(batch)

    # -- keep the top P% over all inputs -----------------------------------------------

    def prepare(self, ctx: PrepareContext) -> KeepTopPlan:
        # the cache is keyed by the inputs and this stage's fingerprint: a resumed run reuses finished scoring
        files = {shard.name: ctx.cache_path(f"scores-{shard.name}.parquet") for shard in ctx.inputs}
        todo = [(self, shard, files[shard.name]) for shard in ctx.inputs if not files[shard.name].exists()]
        ctx.map_shards(_score_shard, todo)
        return KeepTopPlan(files, cached_cutoff(files, self._score_column(), self.config.keep_top))

    def _score_column(self) -> str:
        return column_for(resolve_model(self.config.models[0], verify=False)[0].name)

    def _eligible(self, cols: dict[str, list], n: int) -> list[bool]:
        if LANGUAGE not in cols:
            return [True] * n
        return [self._language_reason(lang, s) is None for lang, s in zip(cols[LANGUAGE], cols[LANGUAGE_SCORE])]

    def summary(self, stats) -> StageSummary | None:
        if self.prepared is None:
            return None
        cutoff = self.prepared.cutoff
        return StageSummary("model-filter: keep top", ["eligible docs", f"top {self.config.keep_top:g}%", "cut score"],
                            [[cutoff.eligible, cutoff.keep, f"{cutoff.last[0]:.4f}" if cutoff.last else "-"]])


def _score_shard(job: tuple[ModelFilterStage, InputShard, Path]) -> int:
    """First pass for one shard (in a worker): compute the added columns, cache them; returns the doc count."""
    stage, shard, path = job
    stage.setup()
    rows: dict[str, list] = {ROW: [], DOC_ID: [], ELIGIBLE: []}
    row = 0
    for batch in batched(stage.rows(shard), BATCH):
        cols = stage._annotate(batch)
        rows[ROW] += range(row, row + len(batch))
        rows[DOC_ID] += [d[ID] for d in batch]
        rows[ELIGIBLE] += stage._eligible(cols, len(batch))
        for k, v in cols.items():
            rows.setdefault(k, []).extend(v)
        row += len(batch)
    write_cache(path, rows)
    return row
