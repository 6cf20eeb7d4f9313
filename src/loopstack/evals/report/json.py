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


def json_report(result: EvalResult, *, fail_on_regression: bool = False) -> str:
    """The result as JSON text (NaN becomes null), with the exit code the gate would return."""
    data = result.to_dict()
    data["exit_code"] = result.exit_code(fail_on_regression=fail_on_regression)
    return _json.dumps(jsonable(data), indent=2, default=str)
