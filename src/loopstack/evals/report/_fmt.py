"""Number formatting shared by every report, so the terminal, HTML and JUnit say the same thing."""

from __future__ import annotations

import math

from loopstack.evals.stats import PairedComparison


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


def verdict(c: PairedComparison) -> str:
    """``better`` / ``worse`` when the CI excludes zero, else ``no significant difference``."""
    if c.n == 0:
        return "no paired items"
    if c.ci_low > 0:
        return "better"
    if c.ci_high < 0:
        return "worse"
    return "no significant difference"
