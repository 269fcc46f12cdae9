"""The whole rating loop through a real HTTP server on 127.0.0.1 started by the test:
annotate export -> curate llm run -> annotate import -> train-rater -> rate.

The server (tests/llm_stub.py) answers every task in its format from the levels the sample
generator built each page with; a few pages ask it to ramble, refuse or fail, and those must be
counted, never scored. The slow test does the same with the embedded local model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import shutil
import zstandard
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from curate.annotate.export import export_requests
from curate.annotate.importer import import_labels
from curate.annotate.tasks import load_task
from curate.llm.client import run_requests
from curate.models import resolve_model
from curate.demo_crawl import generate_sample
from tests.conftest import read_docs, run_cli, write_jsonl
from tests.llm_stub import StubLLM, serve

BAD = [("bad-malformed", "PLEASE-MALFORM an odd page."), ("bad-refused", "PLEASE-REFUSE an odd page."),
       ("bad-error", "PLEASE-ERROR an odd page.")]


def stderr(proc) -> str:
    return proc.stderr.decode().replace("\n", "")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The sample crawl as text documents, a shard of pages that misbehave, and each page's level."""
    out = tmp_path_factory.mktemp("corpus")
    info = generate_sample(out / "sample", docs=240, seed=11, shards=2, fmt="jsonl")
    labels = {r["id"]: r["edu_level"] for r in map(orjson.loads, info.labels.read_bytes().splitlines())}
    docs = []
    (out / "docs").mkdir()
    for f in info.files:  # the documents only (the sample folder also holds labels and training sets)
        docs += [orjson.loads(x) for x in zstandard.decompress(f.read_bytes(), max_output_size=1 << 30).splitlines()]
        shutil.copy(f, out / "docs" / f.name)
    write_jsonl(out / "docs" / "odd.jsonl", [{"id": i, "text": t * 20, "source": "odd"} for i, t in BAD])
    levels = {d["text"]: labels[d["id"]] for d in docs}
    return out / "docs", docs, labels, levels


def test_edu_loop_end_to_end_through_http(corpus, tmp_path):
    folder, docs, labels, levels = corpus
    env = {"CURATE_MODELS_DIR": str(tmp_path / "models")}
    stub = StubLLM(levels)
    ann = tmp_path / "ann"
    run_cli("annotate", "export", str(folder), "-o", str(ann), "--task", "edu", "--sample", "300", "--by", "source",
            check=True)
    with serve(stub) as url:
        proc = run_cli("llm", "run", *map(str, sorted(ann.glob("requests-*.jsonl"))), "-o", str(ann / "responses.jsonl"),
                       "--endpoint", f"{url}/v1", "--concurrency", "4", "--max-retries", "0")
    assert proc.returncode == 1, stderr(proc)  # one request failed for good (HTTP 400): counted, not fatal
    assert stub.requests == 243

    proc = run_cli("annotate", "import", str(ann / "responses.jsonl"), "-o", str(tmp_path / "labels.parquet"), check=True)
    msg = stderr(proc)
    assert re.search(r"edu: failed answers \(no label\): error 1, no_answer 1, refused 1", msg), msg
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "labels.parquet").to_pylist()}
    assert len(rows) == 243
    for doc_id, _ in BAD:
        assert rows[doc_id]["edu"] is None  # never a silent 0
    assert all(rows[d["id"]]["edu"] == labels[d["id"]] for d in docs)
    failures = pq.read_table(tmp_path / "labels.failures.parquet").to_pylist()
    assert {f["doc_id"]: f["reason"] for f in failures} == {"bad-malformed": "no_answer", "bad-refused": "refused",
                                                            "bad-error": "error"}
    assert next(f for f in failures if f["reason"] == "refused")["raw_text"].startswith("I'm sorry")

    proc = run_cli("train-rater", str(tmp_path / "labels.parquet"), "--criterion", "edu", "-o",
                   str(tmp_path / "models" / "edu-rater.bin"), "--epoch", "25", "--lr", "0.5", "--bucket", "20000",
                   env=env, check=True)
    assert "skipped" in stderr(proc) and "3 without a edu label skipped" in stderr(proc)
    rated = tmp_path / "rated"
    run_cli("rate", str(folder), "-o", str(rated), "--raters", "edu-rater", "--buckets", "20", env=env, check=True)
    out = read_docs(rated)
    assert len(out) == 243 and all(0 <= d["quality_bucket"] < 20 for d in out)
    real = [d for d in out if d["id"] in labels]
    rho = spearmanr([d["rating_edu"] for d in real], [labels[d["id"]] for d in real]).statistic
    assert rho > 0.6, rho
    registry = json.loads((tmp_path / "models" / "registry.json").read_text())
    assert registry["edu-rater"]["meta"]["rater_held_out"]["spearman"] > 0.5


@pytest.mark.parametrize("task", ["edu-json", "qurating-pairwise", "qurating-pairwise-json", "taxonomy",
                                  "taxonomy-json"])
def test_each_task_format_through_http(corpus, tmp_path, task):
    folder, docs, labels, levels = corpus
    taxonomy = None
    categories = {}
    if task.startswith("taxonomy"):
        taxonomy = tmp_path / "kinds.yaml"
        taxonomy.write_text("name: page-kind\nlabels:\n  - {label: junk, name: Junk}\n  - {label: stub, name: Stub}\n"
                            "  - {label: prose, name: Prose}\n  - {label: lesson, name: Lesson}\n")
        names = {0: "Junk", 1: "Stub", 2: "Prose", 4: "Lesson"}
        categories = {d["text"]: names[labels[d["id"]]] for d in docs}
    the_task = load_task(task, str(taxonomy) if taxonomy else None)
    ann = tmp_path / "ann"
    export_requests(the_task, [str(folder / "docs-00000.jsonl.zst")], ann, 40,
                    criteria=["educational_value"] if "pairwise" in task else None, comparisons=6)
    stub = StubLLM(levels, categories)
    with serve(stub) as url:
        summary = run_requests(sorted(ann.glob("requests-*.jsonl")), ann / "responses.jsonl", f"{url}/v1", concurrency=4)
    assert summary.failed == 0
    result = import_labels([ann / "responses.jsonl"], tmp_path / "labels.parquet")
    rows = pq.read_table(tmp_path / "labels.parquet").to_pylist()
    (criterion, report), = result.criteria.items()
    assert not report.failures
    if task == "edu-json":
        assert all(r["edu"] == labels[r["id"]] for r in rows)
    elif "pairwise" in task:
        assert report.pairs > 0 and report.labelled_documents == 40
        rated = [(r[criterion], labels[r["id"]]) for r in rows]
        assert spearmanr(*zip(*rated)).statistic > 0.7
    else:
        assert all(r["page_kind"] == categories[r["text"]].lower() for r in rows)


@pytest.mark.slow
def test_edu_json_through_the_embedded_local_model(tmp_path):
    """Three documents, the edu task's JSON-schema variant, the real embedded model: every answer parses."""
    from curate.llm.serve import start_server

    try:
        resolve_model("smollm2-135m")
    except Exception as e:  # installed by make setup; a clear reason if it is not
        pytest.fail(f"the embedded model is not installed ({e}); run make setup")
    docs = [{"id": "lesson", "text": "Photosynthesis is how plants make food. Leaves take in carbon dioxide and "
                                     "water and, using light, turn them into sugar and oxygen. " * 3},
            {"id": "spam", "text": "BUY CHEAP WATCHES NOW best price best price click here click here " * 4},
            {"id": "news", "text": "The city council met on Tuesday to discuss the budget for next year. " * 3}]
    inputs = write_jsonl(tmp_path / "docs.jsonl", docs)
    ann = tmp_path / "ann"
    export_requests(load_task("edu-json"), [str(inputs)], ann, 3)
    server = start_server(port=0)
    try:
        summary = run_requests(sorted(ann.glob("requests-*.jsonl")), ann / "responses.jsonl", server.url, concurrency=1)
    finally:
        server.close()
    assert summary.failed == 0
    result = import_labels([ann / "responses.jsonl"], tmp_path / "labels.parquet")
    assert result.criteria["edu"].answered == 3 and not result.criteria["edu"].failures
    values = pq.read_table(tmp_path / "labels.parquet").column("edu").to_pylist()
    assert all(v in (0, 1, 2, 3, 4, 5) for v in values)
