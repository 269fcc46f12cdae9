"""What real archives, bad fields and careless use did to curate: each case that used to fail, now checked."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from curate import __version__
from curate.inputs import resolve_inputs
from curate.progress import snapshot
from curate.report import progress_line
from curate.runner import run_stage
from curate.stages import get_stage
from tests.conftest import read_docs, run_cli, write_jsonl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stages_for_tests  # noqa: E402,F401 - registers the test-only stages


def cli(*args: str, input: bytes | None = None):
    """`curate ARGS` in this process through main() (errors mapped as the installed command maps them)."""
    import click
    from click.testing import CliRunner

    from curate.cli import main

    return CliRunner().invoke(click.Command("curate", callback=lambda: sys.exit(main(list(args)))), [], input=input)


# -- one bad field must not take a shard down ----------------------------------------------

BAD_FIELDS = [
    {"id": "ok1", "text": "a good first document with enough words"},
    {"id": "u", "text": "a url that is a number", "url": 5},
    {"id": 7, "text": "an integer id becomes its string"},
    {"id": "s", "text": "a source that is a list", "source": ["x"]},
    {"id": "ok2", "text": "a good last document with enough words"},
]


def test_a_bad_core_field_rejects_that_record_alone_in_shards_and_in_a_pipe(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", BAD_FIELDS)
    r = cli("ingest", str(src), "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert [d["id"] for d in read_docs(tmp_path / "out")] == ["7", "ok1", "ok2"]
    rejected = pq.read_table(tmp_path / "out" / "rejected" / "in.parquet").to_pylist()
    by_id = {d["id"]: d for d in rejected}
    assert set(by_id) == {"u", "s"} and all(d["reject_reason"] == "read:bad_field" for d in rejected)
    assert by_id["u"]["reject_detail"] == "line 2: field 'url' is int 5, expected a string"
    assert by_id["u"]["source_file"] == str(src) and by_id["u"]["source_line"] == 2
    # the same through stdin and stdout: the pipe keeps going and the rejects land in --rejected
    r = cli("ingest", "-", "-o", "-", "--rejected", str(tmp_path / "rej"), input=src.read_bytes())
    assert r.exit_code == 0, r.output
    assert [orjson.loads(line)["id"] for line in r.stdout.splitlines()] == ["ok1", "7", "ok2"]
    [rej] = list((tmp_path / "rej").glob("*.jsonl"))
    assert sorted(orjson.loads(line)["id"] for line in rej.read_bytes().splitlines()) == ["s", "u"]


def test_a_bad_stage_column_is_rejected_alone_and_tables_survive_odd_values(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "text": "Just a short one.", "language": "en"},
        {"id": "b", "text": "Another short text.", "language": 3},
        {"id": "c", "text": "", "language": "de"},
    ])
    r = cli("filter", str(src), "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    rejected = {d["id"]: d for d in pq.read_table(tmp_path / "out" / "rejected" / "in.parquet").to_pylist()}
    assert rejected["b"]["reject_reason"] == "read:bad_field"
    assert "document 'b': field 'language' is int 3, expected a string" in rejected["b"]["reject_detail"]
    assert str(src) in rejected["b"]["reject_detail"]
    assert rejected["c"]["reject_reason"] == "filter:empty"


# -- errors a person can read ---------------------------------------------------------------

def test_version_flag_manifest_and_parquet_metadata(tmp_path):
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"curate {__version__}"
    write_jsonl(tmp_path / "in.jsonl", [{"text": "hello there"}])
    assert cli("ingest", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out")).exit_code == 0
    entry = orjson.loads((tmp_path / "out" / "_manifest" / "in.json").read_bytes())
    assert entry["curate_version"] == __version__
    assert pq.read_metadata(tmp_path / "out" / "in.parquet").metadata[b"curate_version"] == __version__.encode()


def test_unwritable_outputs_are_one_line_errors_before_any_work(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for args in (["-o", str(a_file)], ["-o", str(a_file / "sub")], ["-o", "-", "--rejected", str(a_file / "rej")],
                 ["-o", "-", "--rejected", "/proc/curate-cannot-write-here"]):
        r = cli("ingest", str(src), *args)
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.output and r.stdout == ""


def test_an_unexpected_error_is_one_line_and_the_traceback_goes_to_a_file(tmp_path):
    config = tmp_path / "run.yaml"
    write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    config.write_text(f"run_dir: {tmp_path / 'run'}\ninputs: [{tmp_path / 'in.jsonl'}]\nstages:\n  - stage: test-buggy-check\n")
    r = cli("run", str(config))
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    line = r.stderr.strip()
    assert line.startswith("error: internal error: RuntimeError: a bug in a check") and len(line.splitlines()) == 1
    log = Path(line.split("traceback in ")[1].split(";")[0])
    assert "Traceback" in log.read_text() and "a bug in a check" in log.read_text()
    log.unlink()


def test_help_keeps_every_flag_whole_at_80_columns_and_lists_only_real_commands():
    env = {"COLUMNS": "80"}
    out = run_cli("extract", "--help", env=env, check=True).stdout.decode()
    for field in get_stage("extract").Config.model_fields:
        assert f"--{field.replace('_', '-')}" in out, field
    assert "…" not in out
    top = run_cli("--help", env=env, check=True).stdout.decode()
    commands = top.split("Commands:")[1].split()
    names = [w for w in commands if w == w.lower() and not w.endswith((".", ",", ":")) and w.isascii()]
    listed = {n for n in names if cli(n, "--help").exit_code == 0}
    assert {"extract", "filter", "dedup", "run", "models", "llm"} <= listed


def test_models_lists_to_stdout_and_as_json():
    r = cli("models", "--json")
    models = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 0 and {"lid176", "smollm2-135m"} <= {m["name"] for m in models}
    lid = next(m for m in models if m["name"] == "lid176")
    assert lid["license"].startswith("CC-BY-SA-3.0") and len(lid["sha256"]) == 64
    table = cli("models").stdout
    assert "lid176" in table and "lid.176.ftz" in table  # to stdout, whole, when piped


def test_nothing_read_is_said_only_when_nothing_could_be_read(tmp_path):
    (tmp_path / "empty.jsonl").touch()
    r = cli("ingest", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "o1"))
    assert r.exit_code == 1 and "the inputs hold no documents" in r.stderr
    (tmp_path / "junk.jsonl").write_bytes(b"not json\n[1]\n")
    r = cli("ingest", str(tmp_path / "junk.jsonl"), "-o", str(tmp_path / "o2"))
    assert r.exit_code == 1 and "nothing could be read from the inputs: all 2 records were unreadable" in r.stderr
    write_jsonl(tmp_path / "fine.jsonl", [{"text": "   "}])  # read fine, then rejected by the stage
    r = cli("ingest", str(tmp_path / "fine.jsonl"), "-o", str(tmp_path / "o3"))
    assert r.exit_code == 0 and "nothing could be read" not in r.stderr


def test_a_folder_input_says_which_files_it_skips_and_why(tmp_path, caplog):
    write_jsonl(tmp_path / "crawl" / "a.jsonl", [{"text": "x"}])
    (tmp_path / "crawl" / "b.warc.gz").write_bytes(b"")
    (tmp_path / "crawl" / "notes.txt").write_text("x")
    shards = resolve_inputs([str(tmp_path / "crawl")], get_stage("extract").input_suffixes)
    assert [s.name for s in shards] == ["b"]
    assert "skipping 2 file(s) this stage does not read" in caplog.text
    assert "a.jsonl" in caplog.text and "notes.txt" in caplog.text


def test_documents_from_stdin_without_ids_get_ids_that_do_not_repeat_across_streams(tmp_path):
    ids = []
    for text in (b"first stream", b"second stream"):
        r = cli("ingest", "-", "-o", "-", "--rejected", str(tmp_path / "rej"),
                input=orjson.dumps({"text": text.decode()}) + b"\n")
        ids.append(orjson.loads(r.stdout)["id"])
    assert ids[0] != ids[1] and all(i.startswith("stdin:") for i in ids)


def test_progress_counts_documents_and_bytes_of_a_shard_still_running(tmp_path):
    src = write_jsonl(tmp_path / "big.jsonl", [{"id": str(i), "text": "word " * 50} for i in range(3000)])
    stage = get_stage("test-slow-copy")(delay_ms=1.0)
    out = tmp_path / "out"
    size = src.stat().st_size
    worker = threading.Thread(target=run_stage, args=(stage, resolve_inputs([str(src)], stage.input_suffixes), out))
    worker.start()
    seen = None
    deadline = time.monotonic() + 60
    while worker.is_alive() and time.monotonic() < deadline:
        s = snapshot(out, {"big": size}, fingerprint="unused")
        if s.docs and not s.shards_done:
            seen = s
            break
        time.sleep(0.2)
    worker.join()
    assert seen is not None, "no progress was reported while the only shard ran"
    assert 0 < seen.docs < 3000 and 0 < seen.bytes_done <= size and seen.bytes_total == size
    line = progress_line("test-slow-copy", seen.docs, 2.0, seen.bytes_done, seen.bytes_total, 0, 1)
    assert f"{seen.docs:,} docs" in line and "docs/s" in line and "ETA" in line and "shards 0/1" in line
    assert not (out / "_progress" / "big.json").exists()  # gone once the shard is done


def test_stream_mode_warnings_name_the_rejected_folder_in_use(tmp_path, caplog):
    r = cli("ingest", "-", "-o", "-", "--rejected", str(tmp_path / "my-rejects"), input=b'{"text": "ok"}\nnot json\n')
    assert r.exit_code == 0
    assert f"record sent to {tmp_path / 'my-rejects'}" in caplog.text
    assert "record sent to rejected/" not in caplog.text
