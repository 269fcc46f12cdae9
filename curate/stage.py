"""The Stage contract every curate stage implements.

A stage is a generator over documents (flat dicts, see records.py): it yields every document it
receives, kept ones as they are (plus any columns it adds), removed ones marked with
`self.reject(doc, rule, detail)`. The runner (runner.py) drives it over shards or a stream,
routes what it yields to the kept and rejected outputs, and records what is done for resume.

Two-pass stages (dedup, keep-top-P%, global quantiles) set `streaming = False` and do their
global pass in `prepare(ctx)`: `ctx.docs(shard)` gives the rows `process_shard` will see, in the
same order, and `ctx.cache_path(name)` a place for work keyed by the stage and its inputs.
What `prepare` returns is the stage's `prepared` value, set in every process before any shard
is processed.

A stage is also a datatrove `PipelineStep`: `run()` takes and yields datatrove `Document`s, so
a streaming stage runs inside any datatrove pipeline (and so on its Ray and Slurm executors).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from datatrove.pipeline.base import PipelineStep
from pydantic import BaseModel, ConfigDict, Field

from curate.errors import StageError
from curate.inputs import InputShard
from curate.records import (CORE_FIELDS, ID, REJECT_DETAIL, REJECT_REASON, SHARED_COLUMNS, SOURCE, TEXT, URL,
                            field_problem, reject)
from curate.shards import SHARD_SUFFIXES, read_shard

if TYPE_CHECKING:
    import typer

__all__ = ["PrepareContext", "ShardStats", "Stage", "StageConfig", "StageError", "StageSummary"]


class StageConfig(BaseModel):
    """Base of every stage's options. Unknown keys are errors; field descriptions become --help."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["drop", "tag"] = Field("drop", description=(
        "drop: removed documents go to rejected/; tag: keep every document, writing the would-be "
        "reason to the <stage>_reason column (decide later, e.g. with a query)."))


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
    # tag mode: would-be reject reason -> count (those documents are counted as kept)
    tagged: dict[str, int] = field(default_factory=dict)

    def add(self, other: "ShardStats") -> None:
        self.docs_in += other.docs_in
        self.kept += other.kept
        self.rejected += other.rejected
        self.seconds += other.seconds
        for mine, theirs in ((self.reasons, other.reasons), (self.tagged, other.tagged)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        for k, langs in other.reasons_by_language.items():
            by_lang = self.reasons_by_language.setdefault(k, {})
            for lang, v in langs.items():
                by_lang[lang] = by_lang.get(lang, 0) + v

    def as_dict(self) -> dict:
        return {"docs_in": self.docs_in, "kept": self.kept, "rejected": self.rejected, "seconds": self.seconds,
                "reasons": self.reasons, "reasons_by_language": self.reasons_by_language, "tagged": self.tagged}

    @classmethod
    def from_dict(cls, d: dict) -> "ShardStats":
        return cls(d["docs_in"], d["kept"], d["rejected"], d["seconds"], d.get("reasons", {}),
                   d.get("reasons_by_language", {}), d.get("tagged", {}))


@dataclass
class StageSummary:
    """A stage's own result table, as data; curate/report.py renders it."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class PrepareContext:
    """What `Stage.prepare` gets: all input shards, the rows of each, a cache, and a parallel map."""

    stage: "Stage"
    inputs: list[InputShard]
    work_dir: Path  # kept across runs of the same output folder
    workers: int
    # map_shards(fn, items) runs the picklable top-level function fn over items in worker
    # processes and returns the results in order.
    map_shards: Callable[[Callable[[Any], Any], list[Any]], list[Any]]
    key: str = ""  # changes when any input or the stage's fingerprint changes

    def docs(self, shard: InputShard) -> Iterator[dict]:
        """The documents of `shard` exactly as `process_shard` will see them (same rows, same order)."""
        return self.stage.rows(shard)

    def cache_path(self, name: str) -> Path:
        """A path for cached work, valid while the stage's fingerprint and inputs are unchanged.

        The runner removes caches of earlier keys, so a changed input or config never reuses them.
        """
        folder = self.work_dir / f"cache-{self.key}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name


class Stage(PipelineStep):
    """Base class of curate stages. Subclasses set `name`, `Config` and implement `process`."""

    # -- what a stage declares --------------------------------------------------------

    name: ClassVar[str] = "stage"
    Config: ClassVar[type[StageConfig]] = StageConfig
    # Bump when a code change alters output, so finished shards are redone.
    version: ClassVar[str] = "1"
    # Arrow types of the columns this stage adds; name them `<stage>_*` or list them here.
    columns: ClassVar[dict[str, pa.DataType]] = {}
    # Columns this stage reads besides the core fields, with the Python types it expects; a
    # document whose value has another type is rejected as read:bad_field before the stage sees it.
    reads: ClassVar[dict[str, type | tuple[type, ...]]] = {}
    # Named outputs beyond kept and rejected (e.g. request files): name -> format ("jsonl", or
    # None for the run's shard format). Written with `self.emit(name, record)`, one file per shard.
    outputs: ClassVar[dict[str, str | None]] = {}
    # Which input files this stage reads, by ending (used to expand folders and globs).
    input_suffixes: ClassVar[tuple[str, ...]] = SHARD_SUFFIXES
    # False: the stage needs all inputs first (prepare) and cannot stream from a pipe.
    streaming: ClassVar[bool] = True
    # Examples shown in the subcommand's --help.
    examples: ClassVar[str] = ""
    # Functions that add extra subcommands to the CLI app (e.g. train-classifier).
    cli_commands: ClassVar[list[Callable[["typer.Typer"], None]]] = []
    # Options that make a small runnable instance, for the contract test every stage passes.
    contract_options: ClassVar[dict[str, Any]] = {}
    # What `prepare()` returned, set by the runner in every process before process_shard.
    prepared: Any = None
    REASON_TYPE: ClassVar[pa.DataType] = pa.string()
    type = "curate"

    def __init__(self, config: StageConfig | None = None, **options: Any):
        super().__init__()
        self.config = config if config is not None else self.Config(**options)
        self._emit: Callable[[str, dict], None] | None = None

    # -- what subclasses implement -------------------------------------------------

    def setup(self) -> None:
        """Load models and other heavy state; called once per process before the first document.

        Cache loaded models at module level (e.g. functools.cache) so a worker that runs
        many shards loads them once.
        """

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        """Yield every document of `docs`, kept or marked with `self.reject`."""
        raise NotImplementedError

    def process_shard(self, docs: Iterable[dict], shard: InputShard) -> Iterator[dict]:
        """`process` for one known input shard; override when decisions are per shard (dedup)."""
        return self.process(docs)

    def prepare(self, ctx: PrepareContext) -> Any:
        """Global pass over all inputs before any shard is processed (non-streaming stages).

        Returns the stage's `prepared` value (keep it small: it travels to every worker).
        """
        return None

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
        """Folders besides the output this stage writes to (e.g. a persistent index), locked for the run."""
        return []

    def output_columns(self) -> dict[str, pa.DataType]:
        """Every column this configured stage writes (override when it depends on the config)."""
        return dict(self.columns)

    def summary(self, stats: ShardStats) -> StageSummary | None:
        """This stage's own result table, beyond the rejects-per-reason table every stage gets."""
        return None

    # -- shared machinery ----------------------------------------------------------

    @classmethod
    def column_prefix(cls) -> str:
        return cls.name.replace("-", "_") + "_"

    @classmethod
    def reason_column(cls) -> str:
        """Where tag mode writes the would-be reject reason."""
        return cls.column_prefix() + "reason"

    def reject(self, doc: dict, rule: str, detail: str | None = None) -> dict:
        """Mark `doc` removed by this stage: reason `<stage name>:<rule>`, so reasons never drift from the name."""
        return reject(doc, f"{self.name}:{rule}", detail)

    def emit(self, output: str, record: dict) -> None:
        """Write `record` to the named output `output` (declared in `outputs`) of the shard being processed."""
        if output not in self.outputs:
            raise StageError(f"{self.name}: no output named {output!r} (declared: {', '.join(self.outputs) or 'none'})")
        if self._emit is None:
            raise StageError(f"{self.name}: named outputs are written only while curate runs the stage")
        self._emit(output, record)

    def rows(self, shard: InputShard, on_reject: Callable[[dict], None] | None = None) -> Iterator[dict]:
        """The documents of `shard` the stage processes: what `read` gives, less records the reader
        rejected (passed to `on_reject`) and those whose columns the stage reads have a wrong type
        (rejected as read:bad_field). The one definition of "the rows of a shard" for both passes."""
        return self.usable(self.read(shard), shard, on_reject)

    def usable(self, docs: Iterable[dict], shard: InputShard,
               on_reject: Callable[[dict], None] | None = None) -> Iterator[dict]:
        """`docs` less rejected records and those with a wrong-typed column this stage reads (see `rows`);
        also applied to documents handed over in memory by the stage before it in a fused pass."""
        for doc in docs:
            if not doc.get(REJECT_REASON):
                for column, expected in self.reads.items():
                    problem = field_problem(doc, column, expected)
                    if problem:
                        reject(doc, "read:bad_field", f"{shard.label}: document {doc.get(ID)!r}: {problem}")
                        break
            if doc.get(REJECT_REASON):
                if on_reject is not None:
                    on_reject(doc)
                continue
            yield doc

    def check_columns(self, other_stages: Iterable["Stage"] = ()) -> None:
        """A column that would overwrite a core field or another stage's column is a config error."""
        mine = self.output_columns()
        for column in mine:
            if column in CORE_FIELDS or column in (REJECT_REASON, REJECT_DETAIL):
                raise StageError(f"{self.name}: would write column {column!r}, which is a core field")
        for other in other_stages:
            if other is self or other.name == self.name:
                continue
            clash = (set(mine) & set(other.output_columns())) - set(SHARED_COLUMNS)
            if clash:
                raise StageError(f"{self.name} and {other.name} would both write column(s) {', '.join(sorted(clash))}")

    def fingerprint(self) -> str:
        """Hash of everything that decides this stage's output; a change redoes its shards."""
        payload = {
            "stage": self.name,
            "version": self.version,
            "config": self.config.model_dump(mode="json"),
            "extra": self.fingerprint_extra(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    # -- datatrove entry point -------------------------------------------------------

    def run(self, data: Iterable, rank: int = 0, world_size: int = 1) -> Iterator:
        """The stage as one step of a datatrove pipeline: `Document`s in, kept `Document`s out.

        Columns travel in `metadata`. Rejected documents are dropped, as datatrove's filters do,
        and counted in the step's stats by reason; in tag mode every document is kept with its
        `<stage>_reason`. Stages that need a global pass (streaming = False) or write named
        outputs need curate's runner.
        """
        from datatrove.data import Document

        if not self.streaming:
            raise StageError(f"{self.name} needs all its inputs first (prepare); run it with curate, not as a "
                             "datatrove step")
        if self.outputs:
            raise StageError(f"{self.name} writes named outputs ({', '.join(self.outputs)}); run it with curate")
        self.setup()
        tag = self.config.mode == "tag"
        reason_column = self.reason_column()

        def as_dicts() -> Iterator[dict]:
            for d in data:
                doc = {URL: None, SOURCE: None, **d.metadata, ID: str(d.id), TEXT: d.text}
                self.stat_update("docs_in")
                yield doc

        with self.track_time():
            for doc in self.process(as_dicts()):
                reason = doc.pop(REJECT_REASON, None)
                detail = doc.pop(REJECT_DETAIL, None)
                if reason and not tag:
                    self.stat_update("rejected", reason)
                    continue
                if reason:
                    doc[reason_column] = reason
                    self.stat_update("tagged", reason)
                self.stat_update("kept")
                del detail
                text, doc_id = doc.pop(TEXT), doc.pop(ID)
                yield Document(text=text, id=doc_id, metadata=doc)
