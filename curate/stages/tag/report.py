"""The tag stage's summary: data (rows of the domain mix, cluster descriptions) that renders
itself as rich tables on stderr (`__rich__`), so callers can use the numbers or print them."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table

MAX_VALUES = 30  # per dimension on the terminal; the Parquet summary has them all


@dataclass
class TagSummary:
    rows: list[dict]  # dimension, value, docs, tokens, docs_share, tokens_share
    total_docs: int
    total_tokens: int
    clusters: list[dict] | None = None  # cluster, group, sample_docs, top_terms, examples
    path: str | None = None  # the Parquet summary

    def dimension(self, name: str) -> dict[str, dict]:
        """value -> row, for one dimension (e.g. "topic")."""
        return {r["value"]: r for r in self.rows if r["dimension"] == name}

    def __rich__(self) -> Group:
        parts = []
        dims = list(dict.fromkeys(r["dimension"] for r in self.rows))
        for dim in dims:
            rows = [r for r in self.rows if r["dimension"] == dim]
            table = Table(title=f"tag: domain mix by {dim}", title_justify="left")
            for col in (dim, "docs", "docs %", "tokens (est.)", "tokens %"):
                table.add_column(col, justify="left" if col == dim else "right", no_wrap=True)
            for r in rows[:MAX_VALUES]:
                table.add_row(r["value"], f"{r['docs']:,}", f"{100 * r['docs_share']:.1f}", f"{r['tokens']:,}",
                              f"{100 * r['tokens_share']:.1f}")
            if len(rows) > MAX_VALUES:
                rest = rows[MAX_VALUES:]
                table.add_row(f"… {len(rest)} more", f"{sum(r['docs'] for r in rest):,}",
                              f"{100 * sum(r['docs_share'] for r in rest):.1f}",
                              f"{sum(r['tokens'] for r in rest):,}", f"{100 * sum(r['tokens_share'] for r in rest):.1f}")
            parts.append(table)
        if self.clusters:
            table = Table(title="tag: clusters (fitted on a sample)", title_justify="left")
            for col in ("cluster", "group", "sample docs", "top terms", "nearest examples"):
                table.add_column(col, justify="right" if col in ("cluster", "group", "sample docs") else "left")
            for c in self.clusters[:MAX_VALUES]:
                table.add_row(str(c["cluster"]), "" if c["group"] is None else str(c["group"]), f"{c['sample_docs']:,}",
                              " ".join(c["top_terms"]), " ".join(str(e)[:60] for e in c["examples"][:2]))
            parts.append(table)
        if self.path:
            parts.append(f"domain mix of {self.total_docs:,} documents written to {self.path}")
        return Group(*parts)
