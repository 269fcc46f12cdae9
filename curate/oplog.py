"""Operating curate from scripts and cron: what a run says on stderr besides its tables.

- Every log record made while a stage runs carries the stage's name (`stage` in JSON logs).
- With `--log-format json` the per-stage tables become one INFO record per stage with `counts`.
- Progress: a live line when stderr is a terminal (text logs); nothing otherwise, unless asked
  (`--progress`): then a progress record (JSON) or line (text) every `CURATE_PROGRESS_SECONDS`
  (default 10) seconds, for logs that are read while the run goes on.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from curate.logs import json_mode, log
from curate.progress import snapshot
from curate.report import console, every, live_progress, progress_line
from curate.runner import StageResult, Watch

PROGRESS_SECONDS_ENV = "CURATE_PROGRESS_SECONDS"


@contextmanager
def _periodic(stage: str, out_dir: Path, pending: dict[str, int], fingerprint: str):
    interval = float(os.environ.get(PROGRESS_SECONDS_ENV, "10"))
    t0 = time.monotonic()

    def report() -> None:
        s = snapshot(out_dir, pending, fingerprint)
        elapsed = time.monotonic() - t0
        line = progress_line(stage, s.docs, elapsed, s.bytes_done, s.bytes_total, s.shards_done, s.shards_total)
        if json_mode():
            log.bind(stage=stage, counts={"docs": s.docs, "bytes_done": s.bytes_done, "bytes_total": s.bytes_total,
                                          "shards_done": s.shards_done, "shards_total": s.shards_total,
                                          "seconds": round(elapsed, 1)}).info(line)
        else:
            console.print(line, highlight=False, markup=False)

    with every(interval, report):
        yield


def stage_watch(progress: bool | None = None) -> Watch:
    """The `watch` for run_stage/run_pipeline: stage context on log records, and progress.
    `progress`: None = a live line on a terminal only; True = also when not a terminal; False = never."""

    @contextmanager
    def watch(stage: str, out_dir: Path, pending: dict[str, int], fingerprint: str):
        with log.contextualize(stage=stage):
            if progress is False:
                yield
            elif console.is_terminal and not json_mode():
                with live_progress(stage, out_dir, pending, fingerprint):
                    yield
            elif progress:
                with _periodic(stage, out_dir, pending, fingerprint):
                    yield
            else:
                yield

    return watch


def log_results(results: list[StageResult]) -> None:
    """One INFO record per stage with its counts (the tables' content, for JSON logs)."""
    for r in results:
        s = r.stats
        counts = {"in": s.docs_in, "kept": s.kept, "rejected": s.rejected, "reasons": dict(s.reasons),
                  "shards": r.shards_total, "shards_run": r.shards_run, "seconds": round(r.seconds, 3)}
        log.bind(stage=r.stage, counts=counts).info(
            f"{r.stage}: {s.docs_in:,} in, {s.kept:,} kept, {s.rejected:,} rejected ({r.shards_run} of {r.shards_total} shards run)")
