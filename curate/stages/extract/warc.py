"""Reading web archives: WARC (1.0/1.1 with fastwarc; 0.x and damaged files in pure Python) and ARC.

Record framing only (HTTP payloads are http.py's). Every record comes out as a `RawRecord`
with its byte offset in the file (for gzip files, the offset of its gzip member, which is what
`zcat`-free tools seek to; for later records of a member holding several, the offset in the
decompressed bytes). Compression (gzip, zstd) is told by magic bytes, not by name. Nothing is ever raised
for bad input: a record cut short, a gzip member cut short, or bytes that are not a record
header come out as records with `problem` set, and reading goes on where it can.

fastwarc reads WARC/1.x fast. It refuses some damage silently (a file cut inside a header
ends iteration without an error) or with an OSError, so after it stops, the pure-Python
reader re-reads from the last record fastwarc delivered to the end of the file: on an intact
file that is one record, skipped; on a damaged one it finds the rest and says what is wrong.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard
from fastwarc.warc import ArchiveIterator, WarcRecordType

CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 16
_ARC_DATE = re.compile(rb"^\d{12,14}$")
# Compression is told by the first bytes, never by the file name ("x.warc.gz.bad", no suffix).
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))


def compression_of(path: Path) -> str | None:
    """"gzip", "zstd" or None (uncompressed), from the file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _decompressor(codec: str):
    """A one-member decompressor: `.eof` at the member's (frame's) end, the rest in `.unused_data`."""
    return zlib.decompressobj(31) if codec == "gzip" else zstandard.ZstdDecompressor().decompressobj()


@dataclass
class RawRecord:
    """One archive record: the WARC (or ARC) header fields curate uses and the record block."""

    kind: str  # WARC-Type (response, resource, conversion, request, ...), "arc", or "invalid"
    offset: int
    url: str | None = None
    date: str | None = None  # ISO 8601
    record_id: str | None = None
    payload_digest: str | None = None
    content_type: str | None = None  # the record's own Content-Type (e.g. application/http)
    block: bytes = b""  # for HTTP records: status line, headers and body
    length: int = 0  # the block's declared length (block may hold less: capped or truncated)
    problem: str | None = None  # "truncated: ..." or "malformed: ..."
    crawler_truncated: bool = False  # WARC-Truncated: the crawler itself stored only part of the payload

    @property
    def is_http(self) -> bool:
        return self.block[:5] == b"HTTP/" or (self.content_type or "").startswith("application/http")


# ------------------------------------------------------------------ fast path


def _clean_uri(uri: str | None) -> str | None:
    # wget writes WARC-Target-URI as <...> (the WARC 1.0 grammar's example did too).
    return uri.strip().removeprefix("<").removesuffix(">") if uri else None


def _fastwarc_records(path: Path, max_block: int, state: dict) -> Iterator[RawRecord]:
    for rec in ArchiveIterator(str(path), record_types=WarcRecordType.any_type, parse_http=False, fsspec_args=False):
        headers = rec.headers
        length = rec.content_length
        block = rec.reader.read(min(length, max_block))
        state["offset"], state["count"] = rec.stream_pos, state["count"] + 1
        state["last"] = RawRecord(
            kind=headers.get("WARC-Type", "unknown"),
            offset=rec.stream_pos,
            url=_clean_uri(headers.get("WARC-Target-URI")),
            date=headers.get("WARC-Date"),
            record_id=headers.get("WARC-Record-ID"),
            payload_digest=headers.get("WARC-Payload-Digest") or headers.get("WARC-Block-Digest"),
            content_type=headers.get("Content-Type"),
            crawler_truncated="WARC-Truncated" in headers,
            block=block,
            length=length,
            problem=None if len(block) >= min(length, max_block) else f"truncated: record block has {len(block)} of {length} bytes",
        )
        yield state["last"]


# ------------------------------------------------------------------ pure-Python reader


class _Stream:
    """The decompressed bytes of a plain or multi-member gzip (or zstd) file, from a starting offset.

    Knows which gzip member each decompressed byte came from (for record offsets), and sets
    `error` when the file ends inside a member or holds bytes that are not gzip.
    """

    def __init__(self, path: Path, start: int = 0):
        self.f = open(path, "rb")
        self.f.seek(start)
        self.codec = compression_of(path)
        self.gz = self.codec is not None  # compressed: gzip members or zstd frames
        self.buf = b""
        self.i = 0  # read position in buf (consumed bytes are dropped only when refilling: no quadratic copying)
        self.pos = 0  # decompressed position of buf[i]
        self.produced = 0  # decompressed bytes produced so far
        self.raw_pos = start  # file offset of the next raw byte to decompress
        self.members: list[tuple[int, int]] = [(0, start)]  # (decompressed pos, file offset) of member starts
        self.dec = _decompressor(self.codec) if self.gz else None
        self.fed = False  # the current gzip member has been given input
        self.eof = False
        self.error: str | None = None

    def close(self) -> None:
        self.f.close()

    def _fill(self) -> bool:
        if self.eof:
            return False
        raw = self.f.read(CHUNK)
        if not raw:
            self.eof = True
            if self.gz and self.fed and not self.dec.eof:
                self.error = f"{self.codec} member cut short"
            return False
        if not self.gz:
            self._append([raw])
            self.raw_pos += len(raw)
            return True
        chunk_start = self.raw_pos
        self.raw_pos += len(raw)
        data = raw
        consumed = 0
        outs: list[bytes] = []
        while data:
            self.fed = True
            try:
                out = self.dec.decompress(data)
            except (zlib.error, zstandard.ZstdError) as e:
                self.error = f"corrupt {self.codec} data near byte {chunk_start + consumed}: {e}"
                self.eof = True
                self._append(outs)
                return bool(outs)
            outs.append(out)
            self.produced += len(out)
            if not self.dec.eof:
                break
            rest = self.dec.unused_data
            consumed += len(data) - len(rest)
            data = rest
            self.dec, self.fed = _decompressor(self.codec), False
            self.members.append((self.produced, chunk_start + consumed))
        self._append(outs)
        return True

    def _append(self, outs: list[bytes]) -> None:
        if not self.gz:
            self.produced += sum(map(len, outs))
        self.buf = b"".join([self.buf[self.i:], *outs])
        self.i = 0

    def _consume(self, n: int) -> bytes:
        data = self.buf[self.i: self.i + n]
        self.i += len(data)
        self.pos += len(data)
        return data

    def avail(self) -> int:
        return len(self.buf) - self.i

    def offset_of(self, pos: int) -> int:
        """File offset of the gzip member holding decompressed byte `pos` (or `pos` itself, uncompressed)."""
        if not self.gz:
            return self.members[0][1] + pos
        i = bisect.bisect_right(self.members, (pos, float("inf"))) - 1
        return self.members[max(i, 0)][1]

    def record_offset(self, pos: int, last_member: int | None) -> int:
        """Where the record starting at decompressed byte `pos` is found again.

        The first record of a gzip member: the member's file offset (seek there and
        decompress). A later record of the same member (a file compressed as one stream, as
        some ARC writers did): its offset in the decompressed bytes (`zcat | tail -c +N`).
        """
        member = self.offset_of(pos)
        if self.gz and member == last_member and self.members[0][1] == 0:
            return pos
        return member

    def readline(self, limit: int = MAX_HEADER_BYTES) -> bytes:
        while True:
            nl = self.buf.find(b"\n", self.i, self.i + limit)
            if nl >= 0 or self.avail() >= limit or not self._fill():
                return self._consume(nl + 1 - self.i if nl >= 0 else min(self.avail(), limit))

    def read(self, n: int, keep: int | None = None) -> tuple[bytes, int]:
        """Consume up to `n` bytes, returning the first `keep` of them and how many were available."""
        keep = n if keep is None else min(keep, n)
        kept = []
        got = 0
        while got < n:
            if not self.avail() and not self._fill():
                break
            take = min(n - got, self.avail())
            if got < keep:
                kept.append(self.buf[self.i: self.i + min(take, keep - got)])
            self.i += take
            self.pos += take
            got += take
        return b"".join(kept), got


def _warc_headers(stream: _Stream) -> tuple[dict[str, str], bool]:
    headers: dict[str, str] = {}
    last = None
    while True:
        line = stream.readline()
        if not line:
            return headers, False
        if not line.strip():
            return headers, True
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text[:1] in " \t" and last:  # folded continuation line (WARC 0.x / 1.0)
            headers[last] += " " + text.strip()
            continue
        name, sep, value = text.partition(":")
        if sep:
            last = name.strip().lower()
            headers[last] = value.strip()


def _warc0_fields(first: str) -> dict[str, str]:
    # WARC/0.x first line: "WARC/0.18 <length> <type> <uri> <date> <record-id> <content-type>"
    parts = first.split()
    keys = ("", "content-length", "warc-type", "warc-target-uri", "warc-date", "warc-record-id", "content-type")
    return {k: v for k, v in zip(keys, parts) if k} if len(parts) >= 6 and parts[1].isdigit() else {}


def _arc_date(stamp: str) -> str | None:
    if not _ARC_DATE.match(stamp.encode()):
        return None
    s = stamp.ljust(14, "0")
    return f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}Z"


def python_records(path: Path, max_block: int, start: int = 0) -> Iterator[RawRecord]:
    """Every record of a WARC (any version) or ARC file, from file offset `start`."""
    stream = _Stream(path, start)
    cut_at = None  # offset of a record already reported as cut short
    member = None  # file offset of the gzip member the previous record started in
    try:
        while True:
            line_pos = stream.pos
            line = stream.readline()
            if not line:
                break
            if not line.strip():
                continue
            offset = stream.record_offset(line_pos, member)
            member = stream.offset_of(line_pos)
            if line.startswith(b"WARC/"):
                first = line.decode("utf-8", "replace").strip()
                headers, complete = _warc_headers(stream)
                headers = {**_warc0_fields(first), **headers}
                if not complete:
                    cut_at = offset
                    yield RawRecord(kind="invalid", offset=offset, problem="truncated: file ends inside a WARC header")
                    break
                try:
                    length = int(headers.get("content-length", ""))
                except ValueError:
                    yield RawRecord(kind="invalid", offset=offset, record_id=headers.get("warc-record-id"),
                                    problem=f"malformed: WARC header without a valid Content-Length ({first[:40]})")
                    _resync(stream)
                    continue
                block, got = stream.read(length, max_block)
                cut_at = offset if got < length else cut_at
                yield RawRecord(
                    kind=headers.get("warc-type", "unknown"), offset=offset,
                    url=_clean_uri(headers.get("warc-target-uri")), date=headers.get("warc-date"),
                    record_id=headers.get("warc-record-id"),
                    payload_digest=headers.get("warc-payload-digest") or headers.get("warc-block-digest"),
                    content_type=headers.get("content-type"), block=block, length=length,
                    crawler_truncated="warc-truncated" in headers,
                    problem=None if got >= length else f"truncated: record block has {got} of {length} bytes",
                )
                continue
            fields = line.decode("latin-1").split()
            if len(fields) >= 5 and fields[-1].isdigit() and _arc_date(fields[2]):
                # ARC v1 "URL IP DATE MIME LENGTH" / v2 "URL IP DATE MIME STATUS CHECKSUM LOCATION OFFSET FILE LENGTH"
                length = int(fields[-1])
                block, got = stream.read(length, max_block)
                cut_at = offset if got < length else cut_at
                kind = "arcinfo" if fields[0].startswith("filedesc:") else "arc"
                yield RawRecord(
                    kind=kind, offset=offset, url=fields[0], date=_arc_date(fields[2]), content_type=fields[3],
                    block=block, length=length,
                    problem=None if got >= length else f"truncated: record block has {got} of {length} bytes",
                )
                continue
            yield RawRecord(kind="invalid", offset=offset,
                            problem=f"malformed: not a WARC or ARC record header: {line[:60]!r}")
            _resync(stream)
        if stream.error and cut_at != stream.offset_of(stream.pos):
            yield RawRecord(kind="invalid", offset=stream.offset_of(stream.pos), problem=f"truncated: {stream.error}")
    finally:
        stream.close()


def _resync(stream: _Stream) -> None:
    """Skip to the next line that starts a WARC record (after a header that could not be read)."""
    while True:
        nl = stream.buf.find(b"\nWARC/", stream.i)
        if nl >= 0:
            stream.read(nl + 1 - stream.i, 0)
            return
        stream.read(max(0, stream.avail() - 5), 0)
        if not stream._fill():
            stream.read(stream.avail(), 0)
            return


# ------------------------------------------------------------------ entry point


def sniff(path: Path, size: int = 16) -> bytes:
    """The first decompressed bytes of a file, whatever its name ("" if unreadable)."""
    codec = compression_of(path)
    try:
        with open(path, "rb") as f:
            head = f.read(max(size, 1 << 16) if codec else size)
        if codec:
            head = _decompressor(codec).decompress(head)
        return head[:size]
    except (OSError, zlib.error, zstandard.ZstdError):
        return b""


def _one_stream(path: Path) -> bool:
    """A gzip file whose first member holds more than one record (compressed as a whole).

    fastwarc reports such records at the compressed bytes read so far, which lead nowhere;
    the Python reader gives their decompressed offsets. Looks at the first 256 KiB only.
    """
    with open(path, "rb") as f:
        raw = f.read(1 << 18)
    try:
        head = zlib.decompressobj(31).decompress(raw)
    except zlib.error:
        return False
    return head.find(b"\nWARC/", 1) > 0


def iter_records(path: Path, max_block: int) -> Iterator[RawRecord]:
    """Every record of a WARC/ARC file, blocks capped at `max_block` bytes, damage reported as records."""
    codec = compression_of(path)
    if not sniff(path).startswith(b"WARC/1.") or codec == "zstd" or (codec == "gzip" and _one_stream(path)):
        yield from python_records(path, max_block)
        return
    state: dict = {"offset": 0, "count": 0, "last": None}
    try:
        yield from _fastwarc_records(path, max_block, state)
    except OSError:
        pass  # fastwarc refused the rest; the Python reader takes over below
    # Re-read from the last record fastwarc delivered: finds whatever it missed or refused.
    rest = python_records(path, max_block, start=state["offset"])
    if state["count"]:
        again = next(rest, None)
        if again is not None and again.problem and not state["last"].problem:  # fastwarc let a damaged record through
            yield again
    yield from rest
