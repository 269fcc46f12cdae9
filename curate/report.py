"""Terminal summaries (to stderr): the per-stage table, rejects per reason, each stage's own
summary (data a stage returns, rendered here), and live progress while a stage runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from curate.progress import snapshot
from curate.runner import StageResult
from curate.stage import StageSummary

console = Console(stderr=True)


def stage_table(results: list[StageResult], title: str = "curate") -> Table:
    table = Table(title=title, title_justify="left")
    table.caption = "shards: run/total (the rest were already done); ✓: in = kept + rejected"
    for col in ("stage", "shards", "in", "kept", "rejected", "kept %", "sec", "docs/s", "✓"):
        table.add_column(col, justify="left" if col == "stage" else "right", no_wrap=True)
    for r in results:
        s = r.stats
        # a resumed stage counts all documents but processed only some: no honest rate to show
        rate = s.docs_in / r.seconds if r.seconds > 0 and r.shards_run == r.shards_total else 0
        table.add_row(
            r.stage,
            f"{r.shards_run}/{r.shards_total}",
            f"{s.docs_in:,}",
            f"{s.kept:,}",
            f"{s.rejected:,}",
            f"{100 * s.kept / s.docs_in:.1f}" if s.docs_in else "-",
            f"{r.seconds:.1f}",
            f"{rate:,.0f}" if rate else "-",
            "[green]ok[/green]" if r.balanced else "[red]MISMATCH[/red]",
        )
    return table


def reasons_table(result: StageResult, limit: int = 20) -> Table | None:
    reasons = result.stats.reasons
    tagged = result.stats.tagged
    if not reasons and not tagged:
        return None
    table = Table(title=f"{result.stage}: documents by reason", title_justify="left")
    table.add_column("reason")
    table.add_column("rejected", justify="right")
    if tagged:
        table.add_column("tagged (kept)", justify="right")
    for reason in sorted(set(reasons) | set(tagged), key=lambda k: -(reasons.get(k, 0) + tagged.get(k, 0)))[:limit]:
        cells = [str(reason), f"{reasons.get(reason, 0):,}"]
        if tagged:
            cells.append(f"{tagged.get(reason, 0):,}")
        table.add_row(*cells)
    return table


def summary_table(summary: StageSummary) -> Table:
    table = Table(title=summary.title, title_justify="left", caption=summary.caption or None)
    for i, col in enumerate(summary.columns):
        table.add_column(str(col), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in summary.rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else
                        f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    return table


def print_results(results: list[StageResult], title: str = "curate") -> None:
    console.print(stage_table(results, title))
    for r in results:
        # a stage's summary is StageSummary data; a stage with a richer summary may return a rich renderable
        extra = summary_table(r.summary) if isinstance(r.summary, StageSummary) else r.summary
        for table in (reasons_table(r), extra):
            if table is not None:
                console.print(table)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_line(stage: str, docs: int, elapsed: float, bytes_done: int, bytes_total: int,
                  shards_done: int, shards_total: int) -> str:
    """One status line: documents, docs/s, MB read of MB, ETA (from bytes), shards."""
    rate = docs / elapsed if elapsed > 0 else 0.0
    byte_rate = bytes_done / elapsed if elapsed > 0 else 0.0
    eta = (bytes_total - bytes_done) / byte_rate if byte_rate > 0 and bytes_total else None
    parts = [stage, f"{docs:,} docs", f"{rate:,.0f} docs/s"]
    if bytes_total:
        parts.append(f"{bytes_done / 1e6:,.1f}/{bytes_total / 1e6:,.1f} MB")
        parts.append(f"ETA {_duration(max(0.0, eta) if eta is not None else None)}")
    parts.append(f"shards {shards_done}/{shards_total}")
    return " · ".join(parts)


@contextmanager
def live_progress(stage: str, out_dir: Path, pending: dict[str, int], fingerprint: str, interval: float = 0.5):
    """A live status line on stderr while a stage runs, read from its progress and manifest files.

    Reading files (rather than hooking the workers) works the same for in-process, local-pool
    and remote executors. Silent when stderr is not a terminal.
    """
    if not console.is_terminal or not pending:
        yield
        return
    t0 = time.monotonic()

    def line() -> Text:
        s = snapshot(out_dir, pending, fingerprint)
        return Text(progress_line(stage, s.docs, time.monotonic() - t0, s.bytes_done, s.bytes_total,
                                  s.shards_done, s.shards_total))

    with Live(line(), console=console, transient=True, refresh_per_second=4) as live, \
            every(interval, lambda: live.update(line())):
        yield


@contextmanager
def every(interval: float, fn: Callable[[], None]):
    """Call `fn` every `interval` seconds in a background thread while the block runs."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(interval):
            fn()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
