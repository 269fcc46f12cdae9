"""The extract stage on archives and HTML files the tests build themselves, bad input included."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from curate.inputs import resolve_inputs
from curate.runner import run_stage
from curate.shards import read_shard
from curate.stages.extract import ExtractStage
from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text
from curate.stages.extract.html import decode_html
from curate.stages.extract.warc import iter_records

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).parents[1].parent / "shared" / "data"

PARAGRAPH = (
    "The river rose slowly through the night, and by morning the lower town was under a metre of brown water. "
    "Volunteers carried sandbags from the church hall to the bakery while the mayor spoke to reporters. "
)


def article(title: str = "Flood in the lower town", body: str = PARAGRAPH, extra: str = "") -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li><li><a href='/sport'>Sport</a></li></ul></nav>"
        f"<article><h1>{title}</h1><p>{body * 3}</p><p>{body * 2}</p>{extra}</article>"
        "<div class='share'>Share on Facebook</div>"
        "<footer>Copyright © 2024 Example News. All rights reserved.</footer></body></html>"
    )


def http_response(body: bytes, content_type: str | None = "text/html; charset=utf-8", status: str = "200 OK",
                  extra_headers: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += extra_headers + f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


def warc_record(kind: str, uri: str | None, block: bytes, record_id: str, content_type: str = "application/http; msgtype=response",
                version: str = "1.0") -> bytes:
    head = f"WARC/{version}\r\nWARC-Type: {kind}\r\nWARC-Record-ID: <urn:uuid:{record_id}>\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
    if uri:
        head += f"WARC-Target-URI: {uri}\r\n"
    head += f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n"
    return head.encode() + block + b"\r\n\r\n"


def write_warc_gz(path: Path, records: list[bytes]) -> list[int]:
    """One gzip member per record, as Common Crawl writes them; returns each record's offset."""
    offsets, data = [], b""
    for rec in records:
        offsets.append(len(data))
        data += gzip.compress(rec)
    path.write_bytes(data)
    return offsets


def run_extract(tmp_path: Path, inputs: list[Path], workers: int = 1, **options) -> tuple[list[dict], list[dict]]:
    stage = ExtractStage(**options)
    out = tmp_path / "out"
    shards = resolve_inputs([str(p) for p in inputs], stage.input_suffixes)
    result = run_stage(stage, shards, out, workers=workers, resume=False)
    assert result.balanced
    kept = [d for p in sorted(out.glob("*.parquet")) for d in read_shard(p)]
    rejected = [d for p in sorted((out / "rejected").glob("*.parquet")) for d in read_shard(p)]
    return kept, rejected


def standard_warc(path: Path) -> list[int]:
    records = [
        warc_record("warcinfo", None, b"software: test\r\n", "00000000-0000-0000-0000-000000000000", "application/warc-fields"),
        warc_record("request", "https://news.example.com/flood", b"GET /flood HTTP/1.1\r\n\r\n", "00000000-0000-0000-0000-000000000001",
                    "application/http; msgtype=request"),
        warc_record("response", "https://news.example.com/flood", http_response(article().encode()), "00000000-0000-0000-0000-000000000002"),
        warc_record("response", "https://news.example.com/logo.png", http_response(b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png"),
                    "00000000-0000-0000-0000-000000000003"),
        warc_record("metadata", "https://news.example.com/flood", b"fetchTimeMs: 12\r\n", "00000000-0000-0000-0000-000000000004",
                    "application/warc-fields"),
        warc_record("response", "https://news.example.com/moved", http_response(b"<html>moved</html>", status="301 Moved"),
                    "00000000-0000-0000-0000-000000000005"),
        warc_record("response", "https://www.example.org/river", http_response(article("The river").encode()),
                    "00000000-0000-0000-0000-000000000006"),
    ]
    return write_warc_gz(path, records)


def test_documents_carry_text_language_and_provenance(tmp_path):
    warc = tmp_path / "crawl.warc.gz"
    offsets = standard_warc(warc)
    kept, rejected = run_extract(tmp_path, [warc])
    # Only the two HTML 200 responses become documents; request, metadata, image, redirect are counted, not rejected.
    assert rejected == []
    assert [d["id"] for d in kept] == ["urn:uuid:00000000-0000-0000-0000-000000000002", "urn:uuid:00000000-0000-0000-0000-000000000006"]
    doc = kept[0]
    assert doc["url"] == "https://news.example.com/flood"
    assert doc["domain"] == "news.example.com"
    assert doc["crawl_date"] == "2024-05-18T01:58:10Z"
    assert doc["content_type"] == "text/html" and doc["charset"] == "utf-8"
    assert doc["title"] == "Flood in the lower town"
    assert doc["language"] == "en" and doc["language_score"] > 0.8
    assert "Volunteers carried sandbags" in doc["text"]
    for boilerplate in ("Share on Facebook", "All rights reserved", "Sport"):
        assert boilerplate not in doc["text"]
    # The offset leads back to the record: its gzip member starts there.
    assert doc["source_file"] == str(warc) and doc["source_offset"] == offsets[2]
    with open(warc, "rb") as f:
        f.seek(doc["source_offset"])
        member = zlib.decompressobj(31).decompress(f.read())
    assert member.startswith(b"WARC/1.0") and b"urn:uuid:00000000-0000-0000-0000-000000000002" in member


def test_truncated_gzip_keeps_earlier_records_and_says_so(tmp_path):
    full = tmp_path / "full.warc.gz"
    offsets = standard_warc(full)
    cut = tmp_path / "cut.warc.gz"
    data = full.read_bytes()
    cut.write_bytes(data[: offsets[6] + (len(data) - offsets[6]) // 2])  # inside the last member
    kept, rejected = run_extract(tmp_path, [cut])
    assert [d["id"] for d in kept] == ["urn:uuid:00000000-0000-0000-0000-000000000002"]
    assert [d["reject_reason"] for d in rejected] == ["extract:truncated"]
    assert str(cut) in rejected[0]["reject_detail"]


def test_record_cut_inside_its_block_is_truncated(tmp_path):
    plain = tmp_path / "cut.warc"
    rec = warc_record("response", "https://a.example/", http_response(article().encode()), "00000000-0000-0000-0000-00000000000a")
    plain.write_bytes(rec[: len(rec) - 300])
    kept, rejected = run_extract(tmp_path, [plain])
    assert kept == []
    assert [d["reject_reason"] for d in rejected] == ["extract:truncated"]
    assert rejected[0]["id"] == "urn:uuid:00000000-0000-0000-0000-00000000000a"


def test_malformed_header_is_rejected_and_reading_goes_on(tmp_path):
    warc = tmp_path / "bad.warc.gz"
    good = warc_record("response", "https://a.example/", http_response(article().encode()), "00000000-0000-0000-0000-00000000000b")
    write_warc_gz(warc, [b"this is not a WARC header\r\nnor this\r\n\r\n", good,
                         b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: lots\r\n\r\nxx\r\n\r\n", good.replace(b"0b>", b"0c>")])
    kept, rejected = run_extract(tmp_path, [warc])
    assert [d["id"] for d in kept] == ["urn:uuid:00000000-0000-0000-0000-00000000000b", "urn:uuid:00000000-0000-0000-0000-00000000000c"]
    assert sorted(d["reject_reason"] for d in rejected) == ["extract:malformed", "extract:malformed"]


def test_charsets_missing_wrong_and_invalid(tmp_path):
    cafe = "Le café de la gare sert un très bon thé à côté du marché, où les élèves étudient le français chaque matin."
    cyr = "Пожарная безопасность — это состояние защищённости личности, имущества, общества и государства от пожаров."
    pages = {
        # no charset anywhere, cp1252 bytes
        "a": (article("Café", cafe).encode("cp1252"), "text/html"),
        # header says latin-1 but the bytes are UTF-8
        "b": (article("Café", cafe).encode("utf-8"), "text/html; charset=iso-8859-1"),
        # charset only in <meta>, windows-1251
        "c": (article("Пожар", cyr).replace("<head>", "<head><meta charset='windows-1251'>").encode("cp1251"), "text/html"),
        # UTF-8 with stray invalid bytes
        "d": (article("Café", cafe).encode("utf-8").replace(b"gare", b"ga\xff\xferee", 1), "text/html; charset=utf-8"),
        # an unknown charset name
        "e": (article("Café", cafe).encode("utf-8"), "text/html; charset=x-no-such-charset"),
    }
    warc = tmp_path / "charsets.warc.gz"
    write_warc_gz(warc, [warc_record("response", f"https://{k}.example/", http_response(body, ct), f"00000000-0000-0000-0000-00000000001{k}")
                         for k, (body, ct) in pages.items()])
    kept, rejected = run_extract(tmp_path, [warc])
    assert rejected == []
    by_host = {d["domain"]: d for d in kept}
    assert "café de la gare" in by_host["a.example"]["text"] and by_host["a.example"]["language"] == "fr"
    assert "café de la gare" in by_host["b.example"]["text"] and by_host["b.example"]["charset"] == "utf-8"
    assert "Пожарная безопасность" in by_host["c.example"]["text"] and by_host["c.example"]["language"] == "ru"
    assert "très bon thé" in by_host["d.example"]["text"]
    assert "très bon thé" in by_host["e.example"]["text"]


def test_binary_labelled_html_empty_and_huge_pages(tmp_path):
    huge_body = "".join(f"<p>Paragraph {i}: {PARAGRAPH}</p>" for i in range(3000))
    warc = tmp_path / "odd.warc.gz"
    write_warc_gz(warc, [
        warc_record("response", "https://bin.example/", http_response(b"%PDF-1.4\n" + os.urandom(3000)), "00000000-0000-0000-0000-000000000021"),
        warc_record("response", "https://noise.example/", http_response(os.urandom(5000)), "00000000-0000-0000-0000-000000000022"),
        warc_record("response", "https://empty.example/", http_response(b"<html><body><div></div></body></html>"), "00000000-0000-0000-0000-000000000023"),
        warc_record("response", "https://huge.example/", http_response(article(body=huge_body).encode()), "00000000-0000-0000-0000-000000000024"),
    ])
    kept, rejected = run_extract(tmp_path, [warc], max_html_bytes=200_000)
    reasons = {d["domain"]: d["reject_reason"] for d in rejected}
    assert reasons == {"bin.example": "extract:not_html", "noise.example": "extract:not_html", "empty.example": "extract:empty"}
    (huge,) = kept
    assert huge["html_truncated"] is True and huge["html_bytes"] > 200_000
    assert "Paragraph 0:" in huge["text"] and "Paragraph 2999:" not in huge["text"]


def test_time_limit_rejects_slow_pages_in_worker_processes(tmp_path):
    # A limit far below any page's extraction time: every page times out, in two worker processes.
    warcs = []
    for n in range(2):
        warcs.append(tmp_path / f"w{n}.warc.gz")
        write_warc_gz(warcs[-1], [warc_record("response", f"https://{n}.example/", http_response(article(body=PARAGRAPH * 40).encode()),
                                              f"00000000-0000-0000-0000-00000000003{n}")])
    kept, rejected = run_extract(tmp_path, warcs, workers=2, timeout_seconds=1e-6)
    assert kept == []
    assert [d["reject_reason"] for d in rejected] == ["extract:timeout", "extract:timeout"]


def test_time_limit_interrupts_a_hanging_extractor(tmp_path, monkeypatch):
    import curate.stages.extract as extract

    def hang(html, opts, tree=None):
        while True:
            pass

    monkeypatch.setattr(extract, "extract_main_text", hang)
    page = tmp_path / "page.html"
    page.write_text(article())
    stage = ExtractStage(timeout_seconds=0.2)
    (shard,) = resolve_inputs([str(page)], stage.input_suffixes)
    (doc,) = stage.process(stage.read(shard))
    assert doc["reject_reason"] == "extract:timeout"


def test_deeply_nested_page_is_fast_and_keeps_its_text(tmp_path):
    # resiliparse's main-content pass is quadratic in depth and uninterruptible (C): 100k levels took minutes.
    page = tmp_path / "deep.html"
    page.write_text("<html><body>" + "<div>" * 100_000 + f"<p>{PARAGRAPH}</p>" + "</div>" * 100_000 + "</body></html>")
    stage = ExtractStage(timeout_seconds=0)
    (shard,) = resolve_inputs([str(page)], stage.input_suffixes)
    t0 = time.perf_counter()
    (doc,) = stage.process(stage.read(shard))
    assert time.perf_counter() - t0 < 5
    assert "Volunteers carried sandbags" in doc["text"] and not doc.get("reject_reason")


@pytest.mark.parametrize("depth", [8, 9, 10, 11, 40])
@pytest.mark.parametrize("after", ["", "<span>x</span>", "<b>after</b> text <i>more</i>"])
def test_depth_guard_selector_answers_as_the_full_chain(depth, after):
    # the guard tries only last children (cheaper); a deep element's parent's last child is as deep
    from resiliparse.parse.html import HTMLTree

    from curate.stages.extract.boilerplate import _deeper_than

    page = "<html><body>" + "<div>" * (depth - 2) + "<p>deep</p>" + after + "</div>" * (depth - 2) + "</body></html>"
    document = HTMLTree.parse(page).document
    full_chain = " > ".join(["*"] * 11)
    assert (document.query_selector(_deeper_than(10)) is None) == (document.query_selector(full_chain) is None)
    assert (document.query_selector(_deeper_than(10)) is None) == (depth < 10)


@pytest.mark.parametrize("page, deep", [
    ("<html><body>" + "<div>" * 600 + "x", False),  # deep, but few tags: cheap however nested, not checked
    ("<html><body>" + "<div>" * 600 + "<p>x</p>" * 4000, True),  # deep and many tags: checked, deep
    ("<html><body>" + "<div><p>x</p></div>" * 3000, False),  # many tags, shallow
])
def test_depth_guard_checks_only_pages_with_many_tags(page, deep):
    from resiliparse.parse.html import HTMLTree

    from curate.stages.extract.blocks import scan
    from curate.stages.extract.boilerplate import too_deep

    assert too_deep(HTMLTree.parse(page), 512, scan(page)[0]) is deep


def test_old_formats_warc_018_and_arc_v1(tmp_path):
    page = http_response(article().encode(), "text/html")
    warc018 = tmp_path / "old.warc"
    warc018.write_bytes(warc_record("response", "http://old.example/", page, "00000000-0000-0000-0000-000000000041", version="0.18")
                        # WARC 0.9-style positional first line
                        + f"WARC/0.9 {len(page)} response http://older.example/ 20080101000000 urn:uuid:42 application/http\r\n\r\n".encode()
                        + page + b"\r\n\r\n")
    filedesc = b"1 0 Alexa Internet\nURL IP-address Archive-date Content-type Archive-length\n"
    arc = (b"filedesc://test.arc 0.0.0.0 19960923142103 text/plain " + str(len(filedesc)).encode() + b"\n" + filedesc + b"\n"
           + b"http://www.arc.example:80/index.html 127.10.100.2 19961104142103 text/html " + str(len(page)).encode() + b"\n" + page + b"\n")
    arc_path = tmp_path / "old.arc.gz"
    arc_path.write_bytes(gzip.compress(arc))
    kept, rejected = run_extract(tmp_path, [warc018, arc_path])
    assert rejected == []
    by_host = {d["domain"]: d for d in kept}
    assert set(by_host) == {"old.example", "older.example", "www.arc.example"}
    assert by_host["www.arc.example"]["crawl_date"] == "1996-11-04T14:21:03Z"
    assert all("Volunteers carried sandbags" in d["text"] for d in kept)
    # ARC records have no record id: the id comes from URL and payload, the same on every run.
    again, _ = run_extract(tmp_path / "again", [arc_path])
    assert again[0]["id"] == by_host["www.arc.example"]["id"]


def test_wet_conversion_records_are_text_already(tmp_path):
    text = "Cette page parle de la rivière et de la crue.\nLes habitants ont porté des sacs de sable toute la nuit."
    wet = tmp_path / "crawl.warc.wet.gz"
    write_warc_gz(wet, [warc_record("conversion", "https://fr.example/crue", text.encode(), "00000000-0000-0000-0000-000000000051",
                                    "text/plain")])
    (doc,), rejected = run_extract(tmp_path, [wet])
    assert doc["text"] == text and doc["language"] == "fr" and doc["content_type"] == "text/plain"


def test_wget_style_chunked_gzip_bodies(tmp_path):
    body = gzip.compress(article().encode())
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 500]), body[i:i + 500]) for i in range(0, len(body), 500)) + b"0\r\n\r\n"
    block = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    warc = tmp_path / "wget.warc"
    warc.write_bytes(warc_record("response", "<https://w.example/>", block, "00000000-0000-0000-0000-000000000061"))
    (doc,), _ = run_extract(tmp_path, [warc])
    assert doc["url"] == "https://w.example/" and "Volunteers carried sandbags" in doc["text"]


def test_html_folder_through_the_cli_with_stable_ids(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "flood.html").write_text(article())
    (pages / "river.htm").write_bytes(article("Río", "El río subió lentamente durante la noche y por la mañana la parte baja del pueblo estaba bajo el agua. ").encode("cp1252"))
    (pages / "blank.html").write_text("<html><body>  </body></html>")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ids = []
    for run in ("a", "b"):
        out = tmp_path / run
        proc = subprocess.run([sys.executable, "-m", "curate.cli", "extract", str(pages), "-o", str(out)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        kept = sorted((d for p in out.glob("*.parquet") for d in read_shard(p)), key=lambda d: d["title"])
        rejected = [d for p in (out / "rejected").glob("*.parquet") for d in read_shard(p)]
        assert [d["title"] for d in kept] == ["Flood in the lower town", "Río"]
        assert [d["language"] for d in kept] == ["en", "es"]
        assert [d["reject_reason"] for d in rejected] == ["extract:empty"]
        ids.append([d["id"] for d in kept])
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


def test_boilerplate_pass_keeps_article_drops_chrome():
    menu = "".join(f"<li><a href='/{i}'>Section {i}</a></li>" for i in range(12))
    html = (f"<html><body><div class='menu'><ul>{menu}</ul></div><div id='content'><h2>The flood</h2><p>{PARAGRAPH}</p>"
            f"<p>Follow us on Twitter</p><p>{PARAGRAPH.upper()}</p></div>"
            "<div><p>Related stories</p><p>Mayor resigns</p><p>Bakery reopens</p></div></body></html>")
    for method in ("model", "rules"):
        text, _ = extract_main_text(html, ExtractOptions(method=method))
        lines = text.split("\n")
        assert PARAGRAPH.strip() in lines and PARAGRAPH.upper().strip() in lines
        for chrome in ("Section 3", "Follow us", "Related stories", "Bakery reopens"):
            assert chrome not in text, (method, chrome)
    # Known gap of the block model: one short unlinked line after the article ("Mayor resigns") survives;
    # the line rules drop it.
    assert "Mayor resigns" not in extract_main_text(html, ExtractOptions(method="rules"))[0]


@pytest.mark.parametrize("charset, text", [
    ("big5", "這是一個測試頁面，內容是關於台灣的歷史與文化，以及許多其他的主題。"),
    ("shift_jis", "これはテストページです。日本の歴史と文化について書かれています。"),
    ("euc-kr", "이것은 테스트 페이지입니다. 한국의 역사와 문화에 대해 설명합니다."),
    ("gbk", "中华人民共和国卫生与健康领域有了基本法，这是一个重要的里程碑。"),
    ("koi8-r", "Пожарная безопасность - это состояние защищённости личности, имущества."),
    ("iso8859-7", "Αυτή είναι μια δοκιμαστική σελίδα για την ιστορία της Ελλάδας."),
    ("cp1252", "“Le café” coûte 3 € à côté du marché, où les élèves étudient."),
])
def test_undeclared_charsets_are_detected(charset, text):
    page = f"<html><body><p>{text * 20}</p></body></html>"
    assert decode_html(page.encode(charset), None)[0] == page


def test_decode_prefers_a_declared_charset_that_decodes():
    assert decode_html("naïve".encode("cp1252"), "windows-1252") == ("naïve", "cp1252")
    assert decode_html("naïve".encode("utf-8"), "iso-8859-1")[0] == "naïve"
    assert decode_html(b"\xef\xbb\xbfplain", None) == ("plain", "utf-8")


# ------------------------------------------------------------------ on real data (skipped without ../shared)


def _shared(path: str) -> Path:
    p = SHARED / path
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def test_real_archives_read_cleanly(tmp_path):
    folder = _shared("warc")
    for path in sorted(folder.glob("*.w*.gz")):
        records = list(iter_records(path, 1 << 20))
        assert records and not [r.problem for r in records if r.problem], path
    kept, rejected = run_extract(tmp_path, [folder])
    assert len(kept) == 55 and rejected == []
    assert len({d["id"] for d in kept}) == 55
    langs = {d["language"] for d in kept}
    assert {"en", "zh"} <= langs


def test_readability_pages_accuracy():
    pages = _shared("readability_testpages/pages")
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_extract import load_readability, prf

    docs = load_readability(pages)
    f1 = [prf(extract_main_text(p["html"], ExtractOptions())[0], p["gold"])[2] for p in docs]
    assert len(f1) == 130 and sum(f1) / len(f1) > 0.94


def test_extract_is_the_first_stage_of_curate_run(tmp_path):
    from curate.config import load_config
    from curate.pipeline import chain_problems, run_pipeline

    standard_warc(tmp_path / "crawl.warc.gz")
    config = tmp_path / "run.yaml"
    config.write_text(
        "run_dir: runs\ninputs: [crawl.warc.gz]\n"
        "stages:\n  - stage: extract\n    max_html_bytes: 500000\n    lid_max_chars: 1000\n  - stage: ingest\n"
    )
    cfg, specs = load_config(config)
    results = run_pipeline(cfg, specs)
    assert chain_problems(results) == []
    assert [(r.stage, r.stats.kept) for r in results] == [("extract", 2), ("ingest", 2)]
    second = run_pipeline(cfg, specs)  # resumed: nothing redone
    assert [r.shards_run for r in second] == [0, 0]


def test_json_given_as_an_archive_is_rejected_with_a_hint(tmp_path):
    wrong = tmp_path / "docs.warc.gz"
    wrong.write_bytes(gzip.compress(b'{"text": "already text"}\n'))
    kept, rejected = run_extract(tmp_path, [wrong])
    assert kept == [] and [d["reject_reason"] for d in rejected] == ["extract:not_archive"]
    assert "curate ingest" in rejected[0]["reject_detail"]


def test_undecodable_content_encoding_is_rejected(tmp_path):
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n" + b"\x1f\x8b\x08\x00garbage" * 20
    warc = tmp_path / "enc.warc"
    warc.write_bytes(warc_record("response", "https://enc.example/", block, "00000000-0000-0000-0000-000000000071"))
    kept, rejected = run_extract(tmp_path, [warc])
    assert kept == [] and [d["reject_reason"] for d in rejected] == ["extract:bad_encoding"]
    assert not [k for k in rejected[0] if k.startswith("_")]  # no internal fields leak into shards


def test_python_reader_streams_many_members_in_linear_time(tmp_path):
    # Thousands of small records in 1 MiB reads: offsets exact, no quadratic buffer copying.
    from curate.stages.extract.warc import python_records

    records = [warc_record("response", f"https://e.example/{i}", http_response(b"<p>x</p>"), f"00000000-0000-0000-0000-{i:012d}")
               for i in range(5000)]
    warc = tmp_path / "many.warc.gz"
    offsets = write_warc_gz(warc, records)
    got = list(python_records(warc, 1 << 20))
    assert [r.offset for r in got] == offsets and not any(r.problem for r in got)


def test_trafilatura_backend(tmp_path):
    pytest.importorskip("trafilatura")
    page = tmp_path / "page.html"
    page.write_text(article())
    (doc,), rejected = run_extract(tmp_path, [page], extractor="trafilatura")
    assert "Volunteers carried sandbags" in doc["text"] and "All rights reserved" not in doc["text"]
    assert doc["title"] == "Flood in the lower town" and doc["language"] == "en"


def test_sample_crawl_pages_come_out_as_labelled(tmp_path):
    # The built-in synthetic crawl (curate demo-crawl) labels every page: what extract must do with each kind.
    sample = pytest.importorskip("curate.demo_crawl")
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_extract import prf

    info = sample.generate_sample(tmp_path / "sample", docs=120, seed=1, shards=2, fmt="warc")
    labels = {}
    for line in open(info.labels):
        rec = json.loads(line)
        labels[rec["id"].strip("<>")] = rec
    kept, rejected = run_extract(tmp_path, [tmp_path / "sample"])
    for doc in rejected:
        assert labels[doc["id"]]["kind"] in ("binary_as_html", "short", "boilerplate", "non_html"), doc["reject_reason"]
    assert {labels[d["id"]]["kind"] for d in rejected if d["reject_reason"] == "extract:not_html"} <= {"binary_as_html"}
    articles = [d for d in kept if labels[d["id"]]["kind"] == "article"]
    assert articles
    assert sum(prf(d["text"], labels[d["id"]]["gold_text"])[2] for d in articles) / len(articles) > 0.9
    assert all(d["language"] == labels[d["id"]]["language"] for d in articles)
