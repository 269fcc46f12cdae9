"""The queue folder: what each export wrote, and what ingest needs to take the answers back.

    QUEUE/
      exports/0001/requests-00000.jsonl ...   OpenAI Batch request files (or prompts-00000.jsonl)
      exports/0001/index.parquet              one row per request: custom_id -> parent, chunk, style
      exports/0001/manifest.json              counts, token and cost estimates, policy and its hash
      manifest.json                           a copy of the latest export's manifest

An export is written under a temporary folder name and renamed when complete, so a killed export
leaves no half export that a later one would count as queued.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curate.llm.batch import MAX_BYTES, MAX_LINES

EXPORTS = "exports"
INDEX = "index.parquet"
MANIFEST = "manifest.json"
_EXPORT_NAME = re.compile(r"\d{4,}")

INDEX_SCHEMA = pa.schema([
    ("custom_id", pa.string()),
    ("doc_key", pa.string()),  # parent id @ hash of its text: what "already queued" means
    ("parent_id", pa.string()),
    ("chunk", pa.int32()),
    ("n_chunks", pa.int32()),
    ("style", pa.string()),  # the style's name (source = rewrite:<style>)
    ("style_ref", pa.string()),  # how the policy named it (manifest key of the style's definition)
    ("prompt_version", pa.string()),
    ("model", pa.string()),
    ("input_tokens", pa.int32()),
    ("url", pa.string()),
    ("parent_source", pa.string()),
    ("carry", pa.string()),  # JSON object of the parent's carried columns (domain tags, language)
])


class QueueError(Exception):
    """The queue folder is missing or inconsistent; the message names it."""


def export_dirs(queue: Path) -> list[Path]:
    root = Path(queue) / EXPORTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _EXPORT_NAME.fullmatch(p.name) and (p / MANIFEST).is_file())


def next_export_name(queue: Path) -> str:
    root = Path(queue) / EXPORTS
    numbers = [int(p.name) for p in root.iterdir() if _EXPORT_NAME.fullmatch(p.name)] if root.is_dir() else []
    return f"{max(numbers, default=0) + 1:04d}"


def queued_keys(queue: Path) -> set[str]:
    """doc_key of every document an earlier export queued."""
    keys: set[str] = set()
    for d in export_dirs(queue):
        keys.update(pq.read_table(d / INDEX, columns=["doc_key"]).column("doc_key").to_pylist())
    return keys


def read_manifest(export_dir: Path) -> dict:
    return orjson.loads((export_dir / MANIFEST).read_bytes())


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(tmp, path)


class IndexWriter:
    """index.parquet of one export, written in row groups as requests are made."""

    def __init__(self, path: Path, flush_rows: int = 100_000):
        self.path, self.flush_rows = path, flush_rows
        self.rows: list[tuple] = []  # in INDEX_SCHEMA's column order
        self.count = 0
        self._writer = pq.ParquetWriter(path, INDEX_SCHEMA, compression="zstd")

    def add(self, *row) -> None:
        """One request's row, values in INDEX_SCHEMA's column order."""
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.flush_rows:
            self.flush()

    def write_table(self, table: pa.Table) -> None:
        self.flush()
        if table.num_rows:
            self._writer.write_table(table.cast(INDEX_SCHEMA))
            self.count += table.num_rows

    def flush(self) -> None:
        if self.rows:
            columns = [list(col) for col in zip(*self.rows)]
            self._writer.write_table(pa.table(columns, schema=INDEX_SCHEMA))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self._writer.close()


class PromptWriter:
    """Plain `{"custom_id", "prompt"}` lines for offline engines (plus `response_format` for json
    styles), in files of the same limits as request files (`prompts-00000.jsonl`, ...)."""

    def __init__(self, out_dir: Path, prefix: str = "prompts", max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES):
        self.out_dir, self.prefix, self.max_lines, self.max_bytes = Path(out_dir), prefix, max_lines, max_bytes
        self.paths: list[Path] = []
        self.written = 0
        self._seen: set[str] = set()
        self._file = None
        self._lines = self._bytes = 0

    def write(self, record: dict) -> bool:
        cid = record["custom_id"]
        if cid in self._seen:
            return False
        keep = {"custom_id": cid, "prompt": record["prompt"]}
        if "response_format" in record:  # a json style's schema, for engines with guided decoding
            keep["response_format"] = record["response_format"]
        line = orjson.dumps(keep) + b"\n"
        if self._file is not None and (self._lines >= self.max_lines or self._bytes + len(line) > self.max_bytes):
            self._file.close()
            self._file = None
        if self._file is None:
            path = self.out_dir / f"{self.prefix}-{len(self.paths):05d}.jsonl"
            self.paths.append(path)
            self._file = open(path, "wb")
            self._lines = self._bytes = 0
        self._file.write(line)
        self._lines += 1
        self._bytes += len(line)
        self._seen.add(cid)
        self.written += 1
        return True

    def close(self) -> list[Path]:
        if self._file is not None:
            self._file.close()
            self._file = None
        return list(self.paths)

    def abort(self) -> None:
        self.close()
