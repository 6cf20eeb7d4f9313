"""JSON report: every run's summaries and every comparison, for scripts and dashboards."""

from __future__ import annotations

import json as _json
import math
from typing import Any

from loopstack.evals._outcome import EvalResult


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def json_report(
    result: EvalResult,
    *,
    fail_on_regression: bool = False,
    max_error_rate: float = 0.0,
    correction: str = "holm",
) -> str:
    """The result as JSON text (NaN becomes null), with the gate's exit code, reasons and notes."""
    from loopstack.evals.gate import gate

    verdict = gate(
        result, fail_on_regression=fail_on_regression, max_error_rate=max_error_rate, correction=correction
    )
    data = result.to_dict()
    data["regressions"] = [
        {"candidate_run": c.candidate.id, "score": name}
        for c in result.comparisons
        for name in c.regressions_under(correction)
    ]
    data["exit_code"] = verdict.exit_code
    data["passed"] = verdict.passed
    data["gate"] = {
        "reasons": verdict.reasons,
        "notes": verdict.notes,
        "max_error_rate": max_error_rate,
        "correction": correction,
    }
    return _json.dumps(jsonable(data), indent=2, default=str)
