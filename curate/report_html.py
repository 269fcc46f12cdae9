"""`curate report`: one self-contained HTML file showing a run (figures from runstats.py, charts from svg.py).

Self-contained means: inline CSS, inline SVG, no script, no font, no image or link to any other
URL, so the file opens the same offline, attached to an email, or years later. Every string that
comes from the data (document text, URLs, reasons) is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from curate.runstats import RunFigures
from curate.svg import KEPT, REJECTED, hbars, histogram

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.ex{border:1px solid #ddd;margin:8px 0;padding:6px 10px;font-size:12px}
.ex pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;max-height:9em;overflow:auto;background:#f7f7f7;padding:4px}
.meta{color:#666;font-size:12px}.chart{display:block;margin:10px 0}.grid{display:flex;flex-wrap:wrap;gap:8px}
"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c if isinstance(c, str) else f'{c:,}')}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(fig: RunFigures, title: str | None = None) -> str:
    title = title or f"curate report: {fig.run_dir}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{escape(title)}</h1>"]
    first, last = fig.stages[0], fig.stages[-1]
    kinds = sorted({s.tokens_kind for s in fig.stages if s.tokens_kind})
    parts.append(f"<p class='meta'>{len(fig.stages)} stages; {first.docs_in:,} documents in, {last.kept:,} kept "
                 f"({100 * last.kept / first.docs_in if first.docs_in else 0:.1f}%); tokens: "
                 f"{escape(', '.join(kinds) or 'none')} (n_tokens = the tokens stage's counts; estimate = characters "
                 f"per token by language)</p>")

    parts.append("<h2 id='funnel'>Funnel</h2>")
    parts.append(hbars("Documents through the stages", [(s.name, [s.docs_in, s.kept]) for s in fig.stages], ["in", "kept"],
                       [KEPT, "#6bb36b"]))
    parts.append(hbars("Tokens through the stages", [(s.name, [s.tokens_in, s.tokens_kept]) for s in fig.stages], ["in", "kept"],
                       [KEPT, "#6bb36b"]))
    parts.append(_table(["stage", "docs in", "kept", "rejected", "kept %", "tokens in", "tokens kept", "tokens"],
                        [[s.name, s.docs_in, s.kept, s.rejected, f"{100 * s.kept / s.docs_in:.1f}" if s.docs_in else "-",
                          s.tokens_in, s.tokens_kept, s.tokens_kind or "-"] for s in fig.stages]))

    parts.append("<h2 id='reasons'>Reject reasons per stage</h2>")
    for s in fig.stages:
        if s.reasons:
            parts.append(hbars(f"{s.name}: rejected by reason", [(r.reason, [r.docs, r.tokens]) for r in s.reasons[:25]],
                               ["documents", "tokens"], [REJECTED, "#e8a33b"]))

    parts.append(f"<h2 id='distributions'>What the last stage ({escape(last.name)}) kept</h2>")
    for column, rows in fig.distributions.items():
        parts.append(hbars(f"{column}", [(r["value"], [r["docs"], r["tokens"]]) for r in rows], ["documents", "tokens"]))
    if fig.top_domains:
        parts.append(hbars("Top domains", [(r["domain"], [r["docs"], r["tokens"]]) for r in fig.top_domains], ["documents", "tokens"]))

    if fig.histograms:
        parts.append("<h2 id='scores'>Scores and thresholds</h2><p class='meta'>Each measure over the documents the stage "
                     "that added it saw; dashed lines: thresholds read from its reject details.</p>")
        for h in fig.histograms:
            parts.append(histogram(f"{h.stage}: {h.column}", h.lo, h.hi, h.kept, h.rejected, h.thresholds))

    parts.append("<h2 id='examples'>Examples</h2><p class='meta'>A few documents per rule (first 400 characters), "
                 "picked by a hash of their id.</p>")
    current = None
    for ex in fig.examples:
        head = f"{ex.stage}: {ex.rule}"
        if head != current:
            parts.append(f"<h3>{escape(head)}</h3>")
            current = head
        meta = escape(ex.id) + (f" · {escape(ex.url)}" if ex.url else "") + (f" · <b>{escape(ex.detail)}</b>" if ex.detail else "")
        parts.append(f"<div class='ex'><div class='meta'>{meta}</div><pre>{escape(ex.excerpt)}</pre></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(fig: RunFigures, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(fig), encoding="utf-8")
    tmp.replace(path)
    return path
