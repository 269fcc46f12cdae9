"""The stage contract, checked for every registered stage (present and future) and for the runner's parts
of it: two passes, named outputs, tag mode, column clashes, the registry, and the datatrove entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.config import load_config
from curate.errors import ConfigError, StageError
from curate.inputs import resolve_inputs
from curate.pipeline import run_pipeline
from curate.runner import run_stage
from curate.demo_crawl import generate_sample
from curate.stages import BROKEN, STAGES, _import, get_stage, load_stages, register
from tests.conftest import read_docs, write_jsonl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stages_for_tests  # noqa: E402,F401 - registers the test-only stages

BUILT_IN = sorted(name for name in load_stages() if not name.startswith("test-"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Path]:
    """A small generated crawl in both shapes: WARC pages and their text as JSONL."""
    root = tmp_path_factory.mktemp("contract")
    generate_sample(root / "warc", docs=60, seed=3, shards=2, fmt="warc")
    generate_sample(root / "jsonl", docs=60, seed=3, shards=2, fmt="jsonl")
    return {"warc": root / "warc", "jsonl": root / "jsonl"}


@pytest.fixture(scope="module")
def model_options(sample, tmp_path_factory) -> dict[str, dict]:
    """Options for stages that need a model only a user can train (given by path, registered elsewhere)."""
    from curate.stages.model_filter.train import TrainParams
    from curate.stages.rate.train import train_rater

    folder = tmp_path_factory.mktemp("contract-models")
    mp = pytest.MonkeyPatch()
    mp.setenv("CURATE_MODELS_DIR", str(folder))  # the training registers the rater here, not in the project
    rater = folder / "edu.bin"
    train_rater([str(sample["jsonl"] / "train" / "ratings.jsonl")], "edu", rater,
                params=TrainParams(epoch=10, lr=0.5, bucket=20_000, ratio=3.0), demo=True)
    mp.undo()
    return {"rate": {"raters": [str(rater)]}}


def _inputs(cls, sample):
    files = sample["jsonl"] / "docs-*.jsonl.zst" if ".jsonl.zst" in cls.input_suffixes else sample["warc"] / "*.warc.gz"
    return resolve_inputs([str(files)], cls.input_suffixes)


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_stage_keeps_the_contract(name, sample, model_options, tmp_path):
    cls = get_stage(name)
    options = {**cls.contract_options, **model_options.get(name, {})}
    stage = cls(**options)
    again = cls(**options)
    tagging = cls(**{**options, "mode": "tag"})
    # the fingerprint follows the config, and only the config
    assert stage.fingerprint() == again.fingerprint()
    assert stage.fingerprint() != tagging.fingerprint()

    inputs = _inputs(cls, sample)
    drop = run_stage(stage, inputs, tmp_path / "drop")
    s = drop.stats
    assert s.docs_in > 0 and s.docs_in == s.kept + s.rejected
    # every reason names the stage (or the reader, for records that are not documents)
    assert all(r.startswith((f"{name}:", "read:")) for r in s.reasons), s.reasons
    rejected = [d for p in (tmp_path / "drop" / "rejected").glob("*.parquet") for d in pq.read_table(p).to_pylist()]
    assert len(rejected) == s.rejected and all(d["reject_reason"] for d in rejected)

    tag = run_stage(tagging, inputs, tmp_path / "tag")
    t = tag.stats
    assert t.docs_in == s.docs_in
    # tag mode keeps every document: only records without text (not documents) are rejected
    not_documents = {r: n for r, n in s.reasons.items() if r.startswith("read:")}
    stage_rejects = sum(n for r, n in s.reasons.items() if not r.startswith("read:"))
    assert t.rejected <= sum(not_documents.values()) + stage_rejects
    kept = read_docs(tmp_path / "tag")
    assert len(kept) == t.kept
    tagged = [d for d in kept if d.get(cls.reason_column())]
    assert sum(t.tagged.values()) == len(tagged)
    assert all(d[cls.reason_column()].startswith(f"{name}:") for d in tagged)
    if name != "extract":  # extract's records without text (binary, not HTML) stay rejected in any mode
        assert t.rejected == sum(not_documents.values()) and len(tagged) == stage_rejects


def test_two_pass_stage_sees_the_same_rows_in_both_passes_and_gets_its_prepared_value_in_workers(sample, tmp_path):
    cls = get_stage("test-longer-than")
    inputs = _inputs(cls, sample)
    result = run_stage(cls(quantile=0.5), inputs, tmp_path / "out", workers=2)
    kept = read_docs(tmp_path / "out")
    lengths = sorted(len(d["text"]) for d in kept)
    assert result.stats.kept == len(kept) and result.stats.rejected > 0
    cut = min(lengths)
    rejected = [d for p in (tmp_path / "out" / "rejected").glob("*.parquet") for d in pq.read_table(p).to_pylist()]
    assert all(d["test_longer_than_chars"] < cut for d in rejected if d["reject_reason"] == "test-longer-than:short")
    # the median of all lengths: about half are kept
    assert abs(result.stats.kept - result.stats.docs_in / 2) <= 0.1 * result.stats.docs_in


def test_named_outputs_are_written_recorded_resumed_and_removed_with_their_input(tmp_path):
    stage = get_stage("test-emit")()
    a = write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": f"a{i}", "text": "x" * i} for i in range(1, 6)])
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"id": "b1", "text": "yy"}])
    out = tmp_path / "out"
    result = run_stage(stage, resolve_inputs([str(tmp_path / "in")], stage.input_suffixes), out)
    assert result.stats.kept == 6
    lines = [orjson.loads(x) for x in (out / "requests" / "a.jsonl").read_bytes().splitlines()]
    assert lines == [{"custom_id": f"a{i}", "chars": i} for i in range(1, 6)]
    entry = orjson.loads((out / "_manifest" / "a.json").read_bytes())
    assert entry["named_outputs"] == {"requests": ["requests/a.jsonl"]} and entry["curate_version"]
    # resume: nothing redone while the named output is there; a missing one redoes its shard
    assert run_stage(stage, resolve_inputs([str(tmp_path / "in")], stage.input_suffixes), out).shards_run == 0
    (out / "requests" / "b.jsonl").unlink()
    assert run_stage(stage, resolve_inputs([str(tmp_path / "in")], stage.input_suffixes), out).shards_run == 1
    # a vanished input takes its named output with it
    a.unlink()
    run_stage(stage, resolve_inputs([str(tmp_path / "in")], stage.input_suffixes), out)
    assert not (out / "requests" / "a.jsonl").exists() and (out / "requests" / "b.jsonl").exists()


def test_a_column_over_a_core_field_or_another_stages_column_is_a_config_error(tmp_path):
    with pytest.raises(StageError, match="core field"):
        get_stage("test-clash")(column="text").check_columns()
    write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    config = tmp_path / "run.yaml"
    config.write_text(f"run_dir: {tmp_path / 'run'}\ninputs: [{tmp_path / 'in.jsonl'}]\nstages:\n"
                      "  - stage: test-slow-copy\n  - stage: test-clash\n    column: copied_by\n")
    cfg, specs = load_config(config)
    with pytest.raises(ConfigError, match="copied_by"):
        run_pipeline(cfg, specs)
    assert not (tmp_path / "run").exists()  # nothing written


def test_a_model_named_text_cannot_overwrite_the_text(tmp_path):
    model = tmp_path / "text.bin"
    model.write_bytes(b"not used: the clash is found first")
    with pytest.raises(StageError, match="core field"):
        get_stage("model-filter")(models=[str(model)]).check_columns()


def test_registry_refuses_two_stages_with_one_name_and_reports_a_broken_module():
    existing = STAGES["ingest"]
    impostor = type("Impostor", (existing,), {"__module__": "elsewhere"})
    with pytest.raises(StageError, match="two stages are named 'ingest'"):
        register(impostor)
    assert STAGES["ingest"] is existing

    def broken():
        raise ImportError("No module named 'missing_dependency'")

    _import("curate.stages.broken_example", broken)
    try:
        with pytest.raises(StageError, match="broken_example failed to import: ImportError"):
            get_stage("no-such-stage")
        assert get_stage("filter")  # every other stage still works
    finally:
        BROKEN.pop("curate.stages.broken_example")


def test_a_stage_runs_inside_a_plain_datatrove_pipeline_with_the_same_result(tmp_path):
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    docs = generate_sample(tmp_path / "sample", docs=80, seed=5, shards=1, fmt="jsonl")
    src = tmp_path / "src"
    src.mkdir()
    for f in docs.files:
        (src / f.name.replace(".zst", "")).write_bytes(zstandard.ZstdDecompressor().stream_reader(f.open("rb")).read())
    executor = LocalPipelineExecutor(
        pipeline=[JsonlReader(str(src)), get_stage("filter")(), JsonlWriter(str(tmp_path / "dt"), compression=None)],
        tasks=1, workers=1, logging_dir=str(tmp_path / "dt_logs"))
    executor.run()
    via_datatrove = {}
    for p in (tmp_path / "dt").glob("*.jsonl"):
        for line in p.read_bytes().splitlines():
            d = orjson.loads(line)
            via_datatrove[d["id"]] = d["text"]

    stage = get_stage("filter")()
    run_stage(stage, resolve_inputs([str(src)], stage.input_suffixes), tmp_path / "curate")
    via_curate = {d["id"]: d["text"] for d in read_docs(tmp_path / "curate")}
    assert 0 < len(via_curate) < 80
    assert via_datatrove == via_curate
