"""Shard writers for already-extracted documents: JSONL+zstd or Parquet.

Records are {"id", "text", "url", "source"}. Parquet rows are buffered in
row groups so a large shard never sits in memory whole.
"""

from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

SOURCE = "curate-sample"
ROW_GROUP = 10_000
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("source", pa.string())])


class DocsWriter:
    def __init__(self, path: Path, fmt: str):
        self.fmt = fmt
        self.file = path.open("wb")
        if fmt == "jsonl":
            # Single-threaded (the default) at a fixed level: the bytes are reproducible.
            self.stream = zstandard.ZstdCompressor(level=3).stream_writer(self.file, closefd=False)
        else:
            self.parquet = pq.ParquetWriter(self.file, SCHEMA, compression="zstd")
            self.rows: list[tuple[str, str, str]] = []

    def add(self, doc_id: str, text: str, url: str) -> None:
        if self.fmt == "jsonl":
            self.stream.write(orjson.dumps({"id": doc_id, "text": text, "url": url, "source": SOURCE}) + b"\n")
        else:
            self.rows.append((doc_id, text, url))
            if len(self.rows) >= ROW_GROUP:
                self._flush()

    def _flush(self) -> None:
        ids, texts, urls = zip(*self.rows)
        self.parquet.write_table(pa.table([ids, texts, urls, [SOURCE] * len(ids)], schema=SCHEMA))
        self.rows = []

    def close(self) -> None:
        if self.fmt == "jsonl":
            self.stream.close()
        else:
            if self.rows:
                self._flush()
            self.parquet.close()
        self.file.close()
