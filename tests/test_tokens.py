"""The tokens stage: exact counts with a real tokenizers JSON file, the per-language estimate, calibration."""

from __future__ import annotations

import pytest
import yaml
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from curate.stages.tokens.estimate import CHARS_PER_TOKEN, DEFAULT, estimate_tokens, token_sql
from tests.conftest import read_docs, run_cli, write_jsonl

TEXTS = {
    "en": "The committee published its annual report on regional water quality and the results of the survey.",
    "de": "Der Ausschuss veröffentlichte seinen Jahresbericht über die regionale Wasserqualität und die Ergebnisse.",
    "fr": "Le comité a publié son rapport annuel sur la qualité de l'eau dans la région et les résultats.",
}


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    """A real byte-level BPE trained here with the tokenizers trainer (no download)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([t for t in TEXTS.values()] * 20, trainer)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def corpus(tmp_path):
    docs = [{"id": f"{lang}-{i}", "text": (text + " ") * (i + 1), "language": lang}
            for lang, text in TEXTS.items() for i in range(5)]
    return write_jsonl(tmp_path / "in.jsonl", docs), docs


def test_exact_counts_match_the_tokenizer(tmp_path, tokenizer_file):
    src, docs = corpus(tmp_path)
    run_cli("tokens", str(src), "-o", str(tmp_path / "out"), "--tokenizer", str(tokenizer_file), check=True)
    out = read_docs(tmp_path / "out")
    tok = Tokenizer.from_file(str(tokenizer_file))
    expected = {d["id"]: len(tok.encode(d["text"], add_special_tokens=False).ids) for d in docs}
    assert {d["id"]: d["n_tokens"] for d in out} == expected
    assert {d["tokens_method"] for d in out} == {"tokenizer:tokenizer.json"}
    assert len(set(expected.values())) > 5  # counts differ by length, not a constant


def test_estimate_by_language(tmp_path):
    src, docs = corpus(tmp_path)
    run_cli("tokens", str(src), "-o", str(tmp_path / "out"), check=True)
    out = {d["id"]: d for d in read_docs(tmp_path / "out")}
    for d in docs:
        assert out[d["id"]]["n_tokens"] == round(len(d["text"]) / CHARS_PER_TOKEN[d["language"]])
        assert out[d["id"]]["tokens_method"] == "estimate"
    assert estimate_tokens("", "en") == 0 and estimate_tokens("a", "en") == 1
    assert estimate_tokens("x" * 100, "no-such-language") == round(100 / DEFAULT)
    assert estimate_tokens("x" * 100, "en", {"en": 4.0}) == 25


def test_sql_estimate_agrees_with_python():
    import duckdb

    expr, kind = token_sql({"text", "language"})
    assert kind == "estimate"
    rows = [(t, lang) for lang, t in TEXTS.items()] + [("", "en"), (None, "en"), ("abc" * 50, "xx")]
    con = duckdb.connect()
    con.execute("CREATE TABLE d (text VARCHAR, language VARCHAR)")
    con.executemany("INSERT INTO d VALUES (?, ?)", rows)
    got = [r[0] for r in con.execute(f"SELECT {expr} FROM d").fetchall()]
    assert got == [estimate_tokens(t, lang) for t, lang in rows]
    assert token_sql({"n_tokens", "text"}) == ('"n_tokens"', "n_tokens")


def test_calibrate_measures_the_tokenizers_ratios(tmp_path, tokenizer_file):
    src, docs = corpus(tmp_path)
    run_cli("tokens-calibrate", str(src), "--tokenizer", str(tokenizer_file), "-o", str(tmp_path / "cpt.yaml"), check=True)
    ratios = yaml.safe_load((tmp_path / "cpt.yaml").read_text())["chars_per_token"]
    tok = Tokenizer.from_file(str(tokenizer_file))
    en = [d for d in docs if d["language"] == "en"]
    chars = sum(len(d["text"]) for d in en)
    tokens = sum(len(tok.encode(d["text"], add_special_tokens=False).ids) for d in en)
    assert ratios["en"] == pytest.approx(chars / tokens, abs=1e-3)
    # the calibrated ratios, fed back as config, make the estimate close to exact
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"run_dir": "r", "inputs": [{"path": str(src)}],
                                   "stages": [{"stage": "tokens", "chars_per_token": ratios}]}))
    run_cli("run", str(cfg), cwd=tmp_path, check=True)
    (stage_dir,) = [p for p in (tmp_path / "r").iterdir() if p.is_dir()]  # beside the run lock and run card
    est = sum(d["n_tokens"] for d in read_docs(stage_dir) if d["language"] == "en")
    assert abs(est - tokens) / tokens < 0.01


def test_bad_tokenizer_file_is_a_clear_error(tmp_path):
    src, _ = corpus(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not a tokenizer")
    proc = run_cli("tokens", str(src), "-o", str(tmp_path / "out"), "--tokenizer", str(bad), env={"COLUMNS": "400"})
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "bad.json" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.parquet"))
    missing = run_cli("tokens", str(src), "-o", str(tmp_path / "out"), "--tokenizer", str(tmp_path / "nope.json"),
                      env={"COLUMNS": "400"})
    assert missing.returncode == 2 and "not found" in missing.stderr.decode()
