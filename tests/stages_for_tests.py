"""A deliberately slow stage, registered only by tests that need to interrupt a run mid-way."""

from __future__ import annotations

import time

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
