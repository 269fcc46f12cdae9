"""curate explain: one document's story across a real run (kept, rejected by a rule, removed as a duplicate)."""

from __future__ import annotations

import duckdb
import orjson
import pytest

from curate.explain import explain
from tests.query_corpus import invoke
from tests.run_for_reports import shared_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return shared_run(tmp_path_factory)


def one(run_dir, sql):
    return duckdb.sql(sql.replace("RUN", str(run_dir))).fetchall()[0]


def test_a_kept_document(run_dir):
    doc_id, url = one(run_dir, "SELECT id, url FROM read_parquet('RUN/04-select/*.parquet') ORDER BY id LIMIT 1")
    story = explain(run_dir, doc_id)
    assert [s.status for s in story.stages] == ["kept"] * 5
    assert story.stages[3].stage == "tokens" and "n_tokens" in story.stages[3].added
    assert story.stages[2].added["dup_cluster_size"] >= 1
    assert story.origin["source"] == "web" and story.url == url and story.excerpt
    assert explain(run_dir, url=url).stages == story.stages  # the same story by URL


def test_a_document_rejected_by_a_rule(run_dir):
    doc_id, reason = one(run_dir, "SELECT id, reject_reason FROM read_parquet('RUN/04-select/rejected/*.parquet') "
                                  "WHERE language = 'en' ORDER BY id LIMIT 1")
    story = explain(run_dir, doc_id)
    last = story.stages[-1]
    assert last.status == "rejected" and last.reason == reason == "select:where"
    assert last.detail == "false: rating_edu >= 2.5" or last.detail == "NULL: rating_edu >= 2.5"
    filtered = one(run_dir, "SELECT id, reject_reason FROM read_parquet('RUN/01-filter/rejected/*.parquet') ORDER BY id LIMIT 1")
    story = explain(run_dir, filtered[0])
    assert [s.status for s in story.stages] == ["kept", "rejected", "not seen", "not seen", "not seen"]
    assert story.stages[1].reason == filtered[1] and story.stages[1].added["filter_failed"]


def test_a_duplicate_names_the_document_it_duplicated(run_dir):
    doc_id, original = one(run_dir, "SELECT id, duplicate_of FROM read_parquet('RUN/02-dedup/rejected/*.parquet') ORDER BY id LIMIT 1")
    story = explain(run_dir, doc_id)
    dedup = story.stages[2]
    assert dedup.status == "rejected" and dedup.reason.startswith("dedup:")
    assert dedup.added["duplicate_of"] == original and original in dedup.detail
    assert explain(run_dir, original).stages[2].status == "kept"  # the survivor


def test_cli_json_and_unknown_document(run_dir):
    doc_id = one(run_dir, "SELECT id FROM read_parquet('RUN/04-select/*.parquet') ORDER BY id LIMIT 1")[0]
    res = invoke("explain", str(run_dir), doc_id, "--json")
    assert res.exit_code == 0, res.output
    data = orjson.loads(res.stdout)
    assert data["id"] == doc_id and len(data["stages"]) == 5
    res = invoke("explain", str(run_dir), doc_id)
    assert "tokens" in res.stderr and "kept" in res.stderr
    res = invoke("explain", str(run_dir), "no-such-id")
    assert res.exit_code == 2 and "no document with id 'no-such-id'" in res.stderr
