"""curate select: SQL predicates over shard columns, --explain, global --keep-top, nothing lost."""

from __future__ import annotations

import math

import orjson
import pytest

from curate.query import split_conjuncts
from tests.conftest import run_cli
from tests.query_corpus import invoke, make_docs, read_folder, write_shards

WHERE = "language = 'en' AND rating_edu >= 3 AND quality_bucket > 11"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("q") / "in"
    docs = make_docs(900, seed=1)
    write_shards(folder, docs, shards=3)
    return folder, docs


def passes(d):
    return d["language"] == "en" and d["rating_edu"] is not None and d["rating_edu"] >= 3 and d["quality_bucket"] > 11


def manifests(out):
    return [orjson.loads(p.read_bytes()) for p in sorted((out / "_manifest").glob("*.json"))]


def test_predicate_selects_and_rejects_the_rest_with_the_reason(tmp_path, corpus):
    folder, docs = corpus
    out = tmp_path / "out"
    run_cli("select", str(folder), "-o", str(out), "--where", WHERE, check=True)  # once as a user runs it
    kept = read_folder(out)
    rejected = read_folder(out / "rejected")
    assert sorted(d["id"] for d in kept) == sorted(d["id"] for d in docs if passes(d))
    assert len(kept) + len(rejected) == len(docs)
    assert {d["reject_reason"] for d in rejected} == {"select:where"}
    by_id = {d["id"]: d for d in rejected}
    for d in docs:
        if passes(d):
            continue
        r = by_id[d["id"]]
        assert r["text"] == d["text"] and r["n_tokens"] == d["n_tokens"]  # every column kept
        if d["language"] != "en":
            assert r["reject_detail"] == "false: language = 'en'"
        elif d["rating_edu"] is None:
            assert r["reject_detail"] == "NULL: rating_edu >= 3"
        elif d["rating_edu"] < 3:
            assert r["reject_detail"] == "false: rating_edu >= 3"
        else:
            assert r["reject_detail"] == "false: quality_bucket > 11"
    ms = manifests(out)
    assert len(ms) == 3 and all(m["stats"]["docs_in"] == m["stats"]["kept"] + m["stats"]["rejected"] for m in ms)
    assert sum(m["stats"]["reasons"].get("select:where", 0) for m in ms) == len(rejected)


def test_explain_counts_each_conjunct_alone_and_in_order(tmp_path, corpus):
    folder, docs = corpus
    res = invoke("select", str(folder), "--where", WHERE, "--explain")
    assert res.exit_code == 0, res.output
    text = res.stderr
    conds = [lambda d: d["language"] == "en", lambda d: d["rating_edu"] is not None and d["rating_edu"] >= 3,
             lambda d: d["quality_bucket"] > 11]
    left = list(docs)
    for name, cond in zip(split_conjuncts(WHERE), conds):
        alone = [d for d in docs if not cond(d)]
        in_order = [d for d in left if not cond(d)]
        left = [d for d in left if cond(d)]
        row = next(line for line in text.splitlines() if name in line)
        cells = [c.strip().replace(",", "") for c in row.split("│")[1:-1]]
        assert cells[1:] == [str(len(alone)), str(sum(d["n_tokens"] for d in alone)),
                             str(len(in_order)), str(sum(d["n_tokens"] for d in in_order)),
                             str(len(left)), str(sum(d["n_tokens"] for d in left))], row
    assert "tokens: n_tokens column" in text
    assert not (tmp_path / "out").exists()


def test_keep_top_is_exact_across_shards(tmp_path, corpus):
    folder, docs = corpus
    out = tmp_path / "top"
    eligible = [(d["rating_edu"], i) for i, d in enumerate(docs) if d["language"] == "en" and d["rating_edu"] is not None]
    ranked = sorted(eligible, key=lambda t: (-t[0], t[1]))

    def k_of(p):
        return math.floor(len(eligible) * p / 100 + 0.5)
    # a percentage whose cut falls inside a group of tied scores, so the tie-break is exercised
    percent = next(p for p in range(5, 40) if ranked[k_of(p) - 1][0] == ranked[k_of(p)][0])
    k = k_of(percent)
    res = invoke("select", str(folder), "-o", str(out), "--where", "language = 'en'", "--keep-top", f"{percent}%",
                 "--by", "rating_edu")
    assert res.exit_code == 0, res.output
    kept = read_folder(out)
    assert len(kept) == k
    # the global top k by score, ties broken by shard then row (= input order here)
    expected = ranked[:k]
    assert sorted(d["id"] for d in kept) == sorted(docs[i]["id"] for _, i in expected)
    cut = expected[-1][0]
    assert sum(1 for s, _ in eligible if s == cut) > sum(1 for d in kept if d["rating_edu"] == cut)  # the tie was split
    rejected = read_folder(out / "rejected")
    assert len(kept) + len(rejected) == len(docs)
    not_top = [d for d in rejected if d["reject_reason"] == "select:not_top"]
    assert len(not_top) == len(eligible) - k + sum(1 for d in docs if d["language"] == "en" and d["rating_edu"] is None)
    assert all(f"not in the top {percent}%" in d["reject_detail"] for d in not_top)


@pytest.mark.parametrize("where, message", [
    ("lang = 'en'", 'column "lang" not found'),
    ("language = 'en' AND", "syntax error"),
    ("rating_edu", "not a true/false condition"),
    ("language = 'en'; DROP TABLE x", "without ';'"),
])
def test_bad_predicate_is_a_clear_error_before_writing(tmp_path, corpus, where, message):
    folder, _ = corpus
    res = invoke("select", str(folder), "-o", str(tmp_path / "out"), "--where", where)
    err = res.stderr
    assert res.exit_code == 2 and message in err, err
    assert err.count("\n") <= 3 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bad_keep_top_options(tmp_path, corpus):
    folder, _ = corpus
    for args, message in ((["--keep-top", "10%"], "needs --by"), (["--keep-top", "120%", "--by", "rating_edu"], "between"),
                          (["--keep-top", "5%", "--by", "topic"], "not a number")):
        res = invoke("select", str(folder), "-o", str(tmp_path / "out"), "--where", "true", *args)
        assert res.exit_code == 2 and message in res.stderr
    assert not (tmp_path / "out").exists()


def test_split_conjuncts():
    assert split_conjuncts("a = 1 AND b BETWEEN 2 AND 3 and (c OR d AND e) AND f = 'x AND y'") == \
        ["a = 1", "b BETWEEN 2 AND 3", "(c OR d AND e)", "f = 'x AND y'"]
    assert split_conjuncts("x") == ["x"]


def test_output_cannot_be_the_input_folder(tmp_path, corpus):
    folder, docs = corpus
    res = invoke("select", str(folder), "-o", str(folder), "--where", "true")
    assert res.exit_code == 2 and "holds the input" in res.stderr
    assert len(read_folder(folder)) == len(docs)  # untouched
