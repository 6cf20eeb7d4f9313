"""The CI gate: from an eval result to a verdict, its reasons, and the process exit code.

A candidate fails when a suite threshold fails, or (when asked) when a scorer's paired difference
against the baseline is significantly negative — the upper bound of its 95% CI is below 0 — so a
noisy dip in the point estimate never blocks a merge on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loopstack.evals._outcome import EXIT_ERROR, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EvalResult
from loopstack.evals.report._fmt import num, signed, signed_ci

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "GateVerdict", "gate"]


@dataclass(frozen=True)
class GateVerdict:
    """Whether the eval passes the gate, the exit code ``loopstack eval`` returns, and why."""

    exit_code: int
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK


def gate(result: EvalResult, *, fail_on_regression: bool = False) -> GateVerdict:
    """The verdict on ``result``: one reason per failed threshold and per significant regression."""
    if result.interrupted:
        first = result.runs[0].run.id if result.runs else "RUN_ID"
        return GateVerdict(EXIT_INTERRUPTED, [f"interrupted; resume with: loopstack eval --resume {first}"])
    reasons = [
        f"threshold failed: {r.run.label}: {t.score} {t.on} {num(t.value)} < {t.threshold:g}"
        for r, t in result.failed_thresholds
    ]
    if fail_on_regression:
        for c, name in result.regressions:
            p = c.scores[name]
            reasons.append(
                f"regression: {c.candidate.label}: {name} {signed(p.mean_diff)} "
                f"(95% CI {signed_ci(p.ci_low, p.ci_high)}) vs {c.baseline.label}"
            )
    return GateVerdict(EXIT_FAILED if reasons else EXIT_OK, reasons)
