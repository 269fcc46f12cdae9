"""curate mix: token targets per input or column, temperature weighting, repetition caps, rehydration, Dolma export."""

from __future__ import annotations

import gzip
from collections import Counter

import orjson
import pytest
import yaml

from curate.mix import load_mix, mix
from tests.query_corpus import invoke, make_docs, read_folder, write_shards


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("m")
    web, books = make_docs(600, seed=3), make_docs(200, seed=4, start=10_000)
    for i, d in enumerate(books):
        d["dup_cluster_size"] = 1 + i % 4  # 1..4 copies existed before dedup
    for d in web:
        d["dup_cluster_size"] = 1
    write_shards(root / "web", web, shards=2)
    write_shards(root / "books", books, shards=2)
    return root, web, books


def run_mix(tmp_path, root, name, **cfg):
    base = {"inputs": [{"name": "web", "path": str(root / "web")}, {"name": "books", "path": str(root / "books")}]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**base, **cfg}))
    out = tmp_path / name
    result = mix(load_mix(path), out)
    return result, out


def tokens(docs):
    return sum(d["n_tokens"] for d in docs)


def test_token_targets_per_input_within_one_percent(tmp_path, corpus):
    root, web, books = corpus
    targets = {"web": 40_000, "books": 15_000}
    result, out = run_mix(tmp_path, root, "t", targets=targets, seed=1)
    rows = read_folder(out)
    for name, want in targets.items():
        got = tokens([r for r in rows if r["mix_domain"] == name])
        assert abs(got - want) / want < 0.01, (name, got)
    manifest = orjson.loads((out / "mix.json").read_bytes())
    assert {d["domain"]: d["tokens"] for d in manifest["domains"]} == {
        n: tokens([r for r in rows if r["mix_domain"] == n]) for n in targets}
    # nothing lost: every input document is in the mixture or in rejected/
    taken = {r["id"] for r in rows}
    rejected = read_folder(out / "rejected")
    assert {r["reject_reason"] for r in rejected} == {"mix:not_taken"}
    assert taken | {r["id"] for r in rejected} == {d["id"] for d in web + books} and not taken & {r["id"] for r in rejected}


def test_shares_by_a_column_with_temperature(tmp_path, corpus):
    root, web, books = corpus
    total, T = 60_000, 3.0
    result, out = run_mix(tmp_path, root, "temp", by="topic", tokens=total, temperature=T, seed=2)
    avail = Counter()
    for d in web + books:
        avail[d["topic"]] += d["n_tokens"]
    weights = {k: v ** (1 / T) for k, v in avail.items()}
    rows = read_folder(out)
    for topic, w in weights.items():
        want = w / sum(weights.values())
        got = tokens([r for r in rows if r["topic"] == topic]) / total
        assert abs(got - want) < 0.01, (topic, got, want)


def test_upsampling_respects_the_repetition_cap(tmp_path, corpus):
    root, web, books = corpus
    avail = tokens(books)
    # 1.5 epochs: every document once before any twice
    _, out = run_mix(tmp_path, root, "up", targets={"books": int(1.5 * avail)}, max_epochs=3, seed=3)
    copies = Counter(r["id"] for r in read_folder(out))
    assert set(copies.values()) == {1, 2} and len(copies) == len(books)
    # beyond the cap: exactly max_epochs copies of everything, and the shortfall reported
    result, out = run_mix(tmp_path, root, "cap", targets={"books": 10 * avail}, max_epochs=3, seed=3)
    rows = read_folder(out)
    assert Counter(Counter(r["id"] for r in rows).values()) == {3: len(books)}
    assert sorted(r["mix_copy"] for r in rows if r["id"] == books[0]["id"]) == [0, 1, 2]
    (dom,) = [d for d in result.domains if d.domain == "books"]
    assert dom.tokens == 3 * avail and dom.short_tokens == 10 * avail - 3 * avail


def test_rehydration_restores_duplicates_up_to_the_cap(tmp_path, corpus):
    root, web, books = corpus
    _, out = run_mix(tmp_path, root, "rh", targets={"books": 100 * tokens(books)}, max_epochs=3, rehydrate=True)
    copies = Counter(r["id"] for r in read_folder(out))
    assert all(copies[d["id"]] == min(d["dup_cluster_size"], 3) for d in books)


def test_dolma_config_and_attributes_match_the_mixture(tmp_path, corpus):
    root, web, books = corpus
    _, out = run_mix(tmp_path, root, "dolma", targets={"books": int(1.5 * tokens(books)), "web": 10_000}, max_epochs=2, seed=5)
    cfg = yaml.safe_load((out / "dolma" / "mixer.yaml").read_text())
    names = [s["name"] for s in cfg["streams"]]
    assert names == ["web-copy1", "web-copy2", "books-copy1", "books-copy2"]
    assert cfg["streams"][3]["filter"]["include"] == ["$.attributes[?(@.curate_mix__copies && @.curate_mix__copies[0] && @.curate_mix__copies[0][2] >= 2)]"]
    attrs = {}
    for p in (out / "dolma" / "attributes" / "curate_mix").rglob("*.jsonl.gz"):
        for line in gzip.open(p).read().splitlines():
            rec = orjson.loads(line)
            attrs[rec["id"]] = rec["attributes"]["curate_mix__copies"][0][2]
    assert len(attrs) == len(web) + len(books)
    copies = Counter(r["id"] for r in read_folder(out))
    assert {i: n for i, n in attrs.items() if n} == dict(copies)
    assert sorted(p.name for p in (out / "dolma" / "attributes" / "curate_mix" / "web").iterdir()) == ["part-00.jsonl.gz", "part-01.jsonl.gz"]


def test_bad_configs_are_clear_errors(tmp_path, corpus):
    root, _, _ = corpus
    cases = [({"targets": {"web": {"share": 0.5}}}, "need `tokens`"),
             ({"by": "nope", "tokens": 100}, "no column 'nope'"),
             ({"targets": {"web": 100}, "max_epochs": 0}, "max_epochs"),
             ({"targets": {"web": 100}, "colour": 1}, "colour")]
    for extra, message in cases:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump({"inputs": [{"name": "web", "path": str(root / "web")}], **extra}))
        res = invoke("mix", str(path), "-o", str(tmp_path / "badout"))
        assert res.exit_code == 2 and message in res.stderr, (extra, res.stderr)
    assert not (tmp_path / "badout").exists()
