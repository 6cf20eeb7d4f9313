"""The CI gate: from an eval result to a verdict, its reasons, and the process exit code.

This is the one place the verdict is computed (``EvalResult.exit_code`` calls ``gate``). In order:

1. interrupted -> 130;
2. more items errored than ``max_error_rate`` allows (default 0: any errored item) -> 3, because a
   suite whose items errored measured nothing, and an empty table must never read as a pass;
3. a suite threshold fails, or (with ``fail_on_regression``) a scorer is significantly worse for the
   user -> 2. "Worse" follows the scorer's direction (higher latency is worse) and is judged on the
   family-wise adjusted p-value across the comparison's scorers (Holm by default), so the chance
   that an unchanged candidate fails the gate stays at most 5% however many scorers the suite has.
   A noisy dip whose interval includes 0 never blocks a merge; a comparison on which no verdict can
   be backed (too few items) is named in the reasons but does not fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loopstack.evals._outcome import (
    CORRECTIONS,
    DEFAULT_CORRECTION,
    EXIT_ERROR,
    EXIT_ERRORS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EvalResult,
)
from loopstack.evals.report._fmt import num, p_value, signed, signed_ci

__all__ = [
    "CORRECTIONS",
    "EXIT_ERROR",
    "EXIT_ERRORS",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "GateVerdict",
    "gate",
]


@dataclass(frozen=True)
class GateVerdict:
    """Whether the eval passes the gate, the exit code ``loopstack eval`` returns, and why.

    ``reasons`` fail the gate; ``notes`` are what a reader should know but did not gate (a regression
    without ``--fail-on-regression``, a comparison no method can back).
    """

    exit_code: int
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK


def gate(
    result: EvalResult,
    *,
    fail_on_regression: bool = False,
    max_error_rate: float = 0.0,
    correction: str = DEFAULT_CORRECTION,
) -> GateVerdict:
    """The verdict on ``result``: one reason per run over the error limit, per failed threshold and
    per significant regression."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
    if result.interrupted:
        first = result.runs[0].run.id if result.runs else "RUN_ID"
        return GateVerdict(EXIT_INTERRUPTED, [f"interrupted; resume with: loopstack eval --resume {first}"])
    error_reasons = [
        f"errors: {r.run.label}: {r.n_errored} of {r.n_items} items errored "
        f"({r.error_rate:.0%} > the allowed {max_error_rate:.0%}); first: "
        + "; ".join(f"{cause} ×{count}: {message}" for cause, (count, message) in r.error_causes.items())
        for r in result.runs
        if r.n_errored and r.error_rate > max_error_rate
    ]
    if not any(r.n_items for r in result.runs):
        error_reasons.append("no items were evaluated")
    reasons = list(error_reasons)
    for r, t in result.failed_thresholds:
        op = ">=" if t.higher_is_better else "<="
        reasons.append(
            f"threshold failed: {r.run.label}: {t.score} {t.on} {num(t.value)} is not {op} {t.threshold:g}"
        )
    notes: list[str] = []
    for c in result.comparisons:
        adjusted = c.adjusted_p(correction)
        for name in c.regressions_under(correction):
            p = c.scores[name]
            line = (
                f"regression: {c.candidate.label}: {name} {signed(p.mean_diff)} "
                f"(95% CI {signed_ci(p.ci_low, p.ci_high)}, p {p_value(p.p_value)}"
                + (f", {correction}-adjusted {p_value(adjusted[name])}" if correction != "none" else "")
                + f") vs {c.baseline.label}"
            )
            (reasons if fail_on_regression else notes).append(line)
        for name in c.withheld:
            notes.append(f"no verdict: {c.candidate.label}: {name}: {c.scores[name].withheld}")
    notes.extend(_untrusted_judges(result))
    if error_reasons:
        code = EXIT_ERRORS
    elif reasons:
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    return GateVerdict(code, reasons, notes)


def _untrusted_judges(result: EvalResult) -> list[str]:
    """A warning per judge that a threshold or comparison here relies on and that is not trusted."""
    from loopstack.evals.calibration_notes import describe

    gated = {t.score for _, t in result.failed_thresholds}
    gated |= {name for r in result.runs for name, s in r.scores.items() if s.threshold is not None}
    gated |= {name for c in result.comparisons for name in c.scores}
    return [
        f"warning: the gate relies on an untrusted {describe(name, cal)}"
        for name, cal in sorted(result.judge_calibrations.items())
        if name in gated and cal.get("badge") == "not trusted"
    ]
