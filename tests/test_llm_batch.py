"""curate.llm.batch: stable ids, request files with size limits, responses joined by custom_id."""

from __future__ import annotations

import orjson
import pytest

from curate.llm.batch import (
    BatchFileError,
    RequestWriter,
    json_schema_format,
    make_request,
    parse_response,
    read_requests,
    read_responses,
    iter_responses,
    request_id,
    response_line,
)

PARAMS = {"max_tokens": 8, "temperature": 0.0}


def _req(i: int, pad: int = 0) -> dict:
    cid = request_id(f"doc{i}", 0, "rate", "v1", "m", PARAMS)
    return make_request(cid, [{"role": "user", "content": f"text {i}" + "x" * pad}], "m", **PARAMS)


def _ok_body(text: str, tokens: int = 5) -> dict:
    return {"model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                       "finish_reason": "stop"}],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 2, "total_tokens": tokens + 2}}


def test_request_id_is_stable_and_sensitive_to_every_part():
    base = request_id("d1", 0, "rate", "v1", "m", {"temperature": 0, "max_tokens": 8})
    assert base == request_id("d1", 0, "rate", "v1", "m", {"max_tokens": 8, "temperature": 0})  # key order
    assert len(base) == 32 and int(base, 16) >= 0
    variants = [
        request_id("d2", 0, "rate", "v1", "m", {"temperature": 0, "max_tokens": 8}),
        request_id("d1", 1, "rate", "v1", "m", {"temperature": 0, "max_tokens": 8}),
        request_id("d1", 0, "tag", "v1", "m", {"temperature": 0, "max_tokens": 8}),
        request_id("d1", 0, "rate", "v2", "m", {"temperature": 0, "max_tokens": 8}),
        request_id("d1", 0, "rate", "v1", "m2", {"temperature": 0, "max_tokens": 8}),
        request_id("d1", 0, "rate", "v1", "m", {"temperature": 0.5, "max_tokens": 8}),
    ]
    assert len(set(variants + [base])) == 7


def test_make_request_is_an_openai_batch_line():
    fmt = json_schema_format("score", {"type": "object", "properties": {"score": {"type": "integer"}}})
    r = make_request("abc", [{"role": "user", "content": "hi"}], "m", max_tokens=4, response_format=fmt)
    assert r == {"custom_id": "abc", "method": "POST", "url": "/v1/chat/completions",
                 "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
                          "response_format": fmt}}
    with pytest.raises(ValueError):
        make_request("", [{"role": "user", "content": "hi"}], "m")


def test_writer_splits_by_lines_and_skips_duplicates(tmp_path):
    with RequestWriter(tmp_path, max_lines=3) as w:
        for i in range(7):
            assert w.write(_req(i))
        assert not w.write(_req(2))  # same custom_id again
    assert w.duplicates == 1 and w.written == 7
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["requests-00000.jsonl", "requests-00001.jsonl", "requests-00002.jsonl"]
    counts = [len((tmp_path / n).read_bytes().splitlines()) for n in names]
    assert counts == [3, 3, 1]
    got = list(read_requests(tmp_path))
    assert [r["custom_id"] for r in got] == [_req(i)["custom_id"] for i in range(7)]


def test_writer_splits_by_bytes_and_never_passes_the_limit(tmp_path):
    line_len = len(orjson.dumps(_req(0, pad=100))) + 1
    limit = line_len * 2 + 10  # room for two lines, not three
    w = RequestWriter(tmp_path, prefix="p", max_bytes=limit)
    for i in range(5):
        w.write(_req(i, pad=100))
    paths = w.close()
    assert len(paths) == 3
    assert all(p.stat().st_size <= limit for p in paths)
    with pytest.raises(ValueError, match="more than the file limit"):
        RequestWriter(tmp_path / "small", max_bytes=50).write(_req(0, pad=100))


def test_writer_is_atomic_and_replaces_a_previous_export(tmp_path):
    w = RequestWriter(tmp_path, max_lines=2)
    for i in range(5):
        w.write(_req(i))
    w.close()
    assert len(list(tmp_path.glob("requests-*.jsonl"))) == 3
    before = (tmp_path / "requests-00000.jsonl").read_bytes()
    w = RequestWriter(tmp_path, max_lines=2)
    w.write(_req(0))
    # before close, the file in progress exists only under a hidden temporary name: the visible
    # file is still the complete one of the previous export
    assert (tmp_path / "requests-00000.jsonl").read_bytes() == before
    assert any(p.name.startswith(".requests-00000") for p in tmp_path.iterdir())
    assert w.close() == [tmp_path / "requests-00000.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requests-00000.jsonl"]  # stale files removed
    assert [r["custom_id"] for r in read_requests(tmp_path)] == [_req(0)["custom_id"]]


def test_writer_abort_on_error_leaves_no_temporary_file(tmp_path):
    with pytest.raises(RuntimeError):
        with RequestWriter(tmp_path) as w:
            w.write(_req(0))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_read_requests_names_file_and_line_of_bad_input(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_bytes(orjson.dumps(_req(0)) + b"\n{not json\n")
    with pytest.raises(BatchFileError, match=r"r\.jsonl:2"):
        list(read_requests(p))
    p.write_bytes(orjson.dumps({"body": {}}) + b"\n")
    with pytest.raises(BatchFileError, match=r"r\.jsonl:1: .*custom_id"):
        list(read_requests(p))
    with pytest.raises(BatchFileError, match="no such file"):
        list(read_requests(tmp_path / "absent.jsonl"))


def test_responses_join_by_custom_id_out_of_order_with_unknown_and_duplicates(tmp_path):
    reqs = [_req(i) for i in range(4)]
    ids = [r["custom_id"] for r in reqs]
    lines = [
        response_line(ids[3], 200, _ok_body("three")),
        response_line("not-a-request", 200, _ok_body("stray")),
        response_line(ids[0], 200, _ok_body("zero", tokens=11)),
        response_line(ids[1], 400, {"error": {"message": "bad schema"}}),
        response_line(ids[0], 200, _ok_body("zero again")),
    ]
    f = tmp_path / "out.jsonl"
    f.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    got = read_responses(f, known_ids=ids)
    assert set(got) == {ids[0], ids[1], ids[3]}
    assert got[ids[3]].text == "three" and got[ids[3]].ok
    assert got[ids[0]].text == "zero" and got[ids[0]].usage["prompt_tokens"] == 11  # first kept
    assert got[ids[0]].finish_reason == "stop" and got[ids[0]].model == "m"
    assert got.duplicates == 1
    assert got.unknown == ["not-a-request"]
    assert got[ids[1]].error == "HTTP 400: bad schema" and not got[ids[1]].ok and got[ids[1]].status_code == 400
    assert got.missing(ids) == [ids[2]]
    # without known ids, the stray answer is kept
    assert "not-a-request" in read_responses(f)
    assert [a.custom_id for a in iter_responses(f)][:2] == [ids[3], "not-a-request"]


def test_error_lines_and_json_answers():
    a = parse_response({"custom_id": "x", "response": None, "error": {"code": "timeout", "message": "gave up"}})
    assert a.error == "timeout: gave up" and a.text is None and not a.ok
    b = parse_response(response_line("y", 200, _ok_body('{"score": 3}')))
    assert b.json() == {"score": 3}
    with pytest.raises(ValueError, match="not JSON"):
        parse_response(response_line("z", 200, _ok_body("three"))).json()


def test_torn_last_line_of_an_interrupted_writer_is_ignored_but_a_torn_middle_line_is_an_error(tmp_path):
    good = orjson.dumps(response_line("a", 200, _ok_body("A"))) + b"\n"
    f = tmp_path / "out.jsonl"
    f.write_bytes(good + b'{"custom_id": "b", "resp')
    assert list(read_responses(f)) == ["a"]
    f.write_bytes(b'{"custom_id": "b", "resp\n' + good)
    with pytest.raises(BatchFileError, match=r"out\.jsonl:1"):
        read_responses(f)
