"""Clusters in the tag stage: obviously different synthetic topics end up in different clusters,
the fitted model is registered and reusable, and every document gets a cluster and a distance."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.inputs import resolve_inputs
from curate.models import resolve_model
from curate.runner import run_stage
from curate.stages.tag import TagConfig, TagStage
from curate.stages.tag.clusters import purity
from tests.conftest import read_docs, run_cli, write_jsonl
from tests.test_tag import TOPICS, _corpus


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("CURATE_MODELS_DIR", str(folder))
    return folder


def _run(tmp_path, out: str, **cfg):
    stage = TagStage(TagConfig(taggers=[], url_rules=None, **cfg))
    return run_stage(stage, resolve_inputs([str(tmp_path / "in")], TagStage.input_suffixes), tmp_path / out, workers=2)


def test_clusters_separate_obviously_different_topics(tmp_path, models):
    docs = _corpus(400, seed=5) + [{"id": "zz-empty", "text": "  ", "url": None}]
    write_jsonl(tmp_path / "in" / "a.jsonl", docs[:200])
    write_jsonl(tmp_path / "in" / "b.jsonl", docs[200:])
    result = _run(tmp_path, "out", cluster=3, cluster_sample=150, cluster_dims=10)
    out = {d["id"]: d for d in read_docs(tmp_path / "out")}
    assert len(out) == len(docs) and result.stats.rejected == 0
    labelled = [d for d in docs if "topic_label" in d]
    assert purity([out[d["id"]]["cluster"] for d in labelled], [d["topic_label"] for d in labelled]) >= 0.98
    assert len({out[d["id"]]["cluster"] for d in labelled}) == 3
    assert all(0 <= out[d["id"]]["cluster_distance"] <= 2 for d in labelled)
    assert out["zz-empty"]["cluster"] is None  # no text, no cluster; still kept

    # registered with its parameters and descriptions; each cluster's top terms come from one topic
    info, _ = resolve_model("tag-clusters")
    assert info.kind == "clusters" and info.meta["params"]["k"] == 3 and info.meta["fitted_on"] == 150
    for c in info.meta["clusters"]:
        topic = next(t for t, words in TOPICS.items() if c["top_terms"][0] in words)
        assert sum(term in TOPICS[topic] for term in c["top_terms"][:5]) >= 4
        assert all(e.startswith("https://") for e in c["examples"])
    assert result.summary.clusters and len(result.summary.clusters) == 3
    mix = result.summary.dimension("cluster")
    assert sum(r["docs"] for r in mix.values()) == len(docs) and mix["(none)"]["docs"] == 1
    described = pq.read_table(tmp_path / "out" / "_summary" / "tag-clusters.parquet").to_pylist()
    assert [c["cluster"] for c in described] == [0, 1, 2]

    # the fitted model assigns a later run the same clusters without refitting
    again = _run(tmp_path, "out2", cluster_model="tag-clusters")
    out2 = {d["id"]: d for d in read_docs(tmp_path / "out2")}
    assert all(out2[i]["cluster"] == out[i]["cluster"] for i in out)
    assert again.stats.docs_in == len(docs)


def test_cluster_merge_groups_clusters(tmp_path, models):
    write_jsonl(tmp_path / "in" / "a.jsonl", _corpus(300, seed=6))
    _run(tmp_path, "out", cluster=6, cluster_merge=3, cluster_sample=300, cluster_dims=10)
    out = read_docs(tmp_path / "out")
    groups = {}
    for d in out:
        groups.setdefault(d["cluster"], set()).add(d["cluster_group"])
    assert all(len(g) == 1 for g in groups.values())  # a cluster belongs to one group
    assert len({d["cluster_group"] for d in out}) == 3


def test_too_few_documents_for_k_is_a_clear_error(tmp_path, models):
    write_jsonl(tmp_path / "in" / "a.jsonl", _corpus(5, seed=7))
    r = run_cli("tag", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--taggers", "", "--cluster", "24",
                env={"CURATE_MODELS_DIR": str(models)})
    assert r.returncode == 2 and "cannot make 24 clusters" in r.stderr.decode() and "Traceback" not in r.stderr.decode()


def test_cluster_model_of_the_first_version_asks_for_a_refit(tmp_path):
    import joblib

    from curate.stage import StageError
    from curate.stages.tag import clusters

    joblib.dump({"format": "hashed"}, tmp_path / "old.joblib")  # no `format` attribute: version 1
    with pytest.raises(StageError, match="fit it again"):
        clusters.load(str(tmp_path / "old.joblib"), "x")


def test_vectorised_top_terms_and_assignment_agree_with_the_fit():
    from curate.stages.tag import clusters

    docs = _corpus(300, seed=6)
    texts, names = [d["text"] for d in docs], [d["url"] for d in docs]
    model = clusters.fit(texts, names, clusters.ClusterParams(k=3, dims=8, sample=300))
    nearest, dist = model.assign(texts)
    assert sorted(np.bincount(nearest, minlength=3).tolist()) == sorted(model.sizes)
    v = model.vectors(texts)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert np.allclose(dist, np.linalg.norm(v - model.centers[nearest], axis=1), atol=1e-4)
    for c, terms in enumerate(model.terms):  # each cluster's top terms come from its topic's words
        topic = max(TOPICS, key=lambda t: sum(w in TOPICS[t] for w in terms))
        assert sum(w in TOPICS[topic] for w in terms[:5]) >= 4
