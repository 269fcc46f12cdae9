"""extract on what old and odd archives hold: stale Content-/Transfer-Encoding headers, ARC
offsets, compression told by content rather than name, files without any HTML record."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path

import pytest

from curate.stages.extract.warc import iter_records
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
    from curate.stages.extract.http import split_http  # HTTP parsing has its own module, apart from record framing

    brotli = pytest.importorskip("brotli")
    page = article().encode()
    http = split_http(_response(brotli.compress(page), "Content-Encoding: br\r\n"))
    assert http.body == page and http.decoding == ["br"] and http.problem is None


def test_chunked_framing_is_checked_not_assumed():
    from curate.stages.extract.http import split_http

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


# -- 2. ARC offsets ---------------------------------------------------------------------------

def _arc_records(n: int = 3) -> list[bytes]:
    filedesc = b"1 0 Alexa Internet\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [b"filedesc://crawl.arc 0.0.0.0 20080923142103 text/plain %d\n%s\n" % (len(filedesc), filedesc)]
    for i in range(n):
        page = http_response(article(f"Page {i}").encode(), "text/html")
        records.append(b"http://arc%d.example/ 10.0.0.%d 2008110414210%d text/html %d\n%s\n" % (i, i, i, len(page), page))
    return records


@pytest.mark.parametrize("layout", ["plain", "gzip-per-record", "gzip-whole-file"])
def test_every_arc_record_has_the_offset_it_is_read_at(tmp_path, layout):
    records = _arc_records()
    path = tmp_path / ("crawl.arc" if layout == "plain" else "crawl.arc.gz")
    if layout == "gzip-per-record":
        write_warc_gz(path, records)
    elif layout == "plain":
        path.write_bytes(b"".join(records))
    else:  # one gzip stream for the whole file, as some 2008 crawlers wrote: offsets into the decompressed bytes
        path.write_bytes(gzip.compress(b"".join(records)))
    kept, rejected = run_extract(tmp_path, [path])
    assert rejected == [] and len(kept) == 3
    offsets = [d["source_offset"] for d in kept]
    assert len(set(offsets)) == 3 and 0 not in offsets  # the filedesc record is at 0
    raw = path.read_bytes()
    for doc in kept:
        at = doc["source_offset"]
        if layout == "plain":
            record = raw[at:]
        elif layout == "gzip-per-record":
            record = zlib.decompressobj(31).decompress(raw[at:])  # one member: that record alone
        else:
            record = gzip.decompress(raw)[at:]
        assert record.startswith(doc["url"].encode() + b" "), (layout, at)
        assert f"<title>{doc['title']}</title>".encode() in record[:3000]


# -- 3. compression told by content, not by name -----------------------------------------------

def test_the_same_bytes_under_any_name_give_the_same_documents(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    src = tmp_path / "src"
    src.mkdir()
    standard_warc(src / "crawl.warc.gz")  # one gzip member per record
    plain = gzip.decompress((src / "crawl.warc.gz").read_bytes())
    variants = {
        "crawl.warc.gz": (src / "crawl.warc.gz").read_bytes(),
        "crawl.warc.gz.bad": (src / "crawl.warc.gz").read_bytes(),
        "crawl": (src / "crawl.warc.gz").read_bytes(),
        "whole.warc.gz": gzip.compress(plain),  # compressed as one stream
        "whole-no-suffix": gzip.compress(plain),
        "crawl.warc.zst": zstandard.ZstdCompressor().compress(plain),
        "frames.warc.zst": b"".join(zstandard.ZstdCompressor().compress(r) for r in _split_records(plain)),  # a frame per record
        "crawl.warc.zst.part": zstandard.ZstdCompressor().compress(plain),
        "plain.gz": plain,  # a suffix that lies the other way
    }
    results = {}
    for i, (name, data) in enumerate(variants.items()):
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        (folder / name).write_bytes(data)
        kept, rejected = run_extract(folder, [folder / name])
        assert rejected == [], name
        results[name] = [(d["id"], d["url"], d["text"], d["language"]) for d in kept]
    assert len(results["crawl.warc.gz"]) == 2
    for name, docs in results.items():
        assert docs == results["crawl.warc.gz"], name


def _split_records(plain: bytes) -> list[bytes]:
    starts = [0] + [i + 4 for i in range(len(plain)) if plain.startswith(b"\r\n\r\nWARC/1.0\r\n", i)]
    return [plain[a:b] for a, b in zip(starts, starts[1:] + [len(plain)])]


def test_records_of_one_gzip_stream_are_found_at_their_decompressed_offsets(tmp_path):
    src = tmp_path / "per-record.warc.gz"
    standard_warc(src)
    plain = gzip.decompress(src.read_bytes())
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain))
    records = list(iter_records(whole, 1 << 20))
    assert len(records) == 7 and not any(r.problem for r in records)
    for r in records:
        assert plain[r.offset:].startswith(b"WARC/1.0\r\nWARC-Type: " + r.kind.encode())


# -- 4. a file with no HTML record says so ------------------------------------------------------

def test_a_file_of_only_non_html_records_says_so(tmp_path, caplog):
    warc = tmp_path / "images.warc.gz"
    write_warc_gz(warc, [
        warc_record("response", "https://img.example/a.png", http_response(b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"),
                    "00000000-0000-0000-0000-000000000101"),
        warc_record("response", "https://img.example/b.pdf", http_response(b"%PDF-1.4 ...", "application/pdf"),
                    "00000000-0000-0000-0000-000000000102"),
        warc_record("request", "https://img.example/a.png", b"GET /a.png HTTP/1.1\r\n\r\n", "00000000-0000-0000-0000-000000000103",
                    "application/http; msgtype=request"),
    ])
    with caplog.at_level("WARNING", logger="curate"):
        kept, rejected = run_extract(tmp_path, [warc])
    assert kept == [] and rejected == []
    [message] = [r.getMessage() for r in caplog.records if str(warc) in r.getMessage()]
    assert message == f"{warc}: only non-HTML records (image/png 1, application/pdf 1, request 1): no documents to extract"


# -- the real archives still read as before --------------------------------------------------

def test_shared_archives_under_other_names_give_the_same_documents(tmp_path):
    folder = SHARED / "warc"
    if not folder.exists():
        pytest.skip(f"{folder} not available")
    original = folder / "dolma_wget_sample-0000.warc.gz"
    renamed = tmp_path / "in" / "dolma_wget_sample-0000"
    renamed.parent.mkdir()
    shutil.copy(original, renamed)
    a, _ = run_extract(tmp_path / "a", [original])
    b, _ = run_extract(tmp_path / "b", [renamed])
    assert len(a) == 22 and [(d["id"], d["text"], d["source_offset"]) for d in a] == [(d["id"], d["text"], d["source_offset"]) for d in b]
    assert {d["extract_http_decoding"] for d in a} <= {None, "chunked", "gzip", "chunked,gzip"}
