"""What eval reports and the gate know about a judge's calibration: the stored figure, read via store.

``loopstack judge calibrate`` (in ``loopstack.safety``) computes a judge's agreement with human labels
and stores it as the project setting ``judge_calibration:<score name>``. The evals layer reads that
stored result here and never imports ``safety`` (a sibling layer): the runner attaches it to the
``EvalResult``, reports show the badge beside the judge's scores, and the gate adds a warning when a
threshold or a regression it reports rests on a judge that is not trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loopstack.store import Store

SETTING_PREFIX = "judge_calibration:"


def judge_calibrations(store: Store, project: str, score_names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Score name -> a short summary of its stored calibration (badge, α with CI, n), if it has one."""
    from loopstack.store.project_settings import ProjectSettingsRepository

    settings = ProjectSettingsRepository(store, project).all()
    out: dict[str, dict[str, Any]] = {}
    for name in score_names:
        stored = settings.get(SETTING_PREFIX + name)
        if isinstance(stored, dict):
            out[name] = summary(stored)
    return out


def summary(stored: dict[str, Any]) -> dict[str, Any]:
    """The fields a report shows from a stored calibration."""
    agreement = stored.get("agreement") or {}
    alpha = agreement.get("alpha") or {}
    ceiling = agreement.get("human_alpha") or {}
    return {
        "badge": stored.get("badge", "not trusted"),
        "alpha": alpha.get("value"),
        "alpha_ci": [alpha.get("ci_low"), alpha.get("ci_high")],
        "human_alpha": ceiling.get("value"),
        "n": agreement.get("n", 0),
        "enough": bool(agreement.get("enough")),
        "computed_at": stored.get("computed_at"),
        "run_id": stored.get("run_id"),
    }


def describe(name: str, cal: dict[str, Any]) -> str:
    """One line: ``judge helpfulness: tentative (α 0.72, 95% CI 0.61–0.81, n 120; human–human α 0.85)``."""
    if not cal.get("enough"):
        return f"judge {name}: not trusted (calibrated on {cal.get('n', 0)} items only, too few)"
    low, high = cal.get("alpha_ci") or [None, None]
    ci = f", 95% CI {low:.2f}–{high:.2f}" if low is not None and high is not None else ""
    ceiling = cal.get("human_alpha")
    tail = f"; human–human α {ceiling:.2f}" if ceiling is not None else ""
    alpha = cal.get("alpha")
    shown = f"{alpha:.2f}" if alpha is not None else "n/a"
    return f"judge {name}: {cal['badge']} (α {shown}{ci}, n {cal.get('n')}{tail})"


__all__ = ["SETTING_PREFIX", "describe", "judge_calibrations", "summary"]
