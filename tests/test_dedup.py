"""The dedup stage: accuracy by edit level, scope and survivors, bad input, the incremental index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from curate.inputs import resolve_inputs
from curate.runner import run_stage
from curate.demo_crawl import generate_sample
from curate.shards import SHARD_SUFFIXES
from curate.stages.dedup import DedupStage
from curate.stages.dedup.lsh import PRESETS, band_keys, detection_probability
from curate.stages.dedup.minhash import MinHasher
from curate.stages.dedup.normalize import shingle_words
from curate.stages.dedup.synthetic import DocMaker
from curate.stages.dedup.unionfind import UnionFind
from tests.conftest import run_cli, write_jsonl


def run(tmp: Path, inputs: list[str], out: str = "out", **options):
    stage = DedupStage(**options)
    shards = resolve_inputs(inputs, SHARD_SUFFIXES)
    result = run_stage(stage, shards, tmp / out, workers=1)
    assert result.balanced
    return result


def read_all(folder: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    kept, rejected = {}, {}
    for p in folder.glob("*.parquet"):
        kept.update({r["id"]: r for r in pq.read_table(p).to_pylist()})
    for p in (folder / "rejected").glob("*.parquet"):
        rejected.update({r["id"]: r for r in pq.read_table(p).to_pylist()})
    return kept, rejected


def shingles(text: str, n: int = 5) -> set:
    w = shingle_words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


# ---------------------------------------------------------------- signatures and LSH


def test_signature_agreement_estimates_jaccard_and_is_deterministic():
    maker = DocMaker(seed=3)
    base = [maker.document() for _ in range(40)]
    edited = [maker.edit(t, 0.05) for t in base]
    a, b = MinHasher(5, 256, seed=7), MinHasher(5, 256, seed=7)
    sa, ia = a.signatures(base + edited)
    sb, _ = b.signatures(base + edited)
    assert np.array_equal(sa, sb) and len(ia) == 80
    errors = []
    for i in range(40):
        s1, s2 = shingles(base[i]), shingles(edited[i])
        true = len(s1 & s2) / len(s1 | s2)
        errors.append((sa[i] == sa[40 + i]).mean() - true)
    # standard error of a 256-hash estimate is <= 0.031; the mean error shows bias
    assert abs(np.mean(errors)) < 0.02 and np.max(np.abs(errors)) < 0.12
    distinct = (sa[0] == sa[1]).mean()
    assert distinct < 0.03
    # another seed gives other hash functions
    assert not np.array_equal(MinHasher(5, 256, seed=8).signatures(base[:1])[0], sa[:1])


def test_short_and_empty_texts_get_no_signature():
    sig, has = MinHasher(5, 16).signatures(["", "one two three four", "one two three four five", "   "])
    assert list(has) == [2] and sig.shape == (1, 16)


def test_band_keys_equal_exactly_when_band_rows_equal():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(3, 12), dtype=np.uint32)
    sig[1] = sig[0]
    sig[1, 5] ^= 1  # differs in band 1 (rows 4..7) only
    keys = band_keys(sig, 3, 4)
    assert keys[0, 0] == keys[1, 0] and keys[0, 2] == keys[1, 2] and keys[0, 1] != keys[1, 1]
    assert not (keys[2] == keys[0]).any()


def test_detection_curve_of_presets():
    fw = PRESETS["fineweb"]
    assert fw.hashes == 112 and (fw.bands, fw.rows, fw.ngram) == (14, 8, 5)
    assert detection_probability(0.8, 14, 8) == pytest.approx(1 - (1 - 0.8**8) ** 14)
    ours = PRESETS["curate"]
    assert detection_probability(0.8, ours.bands, ours.rows) > 0.98
    sims = np.linspace(0, 1, 21)
    assert np.all(np.diff(detection_probability(sims, ours.bands, ours.rows)) >= 0)


def test_parameters_from_preset_and_overrides():
    assert DedupStage(preset="fineweb").params == PRESETS["fineweb"]
    assert DedupStage(hashes=112, bands=14).params == PRESETS["fineweb"]
    p = DedupStage(bands=10, rows=9, ngram=3).params
    assert (p.ngram, p.bands, p.rows, p.hashes) == (3, 10, 9, 90)
    with pytest.raises(ValueError, match="not bands"):
        DedupStage(hashes=100, bands=14)


def test_union_find_roots_are_smallest_members():
    uf = UnionFind(10)
    uf.union(np.array([9, 9, 5, 7]), np.array([5, 3, 3, 8]))  # {3,5,9}, {7,8}
    uf.union(np.array([8]), np.array([2]))  # {2,7,8}
    assert list(uf.roots()) == [0, 1, 2, 3, 4, 3, 6, 2, 2, 3]


# ---------------------------------------------------------------- the stage


@pytest.fixture(scope="module")
def edited_corpus(tmp_path_factory):
    """300 distinct documents; 60 of them copied at each edit level (0, 0.5, 1, 2, 10%)."""
    tmp = tmp_path_factory.mktemp("edits")
    maker = DocMaker(seed=11)
    base = [{"id": f"base-{i:04d}", "text": maker.document(150, 900)} for i in range(300)]
    copies, truth = [], {}
    for level in (0.0, 0.005, 0.01, 0.02, 0.10):
        for j in maker.rng.choice(300, size=60, replace=False):
            cid = f"copy-{level}-{j:04d}"
            copies.append({"id": cid, "text": maker.edit(base[j]["text"], level)})
            truth[cid] = (level, base[j]["id"])
    order = maker.rng.permutation(len(base) + len(copies))
    docs = [(base + copies)[i] for i in order]
    write_jsonl(tmp / "in" / "part-0.jsonl", docs[: len(docs) // 2])
    write_jsonl(tmp / "in" / "part-1.jsonl", docs[len(docs) // 2:])
    run(tmp, [str(tmp / "in")])
    return read_all(tmp / "out"), truth


def test_recall_by_edit_level_and_no_false_positives(edited_corpus):
    (kept, rejected), truth = edited_corpus
    assert len(kept) + len(rejected) == 300 + len(truth)
    assert all(i in kept for i in (f"base-{k:04d}" for k in range(300))), "a distinct document was removed"
    for level in (0.0, 0.005, 0.01, 0.02):
        ids = [c for c, (lv, _) in truth.items() if lv == level]
        caught = [c for c in ids if c in rejected]
        assert len(caught) / len(ids) >= 0.98, f"recall {len(caught)}/{len(ids)} at {level:.1%} edits"
        for c in caught:
            assert rejected[c]["duplicate_of"] == truth[c][1]  # lowest id wins: base-* < copy-*
            assert rejected[c]["reject_reason"] == ("dedup:exact" if level == 0 else "dedup:minhash")
    # every kept base document carries the size of its cluster
    for c in rejected:
        assert kept[rejected[c]["duplicate_of"]]["dup_cluster_size"] == rejected[c]["dup_cluster_size"] >= 2


def test_similarity_check_keeps_documents_sharing_only_part_of_their_text(tmp_path):
    """Pairs at Jaccard ~0.5 (two thirds of the words shared, then different text) are LSH candidates
    now and then; the signature check keeps them apart while 1%-edited copies still go."""
    maker = DocMaker(seed=31)
    docs, copies = [], []
    for i in range(150):
        words = maker.document(400, 400).split(" ")
        sibling = words[: len(words) * 2 // 3] + maker.document(140, 140).split(" ")[: len(words) - len(words) * 2 // 3]
        docs += [{"id": f"p{i:03d}-a", "text": " ".join(words)}, {"id": f"p{i:03d}-b", "text": " ".join(sibling)}]
        if i < 50:
            copies.append({"id": f"p{i:03d}-c", "text": maker.edit(" ".join(words), 0.01)})
    write_jsonl(tmp_path / "in.jsonl", docs + copies)
    j = [len(shingles(docs[k]["text"]) & shingles(docs[k + 1]["text"])) / len(shingles(docs[k]["text"]) | shingles(docs[k + 1]["text"]))
         for k in range(0, 300, 2)]
    assert 0.45 < np.mean(j) < 0.55
    lsh_only = run(tmp_path, [str(tmp_path / "in.jsonl")], "lsh", min_similarity=0)
    checked = run(tmp_path, [str(tmp_path / "in.jsonl")], "checked")
    _, rejected = read_all(tmp_path / "checked")
    assert lsh_only.stats.rejected - 50 >= 5  # LSH alone removes some siblings
    assert sorted(rejected) == sorted(c["id"] for c in copies)


def test_bad_input_empty_short_and_one_giant_cluster(tmp_path):
    same = "the same boilerplate page text repeated across a whole site"
    docs = [{"id": f"same-{i:05d}", "text": same} for i in range(3000)]
    docs += [{"id": "empty-1", "text": ""}, {"id": "empty-2", "text": "   "}, {"id": "short-1", "text": "too short"},
             {"id": "short-2", "text": "Too  SHORT"}, {"id": "short-3", "text": "too short!"}]
    write_jsonl(tmp_path / "in.jsonl", docs)
    result = run(tmp_path, [str(tmp_path / "in.jsonl")])
    kept, rejected = read_all(tmp_path / "out")
    assert result.stats.reasons == {"dedup:exact": 2999 + 1}
    assert kept["same-00000"]["dup_cluster_size"] == 3000
    assert rejected["same-02999"]["duplicate_of"] == "same-00000"
    # empty texts are left alone; short texts are exact-deduplicated (case and spacing ignored)
    assert {"empty-1", "empty-2", "short-1", "short-3"} <= set(kept)
    assert rejected["short-2"]["duplicate_of"] == "short-1"


def test_scope_and_source_priority(tmp_path):
    maker = DocMaker(seed=5)
    shared, near = maker.document(), None
    near = maker.edit(shared, 0.01)
    write_jsonl(tmp_path / "web" / "w.jsonl", [{"id": "a-web", "text": shared}, {"id": "b-web", "text": near}])
    write_jsonl(tmp_path / "wiki" / "k.jsonl", [{"id": "z-wiki", "text": near}])
    inputs = [str(tmp_path / "web"), str(tmp_path / "wiki")]

    run(tmp_path, inputs, "local", scope="local")
    kept, rejected = read_all(tmp_path / "local")
    assert set(kept) == {"a-web", "z-wiki"} and rejected["b-web"]["duplicate_of"] == "a-web"

    run(tmp_path, inputs, "global", scope="global")
    kept, _ = read_all(tmp_path / "global")
    assert set(kept) == {"a-web"} and kept["a-web"]["dup_cluster_size"] == 3

    run(tmp_path, inputs, "prio", scope="global", source_priority=["wiki"])
    kept, rejected = read_all(tmp_path / "prio")
    assert set(kept) == {"z-wiki"}
    assert rejected["a-web"]["duplicate_of"] == rejected["b-web"]["duplicate_of"] == "z-wiki"
    assert rejected["b-web"]["reject_reason"] == "dedup:exact"  # same text as the survivor


def test_methods_and_url_dedup(tmp_path):
    maker = DocMaker(seed=17)
    a = maker.document()
    docs = [{"id": "a", "text": a, "url": "https://www.example.com/page/"},
            {"id": "b", "text": a.upper(), "url": None},  # exact after normalisation
            {"id": "c", "text": maker.edit(a, 0.01), "url": None},  # near
            {"id": "d", "text": maker.document(), "url": "http://example.com/page#top"}]  # same URL only
    write_jsonl(tmp_path / "in.jsonl", docs)
    inp = [str(tmp_path / "in.jsonl")]
    assert run(tmp_path, inp, "exact", method="exact").stats.reasons == {"dedup:exact": 1}
    assert run(tmp_path, inp, "minhash", method="minhash").stats.reasons == {"dedup:minhash": 2}
    assert run(tmp_path, inp, "both").stats.reasons == {"dedup:exact": 1, "dedup:minhash": 1}
    run(tmp_path, inp, "urls", dedup_urls=True)
    kept, rejected = read_all(tmp_path / "urls")
    assert set(kept) == {"a"} and rejected["d"]["reject_reason"] == "dedup:url"


def test_survivors_do_not_depend_on_input_order(tmp_path):
    maker = DocMaker(seed=9)
    texts = [maker.document(100, 200) for _ in range(30)]
    docs = [{"id": f"d{i:03d}", "text": texts[i % 10] if i % 3 else maker.edit(texts[i % 10], 0.01)} for i in range(30)]
    write_jsonl(tmp_path / "a" / "x.jsonl", docs)
    write_jsonl(tmp_path / "b" / "x.jsonl", docs[::-1])
    run(tmp_path, [str(tmp_path / "a")], "oa")
    run(tmp_path, [str(tmp_path / "b")], "ob")
    assert set(read_all(tmp_path / "oa")[0]) == set(read_all(tmp_path / "ob")[0]) == {f"d{i:03d}" for i in range(10)}


def test_first_seen_survivor_follows_input_order(tmp_path):
    maker = DocMaker(seed=10)
    texts = [maker.document(100, 200) for _ in range(10)]
    write_jsonl(tmp_path / "in" / "1-early.jsonl", [{"id": f"z{i}", "text": t} for i, t in enumerate(texts)])
    write_jsonl(tmp_path / "in" / "2-late.jsonl", [{"id": f"a{i}", "text": maker.edit(t, 0.01) if i % 2 else t}
                                                   for i, t in enumerate(texts)])
    run(tmp_path, [str(tmp_path / "in")], "lowest")
    run(tmp_path, [str(tmp_path / "in")], "first", survivor="first-seen")
    assert set(read_all(tmp_path / "lowest")[0]) == {f"a{i}" for i in range(10)}  # lowest id: the later copies
    kept, rejected = read_all(tmp_path / "first")
    assert set(kept) == {f"z{i}" for i in range(10)}  # first seen: the earlier file's
    assert {k: v["duplicate_of"] for k, v in rejected.items()} == {f"a{i}": f"z{i}" for i in range(10)}


def test_parallel_workers_give_the_same_result(tmp_path):
    maker = DocMaker(seed=13)
    texts = [maker.document(50, 150) for _ in range(20)]
    for s in range(3):
        write_jsonl(tmp_path / "in" / f"s{s}.jsonl",
                    [{"id": f"s{s}-{i:02d}", "text": maker.edit(texts[i], 0.01 * (s % 2))} for i in range(20)])
    one = run(tmp_path, [str(tmp_path / "in")], "one")
    assert one.stats.kept == 20
    # two workers in a separate interpreter: a forkserver started here would keep this process's
    # environment for later tests that change it
    r = cli("dedup", "in", "-o", "two", "-w", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert read_all(tmp_path / "one") == read_all(tmp_path / "two")


# ---------------------------------------------------------------- CLI, index, curate run


def cli(*args: str, cwd: Path):
    r = run_cli(*args, cwd=cwd)
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    return r


def test_second_dump_is_deduplicated_against_the_first_through_the_index(tmp_path):
    maker = DocMaker(seed=21)
    first = [{"id": f"2024-01-{i:03d}", "text": maker.document(100, 300)} for i in range(40)]
    second = [{"id": f"2024-02-{i:03d}", "text": maker.document(100, 300)} for i in range(40)]
    second += [{"id": "2024-02-copy", "text": first[3]["text"]},
               {"id": "2024-02-near", "text": maker.edit(first[7]["text"], 0.01)},
               {"id": "2024-02-self", "text": second[0]["text"]}]
    write_jsonl(tmp_path / "dump1" / "d.jsonl", first)
    write_jsonl(tmp_path / "dump2" / "d.jsonl", second)

    r1 = cli("dedup", "dump1", "-o", "out1", "--index", "idx", cwd=tmp_path)
    assert r1.returncode == 0, r1.stderr
    r2 = cli("dedup", "dump2", "-o", "out2", "--index", "idx", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    kept, rejected = read_all(tmp_path / "out2")
    assert rejected["2024-02-copy"]["duplicate_of"] == "2024-01-003"
    assert rejected["2024-02-copy"]["reject_reason"] == "dedup:exact"
    assert rejected["2024-02-near"]["duplicate_of"] == "2024-01-007"
    assert rejected["2024-02-near"]["reject_reason"] == "dedup:minhash"
    assert rejected["2024-02-self"]["duplicate_of"] == "2024-02-000"
    assert len(kept) == 40

    runs = lambda: sorted(json.loads(p.read_text())["docs"] for p in (tmp_path / "idx" / "runs").glob("*.json"))  # noqa: E731
    assert runs() == [40, 40]
    # a resumed run (one output shard lost) redoes it with the cached work, and does not append
    # to the index twice
    cached = {p: p.stat().st_mtime_ns for p in (tmp_path / "out2" / "_work").rglob("*.parquet")}
    assert any("keys" in str(p) for p in cached)
    (tmp_path / "out2" / "d.parquet").unlink()
    (tmp_path / "out2" / "_manifest" / "d.json").unlink()
    r3 = cli("dedup", "dump2", "-o", "out2", "--index", "idx", cwd=tmp_path)
    assert r3.returncode == 0, r3.stderr
    assert runs() == [40, 40] and set(read_all(tmp_path / "out2")[0]) == set(kept)
    assert {p: p.stat().st_mtime_ns for p in cached} == cached

    # the same dump into another output folder is a new run: all of it is in the index now
    r5 = cli("dedup", "dump2", "-o", "out2-again", "--index", "idx", cwd=tmp_path)
    assert r5.returncode == 0, r5.stderr
    again_kept, again_rejected = read_all(tmp_path / "out2-again")
    assert not again_kept and len(again_rejected) == len(second)
    assert again_rejected["2024-02-005"]["duplicate_of"] == "2024-02-005"  # its indexed copy
    assert again_rejected["2024-02-copy"]["duplicate_of"] == "2024-01-003"
    assert runs() == [0, 40, 40]

    # an index built with other MinHash settings is refused before any work
    r4 = cli("dedup", "dump2", "-o", "out3", "--index", "idx", "--preset", "fineweb", cwd=tmp_path)
    assert r4.returncode == 2 and "different MinHash settings" in r4.stderr + r4.stdout
    assert not (tmp_path / "out3" / "d.parquet").exists()


def test_dedup_inside_curate_run_with_local_scope(tmp_path):
    maker = DocMaker(seed=4)
    text = maker.document()
    write_jsonl(tmp_path / "news" / "n.jsonl", [{"id": "n1", "text": text}, {"id": "n2", "text": text}])
    write_jsonl(tmp_path / "blogs" / "b.jsonl", [{"id": "b1", "text": text}])
    (tmp_path / "run.yaml").write_text(
        "run_dir: runs\ninputs: [news, blogs]\nstages:\n"
        "  - stage: ingest\n"
        f"  - stage: dedup\n    scope: local\n    index: {tmp_path / 'idx'}\n    memory_limit: 1GB\n"
    )
    r = cli("run", "run.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    kept, rejected = read_all(tmp_path / "runs" / "01-dedup")
    assert set(kept) == {"n1", "b1"} and rejected["n2"]["duplicate_of"] == "n1"
    assert (tmp_path / "idx" / "meta.json").exists()


def test_dedup_curve_command_prints_probabilities(tmp_path):
    r = cli("dedup-curve", "--hashes", "112", "--bands", "14", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "14 bands x 8 rows" in out
    assert f"{detection_probability(0.8, 14, 8):.4f}" in out and f"{detection_probability(0.7, 14, 8):.4f}" in out


def test_on_the_built_in_sample_crawl(tmp_path):
    """Against the sample generator's labels: every exact and <= 2%-edited duplicate pair ends in one
    cluster, and nothing is removed for a document it does not duplicate."""
    info = generate_sample(tmp_path / "sample", docs=400, seed=0, shards=2, fmt="jsonl")
    run(tmp_path, [str(p) for p in info.files])
    kept, rejected = read_all(tmp_path / "out")
    by_url = {d["url"]: d for d in [*kept.values(), *rejected.values()]}
    labels = {lab["url"]: lab for lab in map(orjson.loads, info.labels.read_bytes().splitlines())}
    survivor = {d["id"]: d.get("duplicate_of") or d["id"] for d in by_url.values()}

    pairs = [(u, lab) for u, lab in labels.items() if lab["kind"] in ("exact_duplicate", "near_duplicate")
             and (lab["edit_fraction"] or 0) <= 0.02 and u in by_url and lab["duplicate_of"] in by_url]
    assert len(pairs) >= 20
    for u, lab in pairs:
        assert survivor[by_url[u]["id"]] == survivor[by_url[lab["duplicate_of"]]["id"]], lab

    def family(url: str) -> str:
        lab = labels.get(url, {})
        return lab.get("duplicate_of") or url

    by_id = {d["id"]: d for d in by_url.values()}
    for d in rejected.values():
        s = by_id[d["duplicate_of"]]
        assert family(d["url"]) == family(s["url"]) or " ".join(d["text"].split()) == " ".join(s["text"].split()), d["url"]
