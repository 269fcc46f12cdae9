"""The linear TF-IDF tagger (curate/stages/tag/linear.py) and the one-pass `tag2` line: scores equal
scikit-learn's, training through train-classifier, tagging through the stage, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from curate.inputs import resolve_inputs
from curate.runner import run_stage
from curate.stage import StageError
from curate.stages.model_filter.train import TrainParams, train_classifier
from curate.stages.tag import TagConfig, TagStage, linear
from curate.stages.tag.features import normalise_fast, normalise_text, tagger_line
from tests.conftest import read_docs, write_jsonl
from tests.test_tag import TOPICS, _corpus


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("CURATE_MODELS_DIR", str(folder))
    return folder


def test_tag2_line_is_one_pass_normalisation():
    assert normalise_fast("Hello, World!\nIt's 2024…\tÜber 3.5%") == "hello  world  it s 0000… über 0 0 "
    assert "\n" not in normalise_fast("a\r\nb\x0bc") and normalise_fast("") == ""
    assert normalise_fast("bad \udcff surrogate").startswith("bad ")  # lone surrogates do not raise
    # the same words as the regex version wherever the text is ASCII
    text = "Top 10 Recipes: Bake (at 180C) & serve!\nDone."
    assert normalise_fast(text).split() == [w for w in normalise_text(text, None).split() if w.isalnum()]
    line = tagger_line("Title here\nBody text 42", "https://news.example.co.uk/a/b-c?id=7", None, "tag2")
    assert line.split()[:5] == ["u:example.co.uk", "u:.co.uk", "h:news", "p:a", "p:b"]
    assert line.endswith("body text 00")
    assert tagger_line(" \n\t", "http://x.com/", None, "tag2") == ""
    assert tagger_line("...", None, None, "tag2") == ""  # punctuation only: nothing to tag


def test_scores_equal_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    docs = _corpus(300, seed=4)
    lines = [tagger_line(d["text"], d["url"], None) for d in docs]
    labels = [d["topic_label"] for d in docs]
    model = linear.fit(lines[:200], labels[:200], linear.LinearParams(c=0.5))
    vec = TfidfVectorizer(analyzer=str.split, sublinear_tf=True, min_df=2, dtype=np.float32)
    clf = LinearSVC(C=0.5, random_state=0).fit(vec.fit_transform(lines[:200]), labels[:200])
    test = lines[200:] + ["", "words never seen before"]
    expected = clf.decision_function(vec.transform(test))
    assert np.allclose(model.scores(test), expected, atol=1e-4)
    assert model.labels == tuple(clf.classes_)
    probs = model.predict(test)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs[:100].argmax(axis=1) == expected[:100].argmax(axis=1)).all()


def test_char_ngram_features_equal_scikit_learn_char_wb(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    docs = _corpus(300, seed=5)
    lines = [tagger_line(d["text"], d["url"], 300) for d in docs] + ["a bb 中文字 x"]
    labels = [d["topic_label"] for d in docs] + [docs[0]["topic_label"]]
    params = linear.LinearParams(c=0.5, char_ngrams=(2, 4), words=False)
    # a padded word no longer than n is one n-gram, and longer n are not tried (char_wb's rule)
    assert linear.tokens("ab x", params) == [" a", "ab", "b ", " ab", "ab ", " ab ", " x", "x ", " x "]
    model = linear.fit(lines[:200], labels[:200], params)
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=False, sublinear_tf=True, min_df=2,
                          dtype=np.float32)
    clf = LinearSVC(C=0.5, random_state=0).fit(vec.fit_transform(lines[:200]), labels[:200])
    assert set(model.vocab) == set(vec.vocabulary_)
    test = lines[200:] + ["", "never seen"]
    assert np.allclose(model.scores(test), clf.decision_function(vec.transform(test)), atol=1e-4)
    # words and n-grams together; the parameters survive saving
    both = linear.fit(lines[:200], labels[:200], linear.LinearParams(char_ngrams=(3, 3), words=True))
    from curate.stages.tag.tfidf import tfidf

    by_strings = tfidf([linear.tokens(line, both.params) for line in test], both.vocab, both.idf)
    assert abs(both.matrix(test) - by_strings).max() < 1e-6  # the per-word id cache gives the same rows
    word = lines[0].split()[-1]
    assert word in both.vocab and f" {word[:2]}" in both.vocab
    path = tmp_path / "both.npz"
    linear.save(both, path)
    again = linear.load(str(path))
    assert again.params == both.params and again.params.char_ngrams == (3, 3)
    # weights are stored as int8 with a scale per label: scores move a little, the top label does not
    assert np.allclose(again.scores(test), both.scores(test), atol=0.05)
    assert (again.scores(test).argmax(axis=1) == both.scores(test).argmax(axis=1)).all()


def test_hashed_char_ngrams_need_no_vocabulary(tmp_path):
    docs = _corpus(400, seed=6)
    lines = [tagger_line(d["text"], d["url"], 300) for d in docs]
    labels = [d["topic_label"] for d in docs]
    params = linear.LinearParams(char_ngrams=(2, 5), words=False, buckets=1 << 16)
    model = linear.fit(lines[:300], labels[:300], params)
    assert not model.vocab and model.idf.shape == (1 << 16,) and model.coef.shape == (1 << 16, len(set(labels)))
    right = np.mean(np.array(model.labels)[model.scores(lines[300:]).argmax(axis=1)] == np.array(labels[300:]))
    assert right > 0.9
    path = tmp_path / "hashed.npz"
    linear.save(model, path)
    again = linear.load(str(path))
    assert again.params.buckets == 1 << 16 and not again.vocab
    assert (again.scores(lines[300:]).argmax(axis=1) == model.scores(lines[300:]).argmax(axis=1)).mean() > 0.98
    with pytest.raises(ValueError, match="only with char_ngrams"):
        linear.LinearParams(buckets=100)


def test_train_classifier_linear_then_tag(tmp_path, models):
    train = write_jsonl(tmp_path / "train" / "labelled.jsonl", _corpus(600, seed=1))
    params = TrainParams(features="tag2", model="linear", ratio=100, max_chars=2_000)
    result = train_classifier(models / "lin-topic.npz", "lin-topic", inputs=[str(train)], label_column="topic_label",
                              params=params)
    assert result.metrics["accuracy"] > 0.9
    assert result.model.meta["features"] == "tag2" and result.model.meta["params"]["model"] == "linear"
    grams = train_classifier(models / "lin-grams.npz", "lin-grams", inputs=[str(train)], label_column="topic_label",
                             params=TrainParams(features="tag2", model="linear", ratio=100, minn=2, maxn=4))
    assert grams.metrics["accuracy"] > 0.9
    assert grams.model.meta["params"]["minn"] == 2 and linear.load(str(models / "lin-grams.npz")).params.char_ngrams == (2, 4)
    with pytest.raises(StageError, match=r"saved as \.npz"):
        train_classifier(models / "x.bin", "x", inputs=[str(train)], label_column="topic_label", params=params)

    docs = _corpus(200, seed=2) + [{"id": "empty", "text": "", "url": None}, {"id": "blank", "text": " \n ", "url": None}]
    write_jsonl(tmp_path / "in" / "docs.jsonl", docs)
    stage = TagStage(TagConfig(taggers=["topic=lin-topic"], distribution=True, url_rules=None))
    run_stage(stage, resolve_inputs([str(tmp_path / "in")], TagStage.input_suffixes), tmp_path / "out")
    out = {d["id"]: d for d in read_docs(tmp_path / "out")}
    assert len(out) == len(docs)
    assert sum(out[d["id"]]["topic"] == d["topic_label"] for d in docs[:200]) >= 190
    assert out["empty"]["topic"] == out["blank"]["topic"] == "unknown" and out["empty"]["topic_prob"] == 0.0
    d = out["d0"]
    dist = {k.split("__")[1]: v for k, v in d.items() if k.startswith("topic__")}
    assert set(dist) == set(TOPICS) and abs(sum(dist.values()) - 1) < 0.01 and max(dist, key=dist.get) == d["topic"]
    assert d["topic_prob"] == pytest.approx(max(dist.values()))


def test_not_a_linear_tagger_is_a_clear_error(tmp_path, models):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    write_jsonl(tmp_path / "in" / "docs.jsonl", _corpus(3, seed=3))
    stage = TagStage(TagConfig(taggers=[f"topic={bad}"], url_rules=None))
    with pytest.raises(StageError, match="not a linear tagger"):
        run_stage(stage, resolve_inputs([str(tmp_path / "in")], TagStage.input_suffixes), tmp_path / "out")


def test_builtin_tagger_reads_the_start_of_a_document():
    from curate.stages.tag.taggers import load_tagger

    tagger = load_tagger("sib200-topic")
    assert tagger.features == "tag2" and tagger.max_chars == 1_000
    text = "The football match ended with a late goal.\n" + "x " * 5_000
    one = tagger.tag([text], [None], 10_000)
    assert one == tagger.tag([text[:1_000]], [None], None)  # nothing after the model's max_chars is read
