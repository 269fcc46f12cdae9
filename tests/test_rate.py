"""train-rater and the rate stage: levels learnt from labels, rating columns, Nemotron-CC buckets
over the whole input (max over raters), nothing dropped."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from scipy.stats import spearmanr

from curate.inputs import resolve_inputs
from curate.models import resolve_model
from curate.runner import run_stage
from curate.demo_crawl import generate_sample
from curate.shards import SHARD_SUFFIXES
from curate.stage import StageError
from curate.stages.model_filter.train import TrainParams
from curate.stages.rate import RateConfig, RateStage
from curate.stages.rate.train import levels_for, train_rater
from tests.conftest import ROOT, read_docs, run_cli

PARAMS = TrainParams(epoch=25, lr=0.5, bucket=20_000, ratio=3.0)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, docs=240, seed=3, shards=3, fmt="jsonl")
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory, sample) -> Path:
    """A models folder with two raters: edu (levels 0-4 by construction) and its mirror image."""
    folder = tmp_path_factory.mktemp("models")
    mp = pytest.MonkeyPatch()
    mp.setenv("CURATE_MODELS_DIR", str(folder))
    rows = [orjson.loads(x) for x in (sample / "train" / "ratings.jsonl").read_bytes().splitlines()]
    mirror = folder / "mirror.jsonl"
    mirror.write_bytes(b"".join(orjson.dumps({**r, "plainness": 4 - r["edu"]}) + b"\n" for r in rows))
    train_rater([str(sample / "train" / "ratings.jsonl")], "edu", folder / "edu-rater.bin", params=PARAMS, demo=True)
    train_rater([str(mirror)], "plainness", folder / "plain-rater.bin", params=PARAMS)
    yield folder
    mp.undo()


@pytest.fixture
def models_env(models, monkeypatch):
    monkeypatch.setenv("CURATE_MODELS_DIR", str(models))
    return models


def test_train_rater_registers_held_out_figures(models_env):
    info, path = resolve_model("edu-rater")
    assert info.kind == "demo-rater" and "demo" in info.origin
    m = info.meta["rater_held_out"]
    assert info.meta["criterion"] == "edu" and sorted(info.meta["labels"]) == ["0", "1", "2", "4"]
    assert m["documents"] >= 15
    assert m["accuracy"] >= 0.6 and m["spearman"] >= 0.6 and m["f1_at_cut"] >= 0.5, m
    assert m["cut"] == 3.0


def test_continuous_labels_are_binned_by_mean():
    labels, binned = levels_for([0.1, -2.0, 3.5, 0.2, -1.9, 3.4], bins=3)
    assert binned and labels == ["0.1500", "-1.9500", "3.4500", "0.1500", "-1.9500", "3.4500"]
    assert levels_for([0.0, 3.0, 5.0], bins=3) == (["0", "3", "5"], False)


def test_rate_stage_adds_ratings_and_buckets_over_the_whole_input(sample, models_env, tmp_path):
    inputs = resolve_inputs([str(sample / "docs-*.jsonl.zst")], SHARD_SUFFIXES)
    assert len(inputs) == 3
    stage = RateStage(RateConfig(raters=["edu-rater", "plain-rater"], buckets=10))
    result = run_stage(stage, inputs, tmp_path / "rated", workers=1)
    assert result.stats.docs_in == result.stats.kept == 240 and result.stats.rejected == 0  # never drops
    docs = read_docs(tmp_path / "rated")
    assert len(docs) == 240
    # buckets: each rater's ranking over ALL shards in 10 equal-count buckets, the maximum over raters
    for doc in docs:
        assert 0 <= doc["quality_bucket"] <= 9
    edges = stage.prepared.edges
    from bisect import bisect_right
    for doc in docs:
        own = [bisect_right(edges[c], doc[c]) for c in ("rating_edu", "rating_plainness")]
        assert doc["quality_bucket"] == max(own)
    edu_buckets = [bisect_right(edges["rating_edu"], d["rating_edu"]) for d in docs]
    counts = [edu_buckets.count(b) for b in range(10)]
    assert sum(counts) == 240 and max(counts) <= 24 * 2.5  # roughly equal (ties in the rating share a bucket)
    # the ratings follow the levels the generator built the pages with
    labels = {r["id"]: r["edu_level"] for r in map(orjson.loads, (sample / "labels.jsonl").read_bytes().splitlines())}
    rho = spearmanr([d["rating_edu"] for d in docs], [labels[d["id"]] for d in docs]).statistic
    assert rho > 0.6, rho
    # rerun: nothing to redo
    again = run_stage(RateStage(RateConfig(raters=["edu-rater", "plain-rater"], buckets=10)), inputs,
                      tmp_path / "rated", workers=1)
    assert again.shards_run == 0


def test_rate_cli_and_errors(sample, models_env, tmp_path):
    env = {"CURATE_MODELS_DIR": str(models_env)}
    proc = run_cli("rate", str(sample / "docs-00000.jsonl.zst"), "-o", str(tmp_path / "out"), "--raters", "edu-rater", "--buckets", "5", env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    docs = read_docs(tmp_path / "out")
    assert {d["quality_bucket"] for d in docs} == set(range(5))
    # a rater named by its file path still rates its recorded criterion
    by_path = run_cli("rate", str(sample / "docs-00000.jsonl.zst"), "-o", str(tmp_path / "p"), "--raters",
                      str(models_env / "edu-rater.bin"), "--buckets", "5", env=env)
    assert by_path.returncode == 0 and "rating_edu" in read_docs(tmp_path / "p")[0]
    bad = run_cli("rate", str(sample / "docs-00000.jsonl.zst"), "-o", str(tmp_path / "bad"), "--raters", "no-such-rater", env=env)
    assert bad.returncode == 2 and "no-such-rater" in bad.stderr.decode() and "Traceback" not in bad.stderr.decode()
    lid = run_cli("rate", str(sample / "docs-00000.jsonl.zst"), "-o", str(tmp_path / "bad2"), "--raters",
                  str(ROOT / "models" / "lid.176.ftz"), env=env)
    assert lid.returncode == 2 and "numeric" in lid.stderr.decode()  # a language-ID model is no rater
    constant = tmp_path / "const.jsonl"
    constant.write_bytes(b"".join(orjson.dumps({"id": str(i), "text": f"text {i}", "edu": 3}) + b"\n" for i in range(20)))
    with pytest.raises(StageError, match="same"):
        train_rater([str(constant)], "edu", tmp_path / "c.bin")
    with pytest.raises(StageError, match="no document .* has a column 'quality'"):
        train_rater([str(constant)], "quality", tmp_path / "c.bin")
