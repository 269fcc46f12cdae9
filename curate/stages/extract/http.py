"""HTTP payloads inside archive records: status line, headers, transfer and content decoding.

Crawlers disagree about what they store. wget keeps bodies as sent (chunked, gzip); Common
Crawl since 2018 stores them decoded and renames the headers `X-Crawler-...`; older crawlers
(ClueWeb09, Common Crawl's ARC files of 2008-2012, its WARCs of 2013-2018) stored them decoded
but kept `Content-Encoding: gzip` and `Transfer-Encoding: chunked`. So a coding is undone only
when the bytes really are in it: gzip by its magic number, zlib by its header, chunked by valid
chunk framing, brotli by decoding; otherwise the body is kept as it is and that is recorded
("stale-gzip-kept-raw"). warcio and fastwarc's readers likewise fall back to the raw bytes
when the first decoding attempt fails.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

GZIP_MAGIC = b"\x1f\x8b"
# A chunk-size line: hex digits, optional ";extension", CRLF (a bare LF is tolerated).
_CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


@dataclass
class HttpPayload:
    status: int | None
    headers: dict[str, str]
    body: bytes
    problem: str | None = None  # "truncated: ..." or "undecodable ..."
    # what was done to the body, one step per declared coding: "chunked", "gzip",
    # "stale-gzip-kept-raw" (declared, but the bytes were not gzip), "unknown-compress-kept-raw"
    decoding: list[str] = field(default_factory=list)

    @property
    def mime(self) -> str | None:
        return mime_of(self.headers.get("content-type"))[0]

    @property
    def charset(self) -> str | None:
        return mime_of(self.headers.get("content-type"))[1]


def mime_of(content_type: str | None) -> tuple[str | None, str | None]:
    """("text/html", "utf-8") from 'text/html; charset="UTF-8"'."""
    if not content_type:
        return None, None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return mime.strip().lower() or None, charset


def split_http(block: bytes) -> HttpPayload:
    """Status, headers (lower-case names) and body of an HTTP response block, with the
    transfer and content codings the body is really in undone."""
    end, sep = block.find(b"\r\n\r\n"), 4
    if end < 0:
        end, sep = block.find(b"\n\n"), 2
    if end < 0:
        end, sep = len(block), 0
    lines = block[:end].decode("latin-1").splitlines()
    status = None
    if lines and lines[0].startswith("HTTP/"):
        parts = lines[0].split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    payload = HttpPayload(status, headers, block[end + sep:])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        _undo_chunked(payload)
    # Codings are listed in the order applied; undo the last first.
    for coding in reversed([c.strip().lower() for c in headers.get("content-encoding", "").split(",") if c.strip()]):
        if payload.problem or not payload.body:
            break
        _undo_content_coding(payload, coding)
    return payload


def dechunk(body: bytes) -> tuple[bytes, str | None] | None:
    """The de-chunked body and a problem ("truncated: ..."), or None if `body` is not chunked
    (its first line is not a chunk size, or a chunk is not followed by a line end)."""
    out, pos = [], 0
    while True:
        m = _CHUNK_SIZE.match(body, pos)
        if m is None:
            if not out:
                return None  # the first line is not a chunk size: not chunked
            if not body[pos:].strip():  # the data ends after a whole chunk, without the last-chunk line
                return b"".join(out), "truncated: chunked body cut short"
            # framing lost after valid chunks: keep the rest as it is (warcio does the same)
            return b"".join(out) + body[pos:], None
        size = int(m.group(1), 16)
        if size == 0:
            return b"".join(out), None
        start = m.end()
        chunk = body[start: start + size]
        if len(chunk) < size:  # the record ends inside a chunk: keep what there is
            out.append(chunk)
            return b"".join(out), "truncated: chunked body cut short"
        after = body[start + size: start + size + 2]
        if not after.startswith((b"\r\n", b"\n")) and after not in (b"", b"\r"):
            if not out:
                return None  # the first size did not lead to a chunk boundary: not chunked after all
            return b"".join(out) + body[m.start():], None
        out.append(chunk)
        pos = start + size + (2 if after == b"\r\n" else min(len(after), 1))


def _undo_chunked(payload: HttpPayload) -> None:
    result = dechunk(payload.body)
    if result is None:
        payload.decoding.append("stale-chunked-kept-raw")
        return
    payload.body, payload.problem = result
    payload.decoding.append("chunked")


def _undo_content_coding(payload: HttpPayload, coding: str) -> None:
    body = payload.body
    if coding in ("identity", "none"):
        return
    if coding in ("gzip", "x-gzip"):
        if not body.startswith(GZIP_MAGIC):
            payload.decoding.append(f"stale-{coding}-kept-raw")
            return
        decoded, error = _inflate(body, 31)
    elif coding == "deflate":
        # zlib-wrapped (the standard) when the two header bytes check out, else raw deflate (what some servers send)
        wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
        decoded, error = _inflate(body, 15 if wrapped else -15)
        if error and not wrapped:  # not deflate data at all: the header is stale
            payload.decoding.append("stale-deflate-kept-raw")
            return
    elif coding in ("br", "brotli"):
        decoded, error = _unbrotli(body)
        if error:  # brotli has no magic number: bytes that do not decode were not brotli
            payload.decoding.append(f"stale-{coding}-kept-raw")
            return
    else:
        payload.decoding.append(f"unknown-{coding}-kept-raw")
        return
    if error:
        payload.problem = f"undecodable {coding} body: {error}"
        payload.decoding.append(f"{coding}-failed")
        return
    payload.body = decoded
    payload.decoding.append(coding)


def _inflate(body: bytes, wbits: int) -> tuple[bytes, str | None]:
    """Decompressed bytes (as many as there are, when the data is cut short) or an error."""
    try:
        return zlib.decompressobj(wbits).decompress(body), None
    except zlib.error as e:
        return b"", str(e)


def _unbrotli(body: bytes) -> tuple[bytes, str | None]:
    try:
        import brotli  # installed with fastwarc, which uses it for the same purpose
    except ImportError:
        return b"", "brotli is not installed"
    try:
        return brotli.Decompressor().process(body), None
    except brotli.error as e:
        return b"", str(e)
