"""`curate stats`: the report's figures (runstats.py) as rich tables on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from curate.runstats import RunFigures


def _t(title: str, cols: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(cols):
        table.add_column(c, justify="left" if i == 0 else "right")
    return table


def print_stats(fig: RunFigures, console: Console) -> None:
    funnel = _t(f"funnel: {fig.run_dir}", ["stage", "docs in", "kept", "rejected", "kept %", "tokens in", "tokens kept", "tokens"])
    for s in fig.stages:
        funnel.add_row(s.name, f"{s.docs_in:,}", f"{s.kept:,}", f"{s.rejected:,}",
                       f"{100 * s.kept / s.docs_in:.1f}" if s.docs_in else "-", f"{s.tokens_in:,}", f"{s.tokens_kept:,}", s.tokens_kind or "-")
    console.print(funnel)
    for s in fig.stages:
        if s.reasons:
            t = _t(f"{s.name}: rejected by reason", ["reason", "docs", "tokens"])
            for r in s.reasons:
                t.add_row(r.reason, f"{r.docs:,}", f"{r.tokens:,}")
            console.print(t)
    for column, rows in fig.distributions.items():
        t = _t(f"{fig.final_stage} kept: {column}", [column, "docs", "tokens"])
        for r in rows:
            t.add_row(str(r["value"]), f"{r['docs']:,}", f"{r['tokens']:,}")
        console.print(t)
    if fig.top_domains:
        t = _t(f"{fig.final_stage} kept: top domains", ["domain", "docs", "tokens"])
        for r in fig.top_domains:
            t.add_row(r["domain"], f"{r['docs']:,}", f"{r['tokens']:,}")
        console.print(t)
    if fig.histograms:
        t = _t("scores", ["stage", "column", "min", "max", "kept", "rejected", "thresholds"])
        for h in fig.histograms:
            t.add_row(h.stage, h.column, f"{h.lo:.4g}", f"{h.hi:.4g}", f"{sum(h.kept):,}", f"{sum(h.rejected):,}",
                      ", ".join(f"{v:g}" for v in h.thresholds) or "-")
        console.print(t)
