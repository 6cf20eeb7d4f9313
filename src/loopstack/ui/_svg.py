"""Charts as server-rendered SVG: no JavaScript, no CDN, and every label escaped.

Only numbers and escaped labels reach the markup, so a chart can never carry script from a span.
Presentation uses SVG attributes and CSS classes (no ``style=`` attributes, which the CSP forbids).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape

_W, _H, _PAD_L, _PAD_B, _PAD_T = 320, 110, 44, 18, 8


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    if abs(value) >= 10:
        return f"{value:.0f}"
    if abs(value) >= 0.01:
        return f"{value:.2f}"
    return f"{value:.1e}"


def line_chart(
    title: str,
    buckets: Sequence[datetime],
    lines: Sequence[tuple[str, Sequence[float | None]]],
    *,
    percent: bool = False,
) -> Markup:
    """A small multi-line time-series chart; ``None`` values leave a gap."""
    values = [v for _, vs in lines for v in vs if v is not None]
    top = max(values) if values else 0.0
    top = top if top > 0 else 1.0
    n = max(len(buckets), 1)
    plot_w, plot_h = _W - _PAD_L - 4, _H - _PAD_B - _PAD_T

    def x(i: int) -> float:
        return _PAD_L + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _PAD_T + plot_h * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{_PAD_L}" y1="{_PAD_T + plot_h}" x2="{_W - 4}" y2="{_PAD_T + plot_h}"/>',
        f'<text class="tick" x="{_PAD_L - 4}" y="{_PAD_T + 8}" text-anchor="end">'
        f"{escape(_fmt(top * 100) + '%' if percent else _fmt(top))}</text>",
        f'<text class="tick" x="{_PAD_L - 4}" y="{_PAD_T + plot_h}" text-anchor="end">0</text>',
    ]
    if buckets:
        fmt = "%m-%d" if (buckets[-1] - buckets[0]).days >= 2 else "%H:%M"
        parts.append(
            f'<text class="tick" x="{_PAD_L}" y="{_H - 4}">{escape(buckets[0].strftime(fmt))}</text>'
            f'<text class="tick" x="{_W - 4}" y="{_H - 4}" text-anchor="end">'
            f"{escape(buckets[-1].strftime(fmt))}</text>"
        )
    for idx, (label, vs) in enumerate(lines):
        segments: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                segments.append([])
            else:
                segments[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle class="s{idx % 6}" cx="{cx}" cy="{cy}" r="2"/>')
            elif seg:
                parts.append(f'<polyline class="line s{idx % 6}" points="{" ".join(seg)}"/>')
        parts.append(f"<desc>{escape(label)}</desc>")
    parts.append("</svg>")
    return Markup("".join(parts))


def waterfall_bar(offset: float, width: float, *, error: bool = False) -> Markup:
    """One span's bar in a trace waterfall; ``offset`` and ``width`` are fractions of the trace."""
    offset = min(max(offset, 0.0), 1.0)
    width = min(max(width, 0.002), 1.0 - offset) if offset < 1.0 else 0.002
    cls = "bar err" if error else "bar"
    return Markup(
        '<svg class="wf" viewBox="0 0 1000 12" preserveAspectRatio="none" width="100%" height="12">'
        f'<rect class="{cls}" x="{offset * 1000:.1f}" y="1" width="{width * 1000:.1f}" height="10"/></svg>'
    )
