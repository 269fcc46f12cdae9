"""Reading and writing shards, and every kind of bad input the reader must survive."""

from __future__ import annotations

import gzip

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.shards import FORMATS, ShardWriter, read_shard
from tests.conftest import write_jsonl


def _docs(n: int) -> list[dict]:
    return [{"id": f"d{i}", "text": f"document number {i}", "url": f"https://x.test/{i}"} for i in range(n)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_roundtrip_every_format(tmp_path, fmt):
    w = ShardWriter(tmp_path / f"out.{fmt}", fmt)
    for d in _docs(50):
        w.write(dict(d))
    path = w.commit()
    back = list(read_shard(path, source="s"))
    assert [d["id"] for d in back] == [f"d{i}" for i in range(50)]
    assert back[7]["text"] == "document number 7" and back[7]["source"] == "s"
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


def test_writer_is_atomic_until_commit(tmp_path):
    w = ShardWriter(tmp_path / "out.parquet", "parquet")
    w.write({"id": "a", "text": "x"})
    assert not (tmp_path / "out.parquet").exists()
    w.abort()
    assert not list(tmp_path.iterdir())


def test_writer_unifies_schema_across_row_groups(tmp_path, monkeypatch):
    # a column null in the first row group and typed later, and a column that appears late
    import curate.shards as shards

    monkeypatch.setattr(shards.write, "ROW_GROUP_ROWS", 2)
    w = ShardWriter(tmp_path / "out.parquet", "parquet")
    w.write({"id": "1", "text": "a", "title": None})
    w.write({"id": "2", "text": "b", "title": None})
    w.write({"id": "3", "text": "c", "title": "T", "score": 1})
    w.write({"id": "4", "text": "d", "title": "U", "score": 2.5})
    path = w.commit()
    table = pq.read_table(path)
    assert table.column("title").to_pylist() == [None, None, "T", "U"]
    assert table.column("score").to_pylist() == [None, None, 1.0, 2.5]
    assert pq.ParquetFile(path).metadata.num_row_groups == 2


def test_missing_ids_and_sources_are_filled(tmp_path):
    p = write_jsonl(tmp_path / "c.jsonl", [{"text": "one"}, {"text": "two", "id": 7, "source": "own"}])
    a, b = read_shard(p, name="c", source="coll")
    assert (a["id"], a["source"], a["url"]) == ("c:1", "coll", None)
    assert (b["id"], b["source"]) == ("7", "own")


def test_invalid_json_line_is_rejected_and_reading_goes_on(tmp_path, caplog):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"text": "good one"}\n{"text": broken\n[1, 2]\n{"text": "good two"}\n')
    docs = list(read_shard(p))
    assert [d.get("reject_reason") for d in docs] == [None, "read:invalid_json", "read:invalid_json", None]
    assert docs[1]["source_line"] == 2 and docs[1]["text"].startswith('{"text": broken')
    assert "bad.jsonl" in caplog.text and "line 2" in caplog.text


def test_missing_text_is_rejected(tmp_path):
    p = write_jsonl(tmp_path / "m.jsonl", [{"id": "x", "body": "no text field"}, {"id": "y", "text": 5}])
    docs = list(read_shard(p))
    assert [d["reject_reason"] for d in docs] == ["read:missing_text", "read:missing_text"]
    assert docs[0]["body"] == "no text field", "the rejected record keeps what it had"


def test_non_utf8_bytes_are_rejected(tmp_path):
    p = tmp_path / "enc.jsonl"
    p.write_bytes(b'{"text": "caf\xe9 latin-1"}\n{"text": "fine"}\n')
    bad, good = read_shard(p)
    assert bad["reject_reason"] == "read:invalid_utf8" and "caf" in bad["text"]
    assert good["text"] == "fine"


@pytest.mark.parametrize("compress", ["gz", "zst"])
def test_truncated_compressed_file_keeps_what_was_read(tmp_path, compress):
    raw = b"".join(orjson.dumps({"id": str(i), "text": f"doc {i} " * 20}) + b"\n" for i in range(2000))
    data = gzip.compress(raw) if compress == "gz" else zstandard.ZstdCompressor().compress(raw)
    p = tmp_path / f"t.jsonl.{compress}"
    p.write_bytes(data[: len(data) // 2])
    docs = list(read_shard(p))
    good = [d for d in docs if not d.get("reject_reason")]
    assert 0 < len(good) < 2000
    assert docs[-1]["reject_reason"] == "read:truncated"
    assert f"after line {len(good)}" in docs[-1]["reject_detail"]


def test_empty_file_yields_nothing(tmp_path, caplog):
    p = tmp_path / "empty.jsonl"
    p.touch()
    assert list(read_shard(p)) == []
    assert "empty" in caplog.text


def test_corrupt_parquet_is_one_rejected_record(tmp_path):
    p = tmp_path / "broken.parquet"
    p.write_bytes(b"PAR1 this is not really parquet")
    (rec,) = read_shard(p)
    assert rec["reject_reason"] == "read:corrupt_file" and "broken.parquet" in rec["source_file"]


def test_multi_frame_zst_reads_every_frame(tmp_path):
    c = zstandard.ZstdCompressor()
    frames = [c.compress(b"".join(orjson.dumps({"text": f"f{f} d{i}"}) + b"\n" for i in range(100))) for f in range(3)]
    p = tmp_path / "multi.jsonl.zst"
    p.write_bytes(b"".join(frames))
    docs = list(read_shard(p))
    assert len(docs) == 300 and not any(d.get("reject_reason") for d in docs)
