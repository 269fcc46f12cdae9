"""Stages registered only by tests: slow, failing, gated, emitting, clashing and two-pass ones."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import Field

from curate.stage import PrepareContext, Stage, StageConfig
from curate.stages import register


class SlowCopyConfig(StageConfig):
    delay_ms: float = Field(1.0, description="Sleep per document.")
    tag: str = Field("a", description="Written to the `copied_by` column.")
    reject_every: int = Field(0, description="Reject every Nth document (0: none).")


@register
class SlowCopyStage(Stage):
    name = "test-slow-copy"
    Config = SlowCopyConfig
    columns = {"copied_by": pa.string()}

    def process(self, docs):
        for i, doc in enumerate(docs, start=1):
            time.sleep(self.config.delay_ms / 1000)
            doc["copied_by"] = self.config.tag
            if self.config.reject_every and i % self.config.reject_every == 0:
                yield self.reject(doc, "every_nth")
            else:
                yield doc


class FailOnConfig(StageConfig):
    marker: str = Field("BOOM", description="Raise on a document whose text contains this.")


@register
class FailOnStage(Stage):
    """Raises on a marked document, as a stage with a bug would."""

    name = "test-fail-on"
    Config = FailOnConfig

    def process(self, docs):
        for doc in docs:
            if self.config.marker in doc["text"]:
                raise ValueError(f"cannot handle {doc['id']}")
            yield doc


@register
class DieOnStage(Stage):
    """Ends its process on a marked document without a word, as a task killed for memory or time would."""

    name = "test-die-on"
    Config = FailOnConfig

    def process(self, docs):
        for doc in docs:
            if self.config.marker in doc["text"]:
                os._exit(137)
            yield doc


class EmitConfig(StageConfig):
    pass


@register
class EmitStage(Stage):
    """Writes one request record per document to its named output `requests` and keeps every document."""

    name = "test-emit"
    Config = EmitConfig
    outputs = {"requests": "jsonl"}

    def process(self, docs):
        for doc in docs:
            self.emit("requests", {"custom_id": doc["id"], "chars": len(doc["text"])})
            yield doc


class ClashConfig(StageConfig):
    column: str = Field("text", description="The column this stage (wrongly) writes.")


@register
class ClashStage(Stage):
    """Declares a column that may clash with a core field or another stage's column."""

    name = "test-clash"
    Config = ClashConfig

    def output_columns(self):
        return {self.config.column: pa.string()}

    def process(self, docs):
        yield from docs


# -- the README's minimal two-pass stage, verbatim (so the example there is known to work) --------

class LongerThanConfig(StageConfig):
    quantile: float = Field(0.5, ge=0, le=1, description="Keep documents at least as long as this quantile of all lengths.")


@dataclass(frozen=True)
class LengthCut:
    chars: int  # documents shorter than this are removed


@register
class LongerThanStage(Stage):
    """Keep documents at least as long as a quantile of all documents' lengths (two passes)."""

    name = "test-longer-than"
    Config = LongerThanConfig
    streaming = False                                  # needs every input before the first decision
    columns = {"test_longer_than_chars": pa.int64()}
    prepared: LengthCut | None = None                  # what prepare() returns, in every worker

    def prepare(self, ctx: PrepareContext) -> LengthCut:
        lengths = sorted(len(doc["text"]) for shard in ctx.inputs for doc in ctx.docs(shard))
        return LengthCut(lengths[int(self.config.quantile * (len(lengths) - 1))] if lengths else 0)

    def process(self, docs):
        for doc in docs:
            doc["test_longer_than_chars"] = n = len(doc["text"])
            if n < self.prepared.chars:
                yield self.reject(doc, "short", f"{n} chars < {self.prepared.chars}")
            else:
                yield doc
class GateConfig(StageConfig):
    gate: str = Field(..., description="Wait until this file exists before passing documents on (touches GATE.waiting first).")
    timeout_s: float = Field(120.0, description="Give up waiting (raise) after this long.")


@register
class GateStage(Stage):
    """Holds a run open until the test opens the gate: a run that is busy for exactly as long as needed."""

    name = "test-gate"
    Config = GateConfig

    def process(self, docs):
        gate = Path(self.config.gate)
        Path(f"{gate}.waiting").touch()  # tells the test the run is now idle at the gate
        deadline = time.monotonic() + self.config.timeout_s
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} never opened")
            time.sleep(0.02)
        yield from docs


@register
class BuggyCheckStage(Stage):
    """A stage with a bug outside any shard: curate must report it in one line, not a traceback."""

    name = "test-buggy-check"
    Config = EmitConfig

    def check(self):
        raise RuntimeError("a bug in a check")

    def process(self, docs):
        yield from docs
