"""The built-in sample crawl: valid WARC, labels that match it, deterministic."""

import html
import re
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard
from fastwarc.warc import ArchiveIterator, WarcRecordType

from curate.demo_crawl import generate, generate_sample
from curate.demo_crawl.plan import BAD_KINDS, SHARES

DOCS = 400
GOPHER_STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    out = tmp_path_factory.mktemp("crawl")
    return generate_sample(out, docs=DOCS, seed=7, shards=2)


def read_labels(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def warc_records(paths, parse_http=True):
    for path in paths:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f, parse_http=parse_http, record_types=WarcRecordType.any_type):
                yield path, record


def responses(paths) -> dict[str, tuple[str, bytes, str]]:
    """record id -> (target URI, HTTP payload, HTTP Content-Type)."""
    out = {}
    for _, r in warc_records(paths):
        if r.record_type == WarcRecordType.response:
            assert r.verify_payload_digest()
            out[r.headers["WARC-Record-ID"]] = (r.headers["WARC-Target-URI"], r.reader.read(),
                                                r.http_headers["Content-Type"])
    return out


def all_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    a = generate_sample(tmp_path / "a", docs=150, seed=3)
    b = generate_sample(tmp_path / "b", docs=150, seed=3)
    c = generate_sample(tmp_path / "c", docs=150, seed=4)
    assert a.counts == b.counts
    assert all_bytes(tmp_path / "a") == all_bytes(tmp_path / "b")
    assert all_bytes(tmp_path / "a")["crawl-00000.warc.gz"] != all_bytes(tmp_path / "c")["crawl-00000.warc.gz"]


def test_kind_mix(crawl):
    counts = crawl.counts
    assert sum(n for kind, n in counts.items() if kind != "non_html") == DOCS
    for kind, share in SHARES.items():
        assert abs(counts[kind] / DOCS - share) < 0.02, kind
    assert 0.35 < counts["article"] / DOCS < 0.5
    assert all(counts[kind] == 1 for kind in BAD_KINDS)
    languages = {lab["language"] for lab in read_labels(crawl.labels) if lab["kind"] == "foreign_article"}
    assert len(languages) >= 8


def test_warc_records_are_well_formed(crawl):
    per_file: dict[Path, list] = {}
    for path, r in warc_records(crawl.files, parse_http=False):
        per_file.setdefault(path, []).append(r.record_type)
        if "WARC-Block-Digest" in r.headers:
            assert r.verify_block_digest(), r.headers["WARC-Target-URI"]
    assert set(per_file) == set(crawl.files)
    for types in per_file.values():
        assert types[0] == WarcRecordType.warcinfo
        assert types.count(WarcRecordType.request) == types.count(WarcRecordType.response)
    assert sum(t.count(WarcRecordType.metadata) for t in per_file.values()) >= 2
    assert len(responses(crawl.files)) == DOCS + crawl.counts["non_html"]


def test_labels_line_up_with_records(crawl):
    labels = read_labels(crawl.labels)
    records = responses(crawl.files)
    assert [lab["id"] for lab in labels] == list(records)  # same records, same order
    for lab in labels:
        url, payload, ctype = records[lab["id"]]
        assert url == lab["url"]
        if lab["kind"] == "non_html":
            assert not ctype.startswith("text/html")
        elif lab["charset"]:
            assert ctype == f"text/html; charset={lab['charset']}"
    assert len({lab["url"] for lab in labels}) == len(labels)


def test_gold_text_is_in_the_html(crawl):
    records = responses(crawl.files)
    checked = 0
    for lab in read_labels(crawl.labels):
        if not lab["gold_text"]:
            continue
        _, payload, _ = records[lab["id"]]
        page = html.unescape(payload.decode(lab["charset"] or "utf-8", errors="replace"))
        for line in lab["gold_text"].split("\n"):
            assert line in page, (lab["kind"], line)
        checked += 1
    assert checked > 0.8 * DOCS


def test_encodings_and_bad_records(crawl):
    records = responses(crawl.files)
    by_kind: dict[str, list] = {}
    latin1 = 0
    for lab in read_labels(crawl.labels):
        by_kind.setdefault(lab["kind"], []).append(records[lab["id"]][1])
        if lab["charset"] == "iso-8859-1" and not records[lab["id"]][1].isascii():
            with pytest.raises(UnicodeDecodeError):  # really latin-1, not utf-8 mislabelled
                records[lab["id"]][1].decode("utf-8")
            latin1 += 1
    assert latin1 >= 3
    with pytest.raises(UnicodeDecodeError):
        by_kind["bad_utf8"][0].decode("utf-8")
    assert b"<html" not in by_kind["binary_as_html"][0]
    assert len(by_kind["huge"][0]) > 1_500_000
    payloads = {p[:8] for p in by_kind["non_html"]}
    assert b"\x89PNG\r\n\x1a\n" in payloads and b"%PDF-1.4" in payloads


def test_duplicates(crawl):
    labels = read_labels(crawl.labels)
    by_url = {lab["url"]: lab for lab in labels}
    near = 0
    for lab in labels:
        if lab["kind"] == "exact_duplicate":
            assert lab["gold_text"] == by_url[lab["duplicate_of"]]["gold_text"]
        elif lab["kind"] == "near_duplicate":
            original = by_url[lab["duplicate_of"]]
            assert original["kind"] == "article"
            old, new = original["gold_text"].split(), lab["gold_text"].split()
            assert len(old) == len(new)
            changed = sum(a != b for a, b in zip(old, new))
            assert changed >= 1
            assert abs(changed / len(old) - lab["edit_fraction"]) <= 1 / len(old) + 1e-9
            near += 1
        else:
            assert lab["duplicate_of"] is None
    assert near == crawl.counts["near_duplicate"]


def test_english_articles_look_like_prose(crawl):
    texts = [lab["gold_text"] for lab in read_labels(crawl.labels) if lab["kind"] == "article"]
    words = [w for text in texts for w in re.findall(r"[A-Za-z]+", text)]
    assert 4.3 < sum(map(len, words)) / len(words) < 5.5
    for text in texts:
        body = text.split("\n")[1:]
        assert 5 <= len(body) <= 15
        assert all(p[-1] in ".?!" for p in body)
        assert len(GOPHER_STOP_WORDS & set(text.split())) >= 2  # Gopher's stop-word rule


def test_train_sets(crawl):
    pos = read_labels(crawl.train_positive)
    neg = read_labels(crawl.train_negative)
    assert len(pos) == len(neg) == 150
    assert all(r.keys() == {"id", "text", "source"} for r in pos + neg)
    assert len({r["id"] for r in pos + neg}) == 300
    corpus_texts = {lab["gold_text"] for lab in read_labels(crawl.labels)}
    assert not corpus_texts & {r["text"] for r in pos}


def read_jsonl_zst(path: Path) -> list[dict]:
    data = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    return [orjson.loads(line) for line in data.splitlines()]


def test_jsonl_mode(tmp_path):
    info = generate_sample(tmp_path, docs=1000, seed=1, shards=3, fmt="jsonl")
    assert [p.name for p in info.files] == ["docs-00000.jsonl.zst", "docs-00001.jsonl.zst", "docs-00002.jsonl.zst"]
    docs = [d for p in info.files for d in read_jsonl_zst(p)]
    labels = read_labels(info.labels)
    assert len(docs) == len(labels) == 1000
    assert all(d.keys() == {"id", "text", "url", "source"} for d in docs)
    assert len({d["id"] for d in docs}) == 1000
    assert "binary_as_html" not in info.counts and info.counts["huge"] == 1
    for doc, lab in zip(docs, labels):
        assert doc["id"] == lab["id"] and doc["url"] == lab["url"]
        if lab["kind"] != "boilerplate":
            assert doc["text"] == lab["gold_text"]


def test_parallel_shards_match_sequential(tmp_path, monkeypatch):
    sequential = generate_sample(tmp_path / "seq", docs=300, seed=2, fmt="jsonl")
    monkeypatch.setattr(generate, "PARALLEL_MIN_DOCS", 1)
    parallel = generate_sample(tmp_path / "par", docs=300, seed=2, fmt="jsonl")
    assert sequential.counts == parallel.counts
    assert all_bytes(tmp_path / "seq") == all_bytes(tmp_path / "par")


def test_parquet_mode(tmp_path):
    info = generate_sample(tmp_path, docs=120, seed=5, shards=2, fmt="parquet")
    table = pq.read_table(info.files[0])
    assert table.column_names == ["id", "text", "url", "source"]
    assert sum(pq.read_table(p).num_rows for p in info.files) == 120


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_sample(tmp_path, fmt="csv")
    with pytest.raises(ValueError):
        generate_sample(tmp_path, docs=0)


def test_command_is_demo_crawl(tmp_path):
    from tests.conftest import run_cli

    run_cli("demo-crawl", str(tmp_path / "c"), "--docs", "30", "--format", "jsonl", check=True)
    assert sorted(p.name for p in (tmp_path / "c").glob("docs-*.jsonl.zst")) == ["docs-00000.jsonl.zst", "docs-00001.jsonl.zst"]
