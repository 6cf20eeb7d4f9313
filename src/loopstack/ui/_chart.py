"""A metric across runs as server-rendered SVG: one dot per run (oldest left) with its CI as a bar,
coloured by series (e.g. the model). Same rules as ``_svg.py``: numbers and escaped labels only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from loopstack.ui._svg import _fmt

_W, _H, _PAD_L, _PAD_B, _PAD_T, _PAD_R = 640, 180, 44, 20, 10, 8


@dataclass(frozen=True)
class RunPoint:
    label: str
    mean: float
    ci_low: float | None
    ci_high: float | None
    series: int
    href: str | None = None


def ci_chart(title: str, points: Sequence[RunPoint], series: Sequence[str]) -> Markup:
    """``points`` in run order; each has an optional interval drawn as a vertical bar with caps."""
    values = [v for p in points for v in (p.mean, p.ci_low, p.ci_high) if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0  # a rate or a [0, 1] score: the whole scale, so runs compare by eye
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_B - _PAD_T
    base = _PAD_T + plot_h
    n = max(len(points), 1)

    def x(i: int) -> float:
        return _PAD_L + plot_w * (i + 0.5) / n

    def y(v: float) -> float:
        return _PAD_T + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg class="chart wide" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{_PAD_L}" y1="{base}" x2="{_W - _PAD_R}" y2="{base}"/>',
        f'<text class="tick" x="{_PAD_L - 4}" y="{_PAD_T + 8}" text-anchor="end">{escape(_fmt(hi))}</text>',
        f'<text class="tick" x="{_PAD_L - 4}" y="{base}" text-anchor="end">{escape(_fmt(lo))}</text>',
    ]
    for i, p in enumerate(points):
        cls = f"s{p.series % 6}"
        cx, cy = x(i), y(p.mean)
        mark = [f'<g class="pt"><title>{escape(p.label)}: {escape(_fmt(p.mean))}']
        if p.ci_low is not None and p.ci_high is not None:
            mark[0] += escape(f" [{_fmt(p.ci_low)}, {_fmt(p.ci_high)}]")
        mark[0] += "</title>"
        if p.ci_low is not None and p.ci_high is not None:
            y1, y2 = y(p.ci_low), y(p.ci_high)
            mark.append(
                f'<line class="ci {cls}" x1="{cx:.1f}" y1="{y1:.1f}" x2="{cx:.1f}" y2="{y2:.1f}"/>'
                f'<line class="ci {cls}" x1="{cx - 3:.1f}" y1="{y1:.1f}" x2="{cx + 3:.1f}" y2="{y1:.1f}"/>'
                f'<line class="ci {cls}" x1="{cx - 3:.1f}" y1="{y2:.1f}" x2="{cx + 3:.1f}" y2="{y2:.1f}"/>'
            )
        mark.append(f'<circle class="{cls}" cx="{cx:.1f}" cy="{cy:.1f}" r="3"/></g>')
        body = "".join(mark)
        parts.append(f'<a href="{escape(p.href)}">{body}</a>' if p.href else body)
    for idx, name in enumerate(series):
        lx = _PAD_L + 4 + 150 * (idx % 4)
        ly = _H - 4
        parts.append(
            f'<circle class="s{idx % 6}" cx="{lx}" cy="{ly - 3}" r="3"/>'
            f'<text class="tick" x="{lx + 6}" y="{ly}">{escape(name[:28])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
