"""The one place that turns a paired comparison into words: better, worse, or why neither.

Every report (terminal, HTML, JUnit, JSON), the UI's compare page and the CI gate call ``verdict``,
so "worse" means worse for the user on every surface: a higher latency, cost or error rate is worse.
"""

from __future__ import annotations

from typing import Literal

from loopstack.evals.stats._results import PairedComparison

Verdict = Literal["better", "worse", "no significant difference", "no paired items", "cannot back a verdict"]

#: Verdict -> the colour/CSS class reports use (``muted`` for anything that is not a finding).
STYLE: dict[str, str] = {"better": "better", "worse": "worse"}
SHORT: dict[str, str] = {"no significant difference": "n.s.", "cannot back a verdict": "no verdict"}


def verdict(
    c: PairedComparison, higher_is_better: bool = True, *, p_adjusted: float | None = None
) -> Verdict:
    """``better``/``worse`` for the user when the interval excludes 0 (and, when given, the
    family-wise adjusted p-value is below ``1 - confidence``); ``cannot back a verdict`` when
    ``c.withheld`` says no method can; else ``no significant difference``."""
    if c.n == 0:
        return "no paired items"
    if c.withheld is not None:
        return "cannot back a verdict"
    up, down = c.ci_low > 0, c.ci_high < 0
    if not (up or down):
        return "no significant difference"
    if p_adjusted is not None and not p_adjusted < 1 - c.confidence:
        return "no significant difference"
    return "better" if up == higher_is_better else "worse"
