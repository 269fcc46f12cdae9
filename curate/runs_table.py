"""`curate runs RUN_DIR`: a run directory's batches and their run cards, as a table or JSON lines."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from curate.batches import list_batches
from curate.errors import InputError
from curate.lock import process_alive


def _duration(seconds) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def row(bid: str, card: dict | None) -> list[str]:
    """One table row: batch, status, exit, started, duration, files, ledger delta, docs, tokens."""
    if card is None:
        return [bid, "no card", "", "", "", "", "", "", "", "", ""]
    ledger = card.get("ledger") or {}
    stages = card.get("stages") or []
    first, last = (stages[0], stages[-1]) if stages else ({}, {})
    tokens = (card.get("tokens") or {}).get("kept_tokens")
    status = card.get("status", "?")
    if status == "running" and card.get("host") == socket.gethostname() and not process_alive(card.get("pid")):
        status = "killed (no end recorded)"
    if status == "failed" and card.get("error"):
        status += ": " + card["error"].splitlines()[0][:60]
    return [
        bid, status, "" if card.get("exit_code") is None else str(card["exit_code"]),
        card.get("started") or "", _duration(card.get("seconds")),
        f"{(card.get('inputs') or {}).get('files', 0):,}",
        f"{len(ledger.get('added', []))}/{len(ledger.get('changed', []))}/{ledger.get('skipped', 0)}" if ledger else "",
        f"{first.get('in', 0):,}" if stages else "", f"{last.get('kept', 0):,}" if stages else "",
        f"{tokens:,}" if tokens is not None else "", card.get("output") or "",
    ]


def print_runs(run_dir: Path, as_json: bool) -> None:
    if not Path(run_dir).is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    found = list_batches(run_dir)
    if as_json:
        for bid, card in found:
            sys.stdout.buffer.write(orjson.dumps(card if card is not None else {"batch": bid, "status": "no card"},
                                                 option=orjson.OPT_APPEND_NEWLINE))
        return
    out = Console(width=None if sys.stdout.isatty() else 220)  # piped: wide rows, never cut
    table = Table(title=f"curate runs {run_dir}", title_justify="left")
    for col in ("batch", "status", "exit", "started", "took", "files", "added/changed/skipped", "docs in",
                "kept", "tokens", "output"):
        table.add_column(col, overflow="fold", justify="right" if col in ("files", "docs in", "kept", "tokens") else "left")
    for bid, card in found:
        table.add_row(*row(bid, card))
    out.print(table)
    if not found:
        out.print("no batches and no run card in this run directory")
