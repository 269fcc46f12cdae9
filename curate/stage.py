"""The Stage contract every curate stage implements, and the registry that finds stages by name.

A stage is a datatrove `PipelineStep`: a generator over documents, so the same object runs
in curate's local runner, in a stdin/stdout pipe, and on datatrove's Ray or Slurm executors.
It yields every document it receives: kept ones as they are (plus any columns it adds),
removed ones marked with `records.reject(doc, "stage:rule")`.

A stage that needs to see all its inputs before deciding (dedup, keep-top-P%) sets
`streaming = False` and does that global pass in `prepare()`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import pyarrow as pa
from datatrove.pipeline.base import PipelineStep
from pydantic import BaseModel, ConfigDict

from curate.inputs import InputShard
from curate.shards import SHARD_SUFFIXES, read_shard


class StageConfig(BaseModel):
    """Base of every stage's options. Unknown keys are errors; field descriptions become --help."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class PrepareContext:
    """What `Stage.prepare` gets: all input shards, a work folder kept across runs, and a parallel map."""

    inputs: list[InputShard]
    work_dir: Path
    workers: int
    # map_shards(fn, items) runs the picklable top-level function fn over items in worker
    # processes and returns the results in order.
    map_shards: Callable[[Callable[[Any], Any], list[Any]], list[Any]]
    key: str = ""  # changes when any input or the stage config changes: name cached work by it


class Stage(PipelineStep):
    """Base class of curate stages. Subclasses set `name`, `Config` and implement `process`."""

    name: ClassVar[str] = "stage"
    Config: ClassVar[type[StageConfig]] = StageConfig
    # Bump when a code change alters output, so finished shards are redone.
    version: ClassVar[str] = "1"
    # Arrow types of the columns this stage adds (see records.register_columns).
    columns: ClassVar[dict[str, pa.DataType]] = {}
    # Which input files this stage reads, by ending (used to expand folders and globs).
    input_suffixes: ClassVar[tuple[str, ...]] = SHARD_SUFFIXES
    # False: the stage needs all inputs first (prepare) and cannot stream from a pipe.
    streaming: ClassVar[bool] = True
    # Examples shown in the subcommand's --help.
    examples: ClassVar[str] = ""
    type = "curate"

    def __init__(self, config: StageConfig | None = None, **options: Any):
        super().__init__()
        self.config = config if config is not None else self.Config(**options)

    # -- what subclasses implement -------------------------------------------------

    def setup(self) -> None:
        """Load models and other heavy state; called once per process before the first document.

        Cache loaded models at module level (e.g. functools.cache) so a worker that runs
        many shards loads them once.
        """

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        """Yield every document of `docs`, kept or marked rejected."""
        raise NotImplementedError

    def process_shard(self, docs: Iterable[dict], shard: InputShard) -> Iterator[dict]:
        """`process` for one known input shard; override when decisions are per shard (dedup)."""
        return self.process(docs)

    def prepare(self, ctx: PrepareContext) -> None:
        """Global pass over all inputs before any shard is processed (non-streaming stages)."""

    def finalize(self, ctx: PrepareContext) -> None:
        """After every shard is done (e.g. append survivors to a persistent index). Must be
        idempotent: a run killed during it calls it again on resume."""

    def read(self, shard: InputShard) -> Iterator[dict]:
        """Documents of one input shard; stages that read raw crawl files override this."""
        return read_shard(shard.path, shard.name, shard.source)

    def fingerprint_extra(self) -> dict:
        """What else decides this stage's output besides its config (e.g. a model's sha256)."""
        return {}

    def check(self) -> None:
        """Raise `StageError` before any work starts if something the stage needs is missing."""

    def locks(self) -> list[Path]:
        """Folders this stage writes besides its output folder (dedup's --index). The runner locks
        each one for the whole stage run, so a second run using it stops at once (curate/lock.py)."""
        return []

    def summary(self, stats: dict) -> Any:
        """An optional rich renderable summarising this stage's result (e.g. rejects per rule)."""
        return None

    # -- shared machinery ----------------------------------------------------------

    def reject(self, doc: dict, rule: str, detail: str | None = None) -> dict:
        """Mark `doc` removed by this stage: reason `<stage name>:<rule>`, so reasons never drift from the name."""
        from curate.records import reject

        return reject(doc, f"{self.name}:{rule}", detail)

    def fingerprint(self) -> str:
        """Hash of everything that decides this stage's output; a change redoes its shards."""
        payload = {
            "stage": self.name,
            "version": self.version,
            "config": self.config.model_dump(mode="json"),
            "extra": self.fingerprint_extra(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def run(self, data: Iterable[dict], rank: int = 0, world_size: int = 1) -> Iterator[dict]:
        """datatrove entry point: the stage as one step of any datatrove pipeline."""
        self.setup()
        with self.track_time():
            for doc in self.process(data):
                self.stat_update("rejected" if doc.get("reject_reason") else "kept")
                yield doc


class StageError(Exception):
    """A stage cannot run as configured (missing model, bad option); exit code 2."""


STAGES: dict[str, type[Stage]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to `curate run` and the CLI by its name."""
    from curate.records import register_columns

    STAGES[cls.name] = cls
    register_columns(cls.columns)
    return cls


def get_stage(name: str) -> type[Stage]:
    import curate.stages  # noqa: F401 - importing registers the built-in stages

    try:
        return STAGES[name]
    except KeyError:
        raise StageError(f"unknown stage {name!r}; known stages: {', '.join(sorted(STAGES))}") from None


@dataclass
class ShardStats:
    """Counts for one processed shard; summed per stage."""

    docs_in: int = 0
    kept: int = 0
    rejected: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    # reject reason -> language -> count, when documents carry a `language` column
    reasons_by_language: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, other: "ShardStats") -> None:
        self.docs_in += other.docs_in
        self.kept += other.kept
        self.rejected += other.rejected
        self.seconds += other.seconds
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v
        for k, langs in other.reasons_by_language.items():
            mine = self.reasons_by_language.setdefault(k, {})
            for lang, v in langs.items():
                mine[lang] = mine.get(lang, 0) + v
