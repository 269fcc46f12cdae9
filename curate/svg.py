"""Small hand-made SVG charts for the HTML report: no library, no script, nothing fetched.

Each function returns an <svg> element as a string; every label is escaped. Bars carry <title>
tooltips with exact numbers, which browsers show on hover without JavaScript.
"""

from __future__ import annotations

from html import escape

KEPT, REJECTED, ACCENT, GRID = "#3b7dd8", "#d8553b", "#222", "#ddd"


def _fmt(v: float) -> str:
    if abs(v) >= 1e9:
        return f"{v / 1e9:.1f}G"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def hbars(title: str, rows: list[tuple[str, list[float]]], series: list[str], colors: list[str] | None = None,
          width: int = 640, label_width: int = 220) -> str:
    """Horizontal grouped bars: one row per label, one bar per series (each series scaled to its own max)."""
    colors = colors or [KEPT, "#8a6bd1", "#6bb36b"]
    bar_h, gap = 14, 8
    row_h = bar_h * len(series) + gap
    legend_h = 20
    height = 30 + legend_h + row_h * max(1, len(rows))
    plot_w = width - label_width - 70
    maxes = [max([r[1][j] for r in rows] + [0]) or 1 for j in range(len(series))]
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
           f'<title>{escape(title)}</title>',
           f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>']
    x = label_width
    for j, s in enumerate(series):
        out.append(f'<rect x="{x}" y="26" width="10" height="10" fill="{colors[j]}"/>'
                   f'<text x="{x + 14}" y="35" font-size="11">{escape(s)}</text>')
        x += 14 + 8 * len(s) + 16
    y = 30 + legend_h
    for label, values in rows:
        short = label if len(label) <= 34 else label[:33] + "…"
        out.append(f'<text x="{label_width - 6}" y="{y + bar_h * len(series) / 2 + 4}" font-size="11" text-anchor="end">'
                   f'<title>{escape(label)}</title>{escape(short)}</text>')
        for j, v in enumerate(values):
            w = max(0.0, plot_w * v / maxes[j])
            by = y + j * bar_h
            out.append(f'<rect class="bar" x="{label_width}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" fill="{colors[j]}">'
                       f'<title>{escape(label)} · {escape(series[j])}: {v:,.0f}</title></rect>'
                       f'<text x="{label_width + w + 4:.1f}" y="{by + bar_h - 4}" font-size="10">{_fmt(v)}</text>')
        y += row_h
    out.append("</svg>")
    return "".join(out)


def histogram(title: str, lo: float, hi: float, kept: list[int], rejected: list[int], thresholds: list[float],
              width: int = 640, height: int = 220) -> str:
    """Stacked histogram (kept below, rejected above) with dashed threshold lines."""
    left, right, top, bottom = 50, 20, 40, 30
    pw, ph = width - left - right, height - top - bottom
    n = len(kept)
    peak = max([k + r for k, r in zip(kept, rejected)] + [1])
    span = (hi - lo) or 1.0
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
           f'<title>{escape(title)}</title>',
           f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>',
           f'<rect x="{left + pw - 150}" y="22" width="10" height="10" fill="{KEPT}"/><text x="{left + pw - 136}" y="31" font-size="11">kept</text>',
           f'<rect x="{left + pw - 90}" y="22" width="10" height="10" fill="{REJECTED}"/><text x="{left + pw - 76}" y="31" font-size="11">rejected</text>',
           f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{ACCENT}"/>',
           f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{_fmt(peak)}</text>',
           f'<text x="{left - 4}" y="{top + ph}" font-size="10" text-anchor="end">0</text>']
    bw = pw / n
    for i, (k, r) in enumerate(zip(kept, rejected)):
        x = left + i * bw
        b_lo, b_hi = lo + span * i / n, lo + span * (i + 1) / n
        hk, hr = ph * k / peak, ph * r / peak
        tip = f"{b_lo:.4g} – {b_hi:.4g}: {k:,} kept, {r:,} rejected"
        if k:
            out.append(f'<rect class="bar" x="{x:.1f}" y="{top + ph - hk:.1f}" width="{max(bw - 1, 0.5):.1f}" height="{hk:.1f}" fill="{KEPT}"><title>{tip}</title></rect>')
        if r:
            out.append(f'<rect class="bar" x="{x:.1f}" y="{top + ph - hk - hr:.1f}" width="{max(bw - 1, 0.5):.1f}" height="{hr:.1f}" fill="{REJECTED}"><title>{tip}</title></rect>')
    for frac, v in ((0, lo), (0.5, lo + span / 2), (1, hi)):
        out.append(f'<text x="{left + frac * pw:.1f}" y="{top + ph + 14}" font-size="10" text-anchor="middle">{v:.4g}</text>')
    for t in thresholds:
        if lo <= t <= hi:
            x = left + pw * (t - lo) / span
            out.append(f'<line class="threshold" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + ph}" stroke="{ACCENT}" stroke-dasharray="4 3" stroke-width="1.5"/>'
                       f'<text x="{x + 3:.1f}" y="{top + 4}" font-size="10">threshold {t:g}</text>')
    out.append("</svg>")
    return "".join(out)
