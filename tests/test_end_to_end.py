"""The whole core chain on the built-in sample crawl: as a shell pipeline and as `curate run`."""

from __future__ import annotations

import collections
import subprocess
import sys

import orjson
import pytest
import yaml

from curate.demo_crawl import generate_sample
from tests.conftest import read_docs, run_cli

CURATE = f"{sys.executable} -m curate.cli"


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), docs=200, seed=3, shards=2)


def _jsonl(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_extract_filter_dedup_as_a_shell_pipeline_loses_nothing(crawl, tmp_path):
    files = " ".join(str(p) for p in crawl.files)
    pipeline = f"{CURATE} extract {files} -o - | {CURATE} filter - -o - | {CURATE} dedup - -o {tmp_path / 'out'}"
    proc = subprocess.run(pipeline, shell=True, capture_output=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()

    kept = read_docs(tmp_path / "out")
    rejected = {stage: [d for p in (tmp_path / "rejected").glob(f"{stage}-*.jsonl") for d in _jsonl(p)]
                for stage in ("extract", "filter")}
    rejected["dedup"] = read_docs(tmp_path / "out" / "rejected")
    html_pages = sum(n for kind, n in crawl.counts.items() if kind != "non_html")
    assert len(kept) + sum(map(len, rejected.values())) == html_pages, "a page went missing in the pipe"
    for stage, docs in rejected.items():
        assert docs and all(d["reject_reason"].startswith(f"{stage}:") for d in docs)
    assert len({d["id"] for d in kept}) == len(kept)


def test_curate_run_core_chain_keeps_one_copy_per_duplicate_group(crawl, tmp_path):
    models = tmp_path / "models"
    env = {"CURATE_MODELS_DIR": str(models)}
    # the demo's lid.176 lives in the project's models dir; link it into this test's registry
    from curate.models import LID176, model_path

    models.mkdir()
    (models / LID176.path).symlink_to(model_path(LID176))
    run_cli("train-classifier", "--positive", str(crawl.train_positive), "--negative", str(crawl.train_negative),
            "-o", str(models / "q.bin"), "--name", "q", "--bucket", "50000", "--epoch", "25", "--lr", "0.5",
            env=env, check=True)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({
        "run_dir": "run", "workers": 2, "inputs": [{"path": str(crawl.out_dir), "source": "sample"}],
        "stages": [{"stage": "extract"}, {"stage": "filter", "preset": "fineweb"},
                   {"stage": "model-filter", "models": ["q"], "threshold": 0.5},
                   {"stage": "dedup", "scope": "global"}],
    }))
    proc = run_cli("run", str(cfg), env=env, check=True)
    assert "MISMATCH" not in proc.stderr.decode()

    labels = {lab["url"]: lab for lab in map(orjson.loads, crawl.labels.read_bytes().splitlines())}
    dedup_in = read_docs(tmp_path / "run" / "02-model-filter")
    kept = {d["url"] for d in read_docs(tmp_path / "run" / "03-dedup")}
    groups = collections.defaultdict(list)
    for d in dedup_in:
        lab = labels[d["url"]]
        groups[lab["duplicate_of"] or lab["url"]].append((lab.get("edit_fraction") or 0, d["url"] in kept))
    close_groups = [g for g in groups.values() if len(g) > 1 and max(e for e, _ in g) <= 0.02]
    assert close_groups, "the sample should leave some duplicate groups for dedup"
    assert all(sum(k for _, k in g) == 1 for g in close_groups), "exactly one survivor per duplicate group"
    kinds = collections.Counter(labels[u]["kind"] for u in kept)
    assert kinds["spam"] == 0 and kinds["boilerplate"] == 0 and kinds["article"] > 0
