"""Writing shards: Parquet (zstd, large row groups) and JSONL (plain, .gz, .zst), and JSONL to stdout.

Writers write to a temporary name and rename when complete (curate.atomic), so a crash never
leaves a half-written shard under its final name. Every Parquet file carries the curate version
that wrote it in its key-value metadata (`curate_version`).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curate import __version__
from curate.atomic import temp_path
from curate.records import COLUMN_TYPES, TEXT
from curate.shards import FORMATS, ShardError

# Parquet row groups hold many rows: readers (DuckDB, pyarrow) are slow on small groups.
ROW_GROUP_ROWS = 100_000
ROW_GROUP_BYTES = 128 << 20
VERSION_KEY = b"curate_version"


def _column_type(key: str, values: list) -> pa.DataType | None:
    known = COLUMN_TYPES.get(key)
    if known is not None and all(v is None for v in values):
        return known
    return None


def records_to_table(records: list[dict]) -> pa.Table:
    """Build a table from dicts, inferring each column's type over all rows (not just the first)."""
    keys: dict[str, None] = {}
    for rec in records:
        keys.update(dict.fromkeys(rec))
    arrays, names = [], []
    for key in keys:
        values = [rec.get(key) for rec in records]
        typ = _column_type(key, values)
        try:
            arrays.append(pa.array(values, type=typ or COLUMN_TYPES.get(key)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            try:
                arrays.append(pa.array(values, type=typ))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                # values of mixed types (a rejected record's bad field beside good ones): each kept
                # as its JSON text, so nothing is lost and the shard still has one type per column
                arrays.append(pa.array([v if v is None or isinstance(v, str) else _json_text(v) for v in values],
                                       pa.string()))
        names.append(key)
    return pa.Table.from_arrays(arrays, names=names)


def _json_text(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()


def _stamped(schema: pa.Schema) -> pa.Schema:
    return schema.with_metadata({**(schema.metadata or {}), VERSION_KEY: __version__.encode()})


def _align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder, null-fill and cast `table` to `schema` (which contains all its columns)."""
    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(len(table), field.type))
    return pa.Table.from_arrays(cols, schema=schema)


class ShardWriter:
    """Writes documents to one shard file, atomically: a temporary name until `commit()`.

    Parquet files get zstd compression and row groups of ~100k rows. A later batch with
    new columns or wider types rewrites what was written under the unified schema (rare).
    """

    def __init__(self, path: Path, fmt: str):
        if fmt not in FORMATS:
            raise ShardError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
        self.path, self.fmt = path, fmt
        self.tmp = temp_path(path)
        self.count = 0
        self._rows: list[dict] = []
        self._bytes = 0
        self._pq: pq.ParquetWriter | None = None
        self._stream: BinaryIO | None = None
        self._zctx = None

    def write(self, doc: dict) -> None:
        self.count += 1
        if self.fmt == "parquet":
            self._rows.append(doc)
            text = doc.get(TEXT)
            self._bytes += len(text) if isinstance(text, str) else 64
            if len(self._rows) >= ROW_GROUP_ROWS or self._bytes >= ROW_GROUP_BYTES:
                self._flush()
        else:
            if self._stream is None:
                self._open_stream()
            self._stream.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY))

    def _open_stream(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        raw = open(self.tmp, "wb")
        if self.fmt == "jsonl.gz":
            self._stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)
            self._raw = raw
        elif self.fmt == "jsonl.zst":
            self._stream = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=True)
        else:
            self._stream = raw

    def _flush(self) -> None:
        if not self._rows:
            return
        table = records_to_table(self._rows)
        self._rows, self._bytes = [], 0
        if self._pq is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._pq = pq.ParquetWriter(self.tmp, _stamped(table.schema), compression="zstd")
        elif not table.schema.equals(self._pq.schema):
            unified = pa.unify_schemas([self._pq.schema, table.schema], promote_options="permissive")
            if not unified.remove_metadata().equals(self._pq.schema.remove_metadata()):
                self._rewrite_as(unified)
            table = _align(table, self._pq.schema)
        self._pq.write_table(table, row_group_size=len(table))

    def _rewrite_as(self, schema: pa.Schema) -> None:
        self._pq.close()
        old = self.tmp.with_suffix(".old")
        os.replace(self.tmp, old)
        self._pq = pq.ParquetWriter(self.tmp, _stamped(schema), compression="zstd")
        for group in range(pq.ParquetFile(old).num_row_groups):
            part = pq.ParquetFile(old).read_row_group(group)
            self._pq.write_table(_align(part, schema), row_group_size=len(part))
        old.unlink()

    def commit(self) -> Path | None:
        """Finish the file and move it to its final name; None when nothing was written."""
        if self.fmt == "parquet":
            self._flush()
            if self._pq is None:
                return None
            self._pq.close()
        else:
            if self._stream is None:
                return None
            self._stream.close()
            if self.fmt == "jsonl.gz":
                self._raw.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        for closer in (self._pq, self._stream):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001 - cleaning up after a failure already being raised
                pass
        self.tmp.unlink(missing_ok=True)


class StreamWriter:
    """Writes documents as JSONL to a binary stream (stdout), flushing per batch."""

    def __init__(self, stream: BinaryIO, flush_every: int = 256):
        self.stream, self.count, self.flush_every = stream, 0, flush_every

    def write(self, doc: dict) -> None:
        self.stream.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY))
        self.count += 1
        if self.count % self.flush_every == 0:
            self.stream.flush()

    def commit(self) -> None:
        self.stream.flush()
