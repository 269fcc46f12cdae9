"""extract on what old and odd archives hold: stale Content-/Transfer-Encoding headers, ARC
offsets, compression told by content rather than name, files without any HTML record."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path

import pytest

from curate.stages.extract.http import split_http
from curate.stages.extract.warc import iter_records, python_records
from tests.test_extract import (SHARED, article, http_response, run_extract, standard_warc, warc_record,
                                write_warc_gz)

JAPANESE = ("東京の下町では夜のうちに川の水位が上がり、朝には商店街が一メートルほど水に浸かった。"
            "ボランティアが教会の集会所からパン屋まで土のうを運び、市長は記者に状況を説明した。")


def _response(body: bytes, headers: str, content_type: str = "text/html") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{headers}\r\n".encode("latin-1") + body


def _chunked(data: bytes, size: int = 500) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size)) + b"0\r\n\r\n"


# -- 1. stale Content-Encoding / Transfer-Encoding headers ------------------------------------

def test_stale_encoding_headers_keep_the_raw_body(tmp_path):
    page = article().encode()
    euc_jp = f"<html><head><title>水害</title></head><body><article><p>{JAPANESE * 4}</p></article></body></html>".encode("euc-jp")
    real = gzip.compress(page)
    cases = {
        # ClueWeb09 / Common Crawl ARC: stored decoded, headers kept
        "stale-gzip": (_response(page, "Content-Encoding: gzip\r\n"), "stale-gzip-kept-raw"),
        "stale-chunked": (_response(page, "Transfer-Encoding: chunked\r\n"), "stale-chunked-kept-raw"),
        "stale-both": (_response(page, "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
                       "stale-chunked-kept-raw,stale-gzip-kept-raw"),
        "stale-deflate": (_response(page, "Content-Encoding: deflate\r\n"), "stale-deflate-kept-raw"),
        "stale-br": (_response(page, "Content-Encoding: br\r\n"), "stale-br-kept-raw"),
        # a Japanese page without a declared charset, under a stale gzip header
        "euc-jp": (_response(euc_jp, "Content-Encoding: gzip\r\n"), "stale-gzip-kept-raw"),
        # bodies really encoded still decode
        "chunked+gzip": (_response(_chunked(real), "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), "chunked,gzip"),
        "gzip": (_response(real, "Content-Encoding: x-gzip\r\n"), "x-gzip"),
        "deflate": (_response(zlib.compress(page), "Content-Encoding: deflate\r\n"), "deflate"),
        "raw-deflate": (_response(zlib.compress(page)[2:-4], "Content-Encoding: deflate\r\n"), "deflate"),
        "plain": (_response(page, ""), None),
    }
    warc = tmp_path / "old.warc.gz"
    write_warc_gz(warc, [warc_record("response", f"http://{name}.example/", block, f"00000000-0000-0000-0000-{i:012d}")
                         for i, (name, (block, _)) in enumerate(cases.items())])
    kept, rejected = run_extract(tmp_path, [warc])
    assert rejected == []
    by_host = {d["domain"].removesuffix(".example"): d for d in kept}
    assert set(by_host) == set(cases)
    for name, (_, decoding) in cases.items():
        assert by_host[name]["extract_http_decoding"] == decoding, name
        if name != "euc-jp":
            assert "Volunteers carried sandbags" in by_host[name]["text"], name
    japanese = by_host["euc-jp"]
    assert japanese["charset"] == "euc_jp" and JAPANESE[:40] in japanese["text"] and japanese["language"] == "ja"


def test_brotli_bodies_decode():
    brotli = pytest.importorskip("brotli")
    page = article().encode()
    http = split_http(_response(brotli.compress(page), "Content-Encoding: br\r\n"))
    assert http.body == page and http.decoding == ["br"] and http.problem is None


def test_chunked_framing_is_checked_not_assumed():
    page = article().encode()
    # a body that starts like a chunk size but whose size does not land on a line end: not chunked
    fake = b"1a\r\n" + page
    assert split_http(_response(fake, "Transfer-Encoding: chunked\r\n")).body == fake
    # really chunked but cut inside a chunk: what there is, reported as truncated
    cut = _chunked(page)[:700]
    http = split_http(_response(cut, "Transfer-Encoding: chunked\r\n"))
    assert http.problem.startswith("truncated") and page.startswith(http.body) and len(http.body) > 400
    # real gzip bytes that do not decode are still an encoding problem, not silently raw
    broken = split_http(_response(b"\x1f\x8b\x08\x00garbage" * 20, "Content-Encoding: gzip\r\n"))
    assert broken.problem.startswith("undecodable gzip body") and broken.decoding == ["gzip-failed"]
