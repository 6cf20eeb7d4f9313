"""The loss curve of a fine-tune as a standalone SVG: training loss per step, validation loss per epoch.

Drawn here (numbers only, no text from users but the escaped title) so it needs no plotting library;
the report, the terminal summary and the UI's model page show the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_W, _H, _L, _R, _T, _B = 640, 240, 52, 12, 28, 34


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def loss_curve_svg(
    train: Sequence[tuple[int, float]],
    validation: Sequence[tuple[int, float]],
    *,
    title: str = "loss",
) -> str:
    """``train``: (step, loss); ``validation``: (step, loss) at each epoch's end. An empty curve is a
    blank chart with its title (nothing was logged), not an error."""
    points = list(train) + list(validation)
    max_step = max((s for s, _ in points), default=1) or 1
    losses = [v for _, v in points]
    lo, hi = (min(losses), max(losses)) if losses else (0.0, 1.0)
    lo = min(0.0, lo)
    if hi - lo < 1e-9:
        hi = lo + 1.0
    pw, ph = _W - _L - _R, _H - _T - _B

    def x(step: float) -> float:
        return _L + pw * step / max_step

    def y(v: float) -> float:
        return _T + ph * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
        'font-family="sans-serif" font-size="11" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_L}" y="16" font-size="13">{escape(title)}</text>',
        f'<line x1="{_L}" y1="{_T + ph}" x2="{_L + pw}" y2="{_T + ph}" stroke="#888"/>',
        f'<line x1="{_L}" y1="{_T}" x2="{_L}" y2="{_T + ph}" stroke="#888"/>',
    ]
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        parts.append(f'<text x="{_L - 6}" y="{_fmt(y(v) + 4)}" text-anchor="end">{v:.2f}</text>')
        parts.append(f'<line x1="{_L}" y1="{_fmt(y(v))}" x2="{_L + pw}" y2="{_fmt(y(v))}" stroke="#eee"/>')
    parts.append(f'<text x="{_L + pw / 2}" y="{_H - 6}" text-anchor="middle">step (of {max_step})</text>')
    if train:
        path = " ".join(f"{_fmt(x(s))},{_fmt(y(v))}" for s, v in train)
        parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{path}"/>')
    if validation:
        path = " ".join(f"{_fmt(x(s))},{_fmt(y(v))}" for s, v in validation)
        parts.append(f'<polyline fill="none" stroke="#d62728" stroke-width="1.5" points="{path}"/>')
        for s, v in validation:
            parts.append(f'<circle cx="{_fmt(x(s))}" cy="{_fmt(y(v))}" r="3" fill="#d62728"/>')
    lx = _L + pw - 190
    parts.append(f'<line x1="{lx}" y1="12" x2="{lx + 18}" y2="12" stroke="#1f77b4" stroke-width="2"/>')
    parts.append(f'<text x="{lx + 22}" y="16">training loss</text>')
    parts.append(f'<line x1="{lx + 100}" y1="12" x2="{lx + 118}" y2="12" stroke="#d62728" stroke-width="2"/>')
    parts.append(f'<text x="{lx + 122}" y="16">validation</text>')
    parts.append("</svg>")
    return "\n".join(parts)
