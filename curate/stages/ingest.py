"""The ingest stage: bring an existing text corpus (JSONL/Parquet) into curate's document shape.

For corpora that are already text (WET-derived JSONL, another pipeline's output). It maps
the corpus's field names onto `id`/`text`/`url`, fills missing ids and sources, and rejects
records whose text is empty after stripping. Reading already rejects unparseable records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import Field

from curate.inputs import InputShard
from curate.records import ID, TEXT, URL
from curate.shards import read_shard
from curate.stage import Stage, StageConfig
from curate.stages import register


class IngestConfig(StageConfig):
    text_field: str = Field("text", description="Field holding the document text.")
    id_field: str = Field("id", description="Field holding a stable document id (generated from file:line when absent).")
    url_field: str = Field("url", description="Field holding the document URL, if any.")
    keep_empty: bool = Field(False, description="Keep documents whose text is only whitespace.")


@register
class IngestStage(Stage):
    """Normalise an existing text corpus into curate documents."""

    name = "ingest"
    Config = IngestConfig
    examples = (
        "curate ingest corpus/*.jsonl.zst -o runs/ingested\n"
        "curate ingest dump.parquet --text-field content --id-field doc_id -o -"
    )

    def read(self, shard: InputShard) -> Iterator[dict]:
        cfg = self.config
        rename = {cfg.text_field: TEXT, cfg.id_field: ID, cfg.url_field: URL}
        return read_shard(shard.path, shard.name, shard.source, rename)

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        for doc in docs:
            text = doc[TEXT]
            if not self.config.keep_empty and not text.strip():
                yield self.reject(doc, "empty_text")
            else:
                yield doc
