"""Stages registered only by tests: a deliberately slow one, one that fails, one that waits for a gate file."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
from pydantic import Field

from curate.records import reject
from curate.stage import Stage, StageConfig
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
                yield reject(doc, "test-slow-copy:every_nth")
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
