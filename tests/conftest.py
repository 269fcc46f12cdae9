"""Shared test helpers: writing input shards, reading stage outputs, running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def read_docs(folder: Path) -> list[dict]:
    """All documents of a stage's output folder (kept only), in a stable order."""
    docs = []
    for p in sorted(folder.glob("*.parquet")):
        docs += pq.read_table(p).to_pylist()
    for p in sorted(folder.glob("*.jsonl")):
        docs += [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]
    return sorted(docs, key=lambda d: d["id"])


def run_cli(*args: str, input: bytes | None = None, env: dict | None = None, cwd: Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run `curate ARGS` as a user would, in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "curate.cli", *args], input=input, capture_output=True,
                          env=full_env, cwd=cwd, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"curate {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode()}")
    return proc


@pytest.fixture
def caplog(caplog):
    """pytest's caplog, also fed by loguru (curate's logger)."""
    from curate.logs import log

    handler_id = log.add(caplog.handler, format="{message}", level=0)
    yield caplog
    log.remove(handler_id)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
