"""Number formatting shared by every report, so the terminal, HTML and JUnit say the same thing."""

from __future__ import annotations

import math

from loopstack.evals.stats._verdict import SHORT, STYLE


def num(value: float | None, digits: int = 3) -> str:
    """A number for display; ``–`` for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:+.{digits}f}"


def ci(low: float | None, high: float | None, digits: int = 3) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def signed_ci(low: float, high: float, digits: int = 3) -> str:
    if math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def p_value(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def threshold_rule(on: str, threshold: float, higher_is_better: bool) -> str:
    """``mean ≥ 0.8`` for a higher-is-better scorer, ``mean ≤ 900`` for latency, cost, TER."""
    return f"{on} {'≥' if higher_is_better else '≤'} {threshold:g}"


def short_verdict(v: str) -> str:
    """The verdict as a table cell (``n.s.``, ``no verdict``)."""
    return SHORT.get(v, v)


def verdict_class(v: str) -> str:
    """``better`` / ``worse`` / ``muted``: the colour every report gives a verdict."""
    return STYLE.get(v, "muted")
