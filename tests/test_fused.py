"""`curate run` fuses consecutive streaming stages into one pass per shard: same output, same
per-stage counts and rejects as writing every stage's shards (`materialize: true`)."""

from __future__ import annotations

from pathlib import Path

import sys

import duckdb
import pytest
import yaml

from curate.config import load_config
from curate.demo_crawl import generate_sample
from curate.errors import ShardFailed
from curate.explain import explain
from curate.pipeline import passes, run_pipeline
from curate.runstats import compute
from curate.stages import get_stage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stages_for_tests  # noqa: E402,F401 - registers the test-only stages

STAGES = [
    {"stage": "extract"},
    {"stage": "filter", "preset": "fineweb"},
    {"stage": "test-slow-copy", "delay_ms": 0, "reject_every": 7},
    {"stage": "test-emit"},
    {"stage": "dedup", "scope": "global"},
    {"stage": "test-slow-copy", "delay_ms": 0, "tag": "b"},
]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), docs=120, seed=5, shards=2)


def _config(tmp_path: Path, crawl, name: str, stages=STAGES, **extra) -> Path:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"run_dir": name, "workers": 1, "inputs": [{"path": str(crawl.out_dir)}],
                                   "stages": stages, **extra}))
    return cfg


def _run(cfg: Path):
    return run_pipeline(*load_config(cfg))


def _rows(folder: Path) -> list[tuple]:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return []
    return duckdb.sql(f"SELECT * FROM read_parquet({[str(f) for f in files]}, union_by_name = true) ORDER BY id").fetchall()


def test_passes_split_at_barriers_and_materialized_stages():
    stages = [get_stage(s["stage"])(**{k: v for k, v in s.items() if k != "stage"}) for s in STAGES]
    assert passes(stages, [False] * 6) == [[0, 1, 2, 3], [4], [5]]
    assert passes(stages, [False, True, False, False, False, False]) == [[0, 1], [2, 3], [4], [5]]
    assert passes(stages, [True] * 6) == [[0], [1], [2], [3], [4], [5]]


def test_fused_run_equals_materialized_run(crawl, tmp_path):
    fused = _run(_config(tmp_path, crawl, "fused"))
    materialized = _run(_config(tmp_path, crawl, "mat", materialize=True))

    assert [(r.stage, r.stats.docs_in, r.stats.kept, r.stats.rejected, r.stats.reasons) for r in fused] == \
        [(r.stage, r.stats.docs_in, r.stats.kept, r.stats.rejected, r.stats.reasons) for r in materialized]
    assert fused[2].stats.rejected > 0 and fused[1].stats.rejected > 0  # the chain really removed documents
    for f, m in zip(fused, materialized):
        assert _rows(f.out_dir / "rejected") == _rows(m.out_dir / "rejected"), f.stage
    assert _rows(fused[-1].out_dir) == _rows(materialized[-1].out_dir)
    assert len(_rows(fused[-1].out_dir)) == fused[-1].stats.kept > 0
    # only the last stage of each pass wrote kept shards; named outputs are written either way
    assert [bool(list(r.out_dir.glob("*.parquet"))) for r in fused] == [False, False, False, True, True, True]
    assert sorted(p.name for p in (fused[3].out_dir / "requests").iterdir()) == \
        sorted(p.name for p in (materialized[3].out_dir / "requests").iterdir())
    # per-stage times are each stage's own share of the pass: extracting pages costs more than copying
    assert all(r.seconds > 0 for r in fused)
    assert fused[0].seconds > fused[2].seconds and fused[0].seconds > fused[3].seconds


def test_stats_and_explain_read_through_a_fused_pass(crawl, tmp_path):
    results = _run(_config(tmp_path, crawl, "fused"))
    figures = compute(tmp_path / "fused")
    # what extract kept is what filter read (kept or rejected there): its token count is not zero
    assert figures.stages[0].tokens_kept == figures.stages[1].tokens_in > 0
    kept_id = _rows(results[-1].out_dir)[0][0]
    story = explain(tmp_path / "fused", doc_id=kept_id)
    assert [s.status for s in story.stages] == ["kept"] * 6
    assert "passed on in memory" in story.stages[0].detail


def test_resume_redoes_the_whole_pass_when_one_of_its_stages_changes(crawl, tmp_path):
    cfg = _config(tmp_path, crawl, "fused")
    first = _run(cfg)
    assert [r.shards_run for r in _run(cfg)] == [0] * 6
    changed = [dict(s) for s in STAGES]
    changed[2]["reject_every"] = 5
    second = _run(_config(tmp_path, crawl, "fused", stages=changed))
    assert [r.shards_run for r in second][:4] == [2, 2, 2, 2]
    assert second[0].stats.kept == first[0].stats.kept and second[2].stats.rejected > first[2].stats.rejected


def test_a_failing_stage_inside_a_pass_is_named_and_nothing_is_recorded(crawl, tmp_path):
    stages = [{"stage": "extract"}, {"stage": "test-fail-on", "marker": "the"}, {"stage": "test-slow-copy", "delay_ms": 0}]
    with pytest.raises(ShardFailed, match="test-fail-on failed on"):
        _run(_config(tmp_path, crawl, "broken", stages=stages))
    # the pass is all or nothing per shard: no stage recorded a shard, so a rerun redoes it whole
    assert not list((tmp_path / "broken").glob("*/_manifest/*.json"))


LANGUAGE_CHAIN = [{"stage": "extract"}, {"stage": "model-filter", "languages": ["en"]}, {"stage": "filter"}]


def test_language_push_down_skips_main_text_of_foreign_pages_and_changes_no_decision(crawl, tmp_path):
    pushed = _run(_config(tmp_path, crawl, "pushed", stages=LANGUAGE_CHAIN))
    plain = _run(_config(tmp_path, crawl, "plain", stages=LANGUAGE_CHAIN, language_push_down=False))

    assert [(r.stats.kept, r.stats.rejected, r.stats.reasons) for r in pushed] == \
        [(r.stats.kept, r.stats.rejected, r.stats.reasons) for r in plain]
    assert _rows(pushed[-1].out_dir) == _rows(plain[-1].out_dir)
    rejected = duckdb.sql(f"SELECT id, reject_reason, extract_language_early FROM "
                          f"read_parquet('{pushed[1].out_dir}/rejected/*.parquet', union_by_name = true)").fetchall()
    early = [r for r in rejected if r[2]]
    assert early, "the sample's foreign pages should be stopped before the main-text pass"
    assert {r[1] for r in early} == {"model-filter:language"}
    plain_reasons = dict(duckdb.sql(f"SELECT id, reject_reason FROM read_parquet('{plain[1].out_dir}/rejected/*.parquet')").fetchall())
    assert all(plain_reasons[i] == "model-filter:language" for i, _, _ in early)


def test_language_push_down_needs_the_language_check_right_after_extract(crawl, tmp_path):
    from curate.pipeline import push_language_check

    def built(entries):
        return [get_stage(s["stage"])(**{k: v for k, v in s.items() if k != "stage"}) for s in entries]

    direct = built(LANGUAGE_CHAIN)
    push_language_check(direct)
    assert direct[0].language_gate.languages == ("en",)
    for entries in ([{"stage": "extract"}, {"stage": "filter"}, {"stage": "model-filter", "languages": ["en"]}],
                    [{"stage": "extract"}, {"stage": "model-filter", "languages": ["en"], "mode": "tag"}],
                    [{"stage": "extract"}, {"stage": "model-filter", "min_language_score": 0.5}]):
        stages = built(entries)
        push_language_check(stages)
        assert stages[0].language_gate is None, entries
