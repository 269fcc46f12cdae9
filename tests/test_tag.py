"""The tag stage end to end: taggers trained on small synthetic labelled data, taxonomy checks,
empty text, the domain mix, and the CLI. Real fastText models, trained here."""

from __future__ import annotations

import random

import pyarrow.parquet as pq
import pytest

from curate.inputs import resolve_inputs
from curate.runner import run_stage
from curate.stage import StageError
from curate.stages.model_filter.train import TrainParams, train_classifier
from curate.stages.tag import TagConfig, TagStage
from curate.stages.tag.taxonomy import load_taxonomy
from tests.conftest import ROOT, read_docs, run_cli, write_jsonl

TOPICS = {
    "cooking": "recipe oven flour sugar bake butter dinner kitchen salt pan garlic onion sauce".split(),
    "football": "goal match league striker coach penalty season stadium referee club fans score".split(),
    "computers": "software cpu memory linux compiler server code laptop keyboard kernel disk program".split(),
}
FORMATS = {"news": "/news/2021/05/", "forum": "/forum/thread/"}
COMMON = "the a and of to in is it that for on with as this was".split()


def _doc(rng: random.Random, i: int, topic: str, fmt: str) -> dict:
    words = TOPICS[topic] + COMMON * 2
    title = " ".join(rng.choice(TOPICS[topic]) for _ in range(5)).title()
    body = "\n".join(" ".join(rng.choice(words) for _ in range(25)) for _ in range(4))
    return {"id": f"d{i}", "text": f"{title}\n{body}", "url": f"https://site{i % 7}.example.com{FORMATS[fmt]}{i}",
            "topic_label": topic, "format_label": fmt}


def _corpus(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [_doc(rng, i, rng.choice(sorted(TOPICS)), rng.choice(sorted(FORMATS))) for i in range(n)]


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("CURATE_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def taggers(tmp_path, models):
    """A topic and a format tagger trained with train-classifier --labels COLUMN --features tag."""
    train = write_jsonl(tmp_path / "train" / "labelled.jsonl", _corpus(600, seed=1))
    params = TrainParams(dim=16, bucket=20_000, epoch=25, lr=0.5, features="tag")
    topic = train_classifier(models / "my-topic.bin", "my-topic", inputs=[str(train)], label_column="topic_label", params=params)
    fmt = train_classifier(models / "my-format.bin", "my-format", inputs=[str(train)], label_column="format_label", params=params)
    return topic, fmt


def _taxonomy(tmp_path, labels: list[str]) -> str:
    path = tmp_path / f"tax-{'-'.join(labels)}.yaml"
    path.write_text("name: test\nlabels:\n" + "".join(f"  - {{label: {lab}, name: {lab.title()}}}\n" for lab in labels))
    return str(path)


def test_trained_taggers_tag_held_out_documents(tmp_path, taggers):
    topic, fmt = taggers
    assert topic.model.meta["features"] == "tag"
    assert topic.metrics["accuracy"] > 0.9 and fmt.metrics["accuracy"] > 0.9
    docs = _corpus(200, seed=2)
    docs += [{"id": "empty", "text": "", "url": None}, {"id": "blank", "text": " \n\t ", "url": "http://x.com/news/"}]
    write_jsonl(tmp_path / "in" / "docs.jsonl", docs)
    stage = TagStage(TagConfig(taggers=["topic=my-topic", "format=my-format"], distribution=True, url_rules=None,
                               taxonomies=[f"topic={_taxonomy(tmp_path, sorted(TOPICS))}"]))
    result = run_stage(stage, resolve_inputs([str(tmp_path / "in")], TagStage.input_suffixes), tmp_path / "out")
    out = {d["id"]: d for d in read_docs(tmp_path / "out")}
    assert len(out) == len(docs) and result.stats.rejected == 0  # never drops
    right = sum(out[d["id"]]["topic"] == d["topic_label"] and out[d["id"]]["format"] == d["format_label"] for d in docs[:200])
    assert right >= 190
    for doc_id in ("empty", "blank"):
        assert out[doc_id]["topic"] == "unknown" and out[doc_id]["topic_prob"] == 0.0
        assert out[doc_id]["format"] == "unknown"
    d = out["d0"]
    assert 0 < d["topic_prob"] <= 1
    dist = {k.split("__")[1]: v for k, v in d.items() if k.startswith("topic__")}
    assert set(dist) == set(TOPICS) and abs(sum(dist.values()) - 1) < 0.01 and max(dist, key=dist.get) == d["topic"]

    # the domain mix: on the summary, and as Parquet beside the output
    mix = result.summary.dimension("topic")
    assert sum(r["docs"] for r in mix.values()) == len(docs)
    assert mix["unknown"]["docs"] == 2
    table = pq.read_table(tmp_path / "out" / "_summary" / "tag-domain-mix.parquet").to_pylist()
    assert {r["dimension"] for r in table} == {"topic", "format", "source"}
    by_topic = {r["value"]: r["docs"] for r in table if r["dimension"] == "topic"}
    assert by_topic == {v: sum(o["topic"] == v for o in out.values()) for v in by_topic}


def test_tagger_not_matching_its_taxonomy_is_an_error_before_work(tmp_path, taggers):
    write_jsonl(tmp_path / "in" / "docs.jsonl", _corpus(5, seed=3))
    stage = TagStage(TagConfig(taggers=["topic=my-topic"], url_rules=None,
                               taxonomies=[f"topic={_taxonomy(tmp_path, ['cooking', 'football', 'gardening'])}"]))
    with pytest.raises(StageError, match=r"does not match taxonomy.*not in the taxonomy: computers.*lacks: gardening"):
        run_stage(stage, resolve_inputs([str(tmp_path / "in")], TagStage.input_suffixes), tmp_path / "out")
    assert not (tmp_path / "out" / "docs.parquet").exists()
    # through the CLI: one line, exit 2
    r = run_cli("tag", str(tmp_path / "in"), "-o", str(tmp_path / "out2"), "--taggers", "topic=my-topic",
                "--taxonomies", "topic=weborganizer-topics", env={"CURATE_MODELS_DIR": str(tmp_path / "models")})
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "does not match taxonomy 'weborganizer-topics'" in err and "Traceback" not in err


def test_bad_tagger_configuration_is_a_clear_error(tmp_path, models):
    write_jsonl(tmp_path / "in" / "docs.jsonl", _corpus(5, seed=3))
    env = {"CURATE_MODELS_DIR": str(models)}
    for args, message in (
        (["--taggers", "topic=no-such-model"], "neither a registered model"),
        (["--taggers", "to pic=x"], "COLUMN=MODEL"),
        (["--taggers", "", "--taxonomies", "topic=weborganizer-topics"], "no tagger writes it"),
        (["--taggers", "", "--url-rules", str(tmp_path / "missing.yaml")], "missing.yaml"),
    ):
        r = run_cli("tag", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *args, env=env)
        assert r.returncode == 2, (args, r.stderr.decode())
        assert message in r.stderr.decode() and "Traceback" not in r.stderr.decode()


def test_shipped_taxonomies():
    topics, formats = load_taxonomy("weborganizer-topics"), load_taxonomy("weborganizer-formats")
    assert len(topics.labels) == 24 and len(formats.labels) == 24
    assert [lab.id for lab in topics.labels] == list(range(24))
    assert topics.labels[2].name == "Software Development" and formats.labels[17].name == "Q&A Forum"
    assert all(lab.description for lab in topics.labels + formats.labels)
    sib = load_taxonomy("sib200-topics")
    assert sib.label_set == {"science_technology", "travel", "politics", "sports", "health", "entertainment", "geography"}
    assert ROOT.joinpath("configs", "taxonomies", "weborganizer-topics.yaml") == topics.path


def test_builtin_sib200_tagger_works_offline_in_a_pipe(tmp_path):
    """The shipped model: registered as built-in with its licence, intact, and tagging obvious
    sentences in three languages; a stream run (no output folder) still returns the mix."""
    from curate.models import list_models
    from curate.runner import stream_stage

    info = next(m for m in list_models() if m.name == "sib200-topic")
    assert "CC-BY-SA-4.0" in info.license and info.meta["taxonomy"] == "sib200-topics"
    docs = [
        {"id": "en", "text": "The football team won the championship match with a late goal by their striker."},
        {"id": "es", "text": "El equipo de fútbol ganó el partido del campeonato con un gol en el último minuto."},
        {"id": "de", "text": "Der Fußballverein gewann das Meisterschaftsspiel mit einem späten Tor seines Stürmers."},
        {"id": "health", "text": "The patient was treated in hospital for the disease and the doctors gave him medicine."},
        {"id": "blank", "text": "\n \n"},
    ]
    path = write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as f:
        result = stream_stage(TagStage(TagConfig()), resolve_inputs([str(path)], TagStage.input_suffixes), f,
                              tmp_path / "rejected" / "x.jsonl", work_dir=tmp_path / "work")
    import orjson

    got = {d["id"]: d for d in map(orjson.loads, out.read_bytes().splitlines())}
    assert [got[i]["topic"] for i in ("en", "es", "de", "health", "blank")] == ["sports"] * 3 + ["health", "unknown"]
    assert result.summary.dimension("topic")["sports"]["docs"] == 3 and result.summary.path is None
