"""Reading shards: Parquet and JSONL (plain, .gz, .zst, by content when the name does not say), and stdin.

Readers never raise on bad records: a line that is not JSON, not UTF-8, lacks `text`, or has a
core field of the wrong type, and the unread tail of a truncated file, come out as rejected
records (`read:<problem>`) naming the file and line, so the writer puts them in `rejected/`
and the run goes on.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
import zstandard

from curate.logs import log
from curate.records import ID, SOURCE, TEXT, URL, field_problem, reject
from curate.shards import PARQUET_SUFFIXES, SHARD_SUFFIXES, strip_suffix

MAX_WARNINGS_PER_FILE = 5
# Where rejected records go, for the reader's warnings; the runner sets it (stream mode: --rejected).
REJECTS_TO: ContextVar[str] = ContextVar("rejects_to", default="rejected/")

GZIP_MAGIC, ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


class _ZstdReader(io.RawIOBase):
    """Streaming .zst decompression that notices truncation.

    zstandard's own stream_reader returns a clean EOF when the last frame is cut short,
    which would lose the tail silently; here an unfinished frame raises EOFError.
    """

    def __init__(self, raw: BinaryIO):
        self.raw, self.buf = raw, b""
        self.dobj = zstandard.ZstdDecompressor().decompressobj()
        self.in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self.buf:
            chunk = self.raw.read(1 << 20)
            if not chunk:
                if self.in_frame:
                    raise EOFError("zstd stream ended inside a frame")
                return 0
            out = []
            while chunk:
                if self.dobj.eof:  # a new frame begins
                    self.dobj = zstandard.ZstdDecompressor().decompressobj()
                out.append(self.dobj.decompress(chunk))
                chunk = self.dobj.unused_data if self.dobj.eof else b""
            self.in_frame = not self.dobj.eof
            self.buf = b"".join(out)
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def compression_of(path: Path) -> str | None:
    """"gzip", "zstd" or None, by the file's first bytes (names lie: `x.jsonl.gz.bak`, no suffix)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading, decompressing gzip and zstd (recognised by content) as a stream."""
    kind = compression_of(path)
    raw = open(path, "rb")
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if kind == "zstd":
        return io.BufferedReader(_ZstdReader(raw), buffer_size=1 << 20)  # type: ignore[return-value]
    return raw


class _Warner:
    """Logs the first few problems of a file, then a count, so bad files do not flood stderr."""

    def __init__(self, path: str):
        self.path, self.count = path, 0

    def __call__(self, msg: str) -> None:
        self.count += 1
        if self.count <= MAX_WARNINGS_PER_FILE:
            log.warning("{}: {}; record sent to {}", self.path, msg, REJECTS_TO.get())

    def close(self) -> None:
        if self.count > MAX_WARNINGS_PER_FILE:
            log.warning("{}: {} bad records in all (first {} shown)", self.path, self.count, MAX_WARNINGS_PER_FILE)


def _bad_record(label: str, name: str, line_no: int | None, reason: str, detail: str, raw: str | None, source: str) -> dict:
    rec_id = f"{name}:{line_no}" if line_no is not None else f"{name}:file"
    return reject(
        {ID: rec_id, TEXT: raw, URL: None, SOURCE: source, "source_file": label, "source_line": line_no},
        f"read:{reason}",
        detail,
    )


def complete_record(rec: dict, name: str, where: str, line_no: int, source: str,
                    rename: dict[str, str] | None = None, content_ids: bool = False) -> dict:
    """Give a parsed record the document fields it lacks, or mark it rejected.

    `rename` maps a corpus's own field names onto curate's (e.g. {"content": "text"}). A missing
    id becomes `name:line`, or with `content_ids` (stdin: line numbers repeat across streams) a
    hash of the line number and text. An integer id or source becomes its string (lossless);
    any other wrong type of a core field rejects the record alone as read:bad_field.
    """
    if rename:
        for src, dst in rename.items():
            if src in rec and src != dst:
                rec[dst] = rec.pop(src)
    rid = rec.get(ID)
    if isinstance(rid, int) and not isinstance(rid, bool):
        rec[ID] = rid = str(rid)
    src = rec.get(SOURCE)
    if isinstance(src, int) and not isinstance(src, bool):
        rec[SOURCE] = str(src)
    text = rec.get(TEXT)
    if rid is None or rid == "":
        if content_ids and isinstance(text, str):
            rec[ID] = f"{name}:{xxhash.xxh3_64_hexdigest(f'{line_no}:{text}'.encode('utf-8', 'surrogatepass'))}"
        else:
            rec[ID] = f"{name}:{line_no}"
    rec.setdefault(URL, None)
    if not rec.get(SOURCE):
        rec[SOURCE] = source
    if not isinstance(text, str):
        rec[TEXT] = None
        rec[ID] = str(rec[ID])
        return reject(rec, "read:missing_text", f"{where}: no string field 'text'")
    for column in (ID, URL, SOURCE):
        problem = field_problem(rec, column, str)
        if problem:
            rec[ID] = str(rec[ID]) if not isinstance(rec[ID], (dict, list)) else f"{name}:{line_no}"
            return reject(rec, "read:bad_field", f"{where}: {problem}")
    return rec


def read_jsonl(stream: BinaryIO, label: str, name: str, source: str, rename: dict[str, str] | None = None,
               content_ids: bool = False) -> Iterator[dict]:
    """Parse JSONL from a binary stream; bad lines and a truncated tail become rejected records.

    `label` names the file in messages; `name` prefixes generated ids.
    """
    warn = _Warner(label)
    line_no = 0
    try:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                try:
                    line.decode("utf-8")
                    reason, detail = "invalid_json", f"line {line_no}: invalid JSON ({e})"
                except UnicodeDecodeError as ue:
                    reason, detail = "invalid_utf8", f"line {line_no}: not valid UTF-8 (byte {ue.start})"
                warn(detail)
                yield _bad_record(label, name, line_no, reason, detail, line.decode("utf-8", "replace"), source)
                continue
            if not isinstance(rec, dict):
                detail = f"line {line_no}: a JSON {type(rec).__name__}, not an object"
                warn(detail)
                yield _bad_record(label, name, line_no, "invalid_json", detail, line.decode("utf-8", "replace"), source)
                continue
            doc = complete_record(rec, name, f"line {line_no}", line_no, source, rename, content_ids)
            if doc.get("reject_reason"):
                warn(doc["reject_detail"])
                doc.update(source_file=label, source_line=line_no)
            yield doc
    except (EOFError, OSError, zstandard.ZstdError) as e:
        detail = f"file truncated or corrupt after line {line_no}: {e}"
        log.error("{}: {}; the records before it were read", label, detail)
        yield _bad_record(label, name, line_no + 1, "truncated", detail, None, source)
    warn.close()


def read_parquet(path: Path, name: str, source: str, rename: dict[str, str] | None = None) -> Iterator[dict]:
    label = str(path)
    warn = _Warner(label)
    row = 0
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=8192):
            for rec in batch.to_pylist():
                row += 1
                doc = complete_record(rec, name, f"row {row}", row, source, rename)
                if doc.get("reject_reason"):
                    warn(doc["reject_detail"])
                    doc.update(source_file=label, source_line=row)
                yield doc
    except (pa.ArrowException, OSError) as e:
        detail = f"unreadable Parquet after row {row}: {e}"
        log.error("{}: {}", label, detail)
        yield _bad_record(label, name, row + 1, "corrupt_file", detail, None, source)
    warn.close()


def read_shard(
    path: Path | None, name: str | None = None, source: str | None = None, rename: dict[str, str] | None = None
) -> Iterator[dict]:
    """Yield the documents of one shard (`None` = JSONL on stdin), bad records as rejected ones."""
    if path is None:
        yield from read_jsonl(sys.stdin.buffer, "<stdin>", name or "stdin", source or "stdin", rename, content_ids=True)
        return
    name = name or strip_suffix(path.name, SHARD_SUFFIXES)
    source = source or strip_suffix(path.name, SHARD_SUFFIXES)
    if path.stat().st_size == 0:
        log.warning("{}: empty file, nothing to read", path)
        return
    if path.name.endswith(PARQUET_SUFFIXES):
        yield from read_parquet(path, name, source, rename)
        return
    with open_binary(path) as stream:
        yield from read_jsonl(stream, str(path), name, source, rename)
