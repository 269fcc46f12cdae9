"""curate sample: token budgets without replacement, uniform or Gumbel top-k by score, per-domain shares, seeds."""

from __future__ import annotations

import pytest
import yaml

from curate.sample import sample
from tests.query_corpus import invoke, make_docs, read_folder, write_shards

BUDGET = 60_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s") / "in"
    docs = make_docs(900, seed=2)
    write_shards(folder, docs, shards=3)
    return folder, docs


def drawn(folder, tmp_path, name, **kw):
    out = tmp_path / name
    sample([str(folder)], out, BUDGET, **kw)
    return read_folder(out), read_folder(out / "rejected")


def test_uniform_fills_the_budget_and_loses_nothing(tmp_path, corpus):
    folder, docs = corpus
    kept, rejected = drawn(folder, tmp_path, "u", seed=1)
    total = sum(d["n_tokens"] for d in kept)
    assert BUDGET - min(d["n_tokens"] for d in docs) < total <= BUDGET
    assert len({d["id"] for d in kept}) == len(kept)  # without replacement
    assert len(kept) + len(rejected) == len(docs)
    assert {d["reject_reason"] for d in rejected} == {"sample:not_sampled"}
    # uniform: the sample's mean score is the input's, roughly
    mean = sum(d["score"] for d in kept) / len(kept)
    assert abs(mean - 0.5) < 0.06


def test_same_seed_same_sample_other_seed_other_sample(tmp_path, corpus):
    folder, _ = corpus
    a = {d["id"] for d in drawn(folder, tmp_path, "a", seed=7)[0]}
    b = {d["id"] for d in drawn(folder, tmp_path, "b", seed=7)[0]}
    c = {d["id"] for d in drawn(folder, tmp_path, "c", seed=8)[0]}
    assert a == b and a != c
    resharded = tmp_path / "resharded"
    write_shards(resharded, corpus[1], shards=5)  # the draw does not depend on the sharding
    assert {d["id"] for d in drawn(resharded, tmp_path, "r", seed=7)[0]} == a


def greedy(docs, key):
    left, out = BUDGET, set()
    for d in sorted(docs, key=key, reverse=True):
        if d["n_tokens"] <= left:
            out.add(d["id"])
            left -= d["n_tokens"]
    return out


def test_temperature_limits(tmp_path, corpus):
    folder, docs = corpus
    top = {d["id"] for d in drawn(folder, tmp_path, "t0", by="score", temperature=0, seed=1)[0]}
    assert top == greedy(docs, key=lambda d: d["score"])  # T = 0: top-k by score
    near_zero = {d["id"] for d in drawn(folder, tmp_path, "tiny", by="score", temperature=1e-9, seed=1)[0]}
    assert near_zero == top
    uniform = {d["id"] for d in drawn(folder, tmp_path, "uni", seed=1)[0]}
    huge = {d["id"] for d in drawn(folder, tmp_path, "huge", by="score", temperature=1e9, seed=1)[0]}
    assert huge == uniform  # T -> infinity: uniform
    score = {d["id"]: d["score"] for d in docs}
    means = [sum(score[i] for i in s) / len(s) for s in
             (top, {d["id"] for d in drawn(folder, tmp_path, "t02", by="score", temperature=0.2, seed=1)[0]},
              {d["id"] for d in drawn(folder, tmp_path, "t1", by="score", temperature=1.0, seed=1)[0]}, uniform)]
    assert means == sorted(means, reverse=True) and means[0] - means[-1] > 0.3


def shares(kept, column):
    total = sum(d["n_tokens"] for d in kept)
    out = {}
    for d in kept:
        out[d[column]] = out.get(d[column], 0) + d["n_tokens"] / total
    return out


def test_per_domain_keeps_the_reference_shares_within_one_percent(tmp_path, corpus):
    folder, docs = corpus
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump({"en": 5, "de": 3, "fr": 2}))  # es: not wanted
    kept, _ = drawn(folder, tmp_path, "ref", by="score", temperature=0.5, per="language", ref=ref, seed=3)
    got = shares(kept, "language")
    assert set(got) == {"en", "de", "fr"}
    for lang, want in {"en": 0.5, "de": 0.3, "fr": 0.2}.items():
        assert abs(got[lang] - want) < 0.01, (lang, got)
    assert sum(d["n_tokens"] for d in kept) > 0.98 * BUDGET


def test_per_domain_keeps_the_input_shares(tmp_path, corpus):
    folder, docs = corpus
    kept, _ = drawn(folder, tmp_path, "inp", per="topic", seed=4)
    want = shares(docs, "topic")
    got = shares(kept, "topic")
    assert all(abs(got[t] - want[t]) < 0.01 for t in want), (got, want)


def test_reference_from_documents(tmp_path, corpus):
    folder, docs = corpus
    ref_docs = tmp_path / "refdocs"
    write_shards(ref_docs, [d for d in docs if d["language"] in ("de", "fr")], shards=1)
    kept, _ = drawn(folder, tmp_path, "refd", per="language", ref=ref_docs, seed=5)
    want = shares([d for d in docs if d["language"] in ("de", "fr")], "language")
    got = shares(kept, "language")
    assert set(got) == {"de", "fr"} and abs(got["de"] - want["de"]) < 0.01


def test_cli_and_errors(tmp_path, corpus):
    folder, _ = corpus
    res = invoke("sample", str(folder), "-o", str(tmp_path / "cli"), "--tokens", "5000", "--by", "score", "-t", "0.5", "--seed", "2")
    assert res.exit_code == 0, res.output
    assert "sample: " in res.stderr and "tokens: n_tokens column" in res.stderr
    for args, message in ((["--by", "nope"], "not found"), (["--by", "topic"], "not a number"),
                          (["--ref", "x.yaml"], "give --per"), (["--per", "language", "--ref", str(tmp_path / "none.yaml")], "no such file"),
                          (["--temperature", "-1", "--by", "score"], ">= 0")):
        res = invoke("sample", str(folder), "-o", str(tmp_path / "bad"), "--tokens", "100", *args)
        assert res.exit_code == 2 and message in res.stderr, (args, res.stderr)
    assert not (tmp_path / "bad").exists()
