"""A self-contained HTML report (inline CSS, no scripts, no external assets).

Model output is untrusted: the template is rendered with autoescaping on, so an output holding
``<script>`` shows as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment

from loopstack.evals._outcome import EvalResult
from loopstack.evals.report._fmt import ci, num, p_value, signed, signed_ci, threshold_rule, verdict_class
from loopstack.store.runs import RunItemRecord

_TEMPLATE = Path(__file__).with_name("report.html.j2")


def _item_row(it: RunItemRecord) -> dict[str, Any]:
    import json

    scores = ", ".join(
        f"{s.name}={'error' if s.error else (s.string_value if s.value is None else num(s.value, 2))}"
        for s in it.scores
    )
    return {
        "key": it.item_key if it.epoch == 0 else f"{it.item_key} #{it.epoch}",
        "input": json.dumps(it.input, ensure_ascii=False, default=str),
        "expected": json.dumps(it.expected, ensure_ascii=False, default=str),
        "output": f"ERROR: {it.error}" if it.error else (it.output or ""),
        "scores": scores,
    }


def html_report(
    result: EvalResult,
    items: dict[str, list[RunItemRecord]] | None = None,
    *,
    fail_on_regression: bool = False,
    max_error_rate: float = 0.0,
    correction: str = "holm",
) -> str:
    """The report as one HTML document; ``items`` (run id -> stored items) adds per-item tables."""
    runs = []
    for summary in result.runs:
        r = summary.run
        rows = []
        for s in summary.scores.values():
            th, cls = "", ""
            if s.threshold is not None:
                cls = "pass" if s.threshold.passed else "fail"
                verdict_text = "pass" if s.threshold.passed else "FAIL"
                rule = threshold_rule(s.threshold.on, s.threshold.threshold, s.threshold.higher_is_better)
                th = f"{rule}: {verdict_text}"
            rows.append(
                {
                    "name": s.name,
                    "mean": num(s.mean),
                    "ci": ci(s.ci_low, s.ci_high) + (f" ({s.estimate.note})" if s.estimate.note else ""),
                    "n": s.n,
                    "errors": s.errors,
                    "threshold": th,
                    "th_class": cls,
                }
            )
        for name, value in summary.metrics.items():
            rows.append(
                {"name": f"{name} (run-level)", "mean": num(value), "ci": "", "n": summary.n_items,
                 "errors": "", "threshold": "", "th_class": ""}
            )  # fmt: skip
        runs.append(
            {
                "label": r.label,
                "id": r.id,
                "n_items": summary.n_items,
                "n_errors": summary.n_errors,
                "cost": f"{summary.cost:.4f}",
                "dataset": f"{r.config.get('dataset')}",
                "git_sha": (r.git_sha or "–")[:12],
                "rows": rows,
                "errors": [f"{n} × {cause}: {msg}" for cause, (n, msg) in summary.error_causes.items()],
                "items": [_item_row(it) for it in (items or {}).get(r.id, [])],
            }
        )
    comparisons = []
    for c in result.comparisons:
        crow = []
        for name, p in c.scores.items():
            v = c.verdict(name)
            crow.append(
                {
                    "name": name,
                    "base": num(p.baseline_mean),
                    "cand": num(p.candidate_mean),
                    "diff": signed(p.mean_diff),
                    "ci": signed_ci(p.ci_low, p.ci_high),
                    "p": p_value(p.p_value),
                    "wtl": f"{p.wins}/{p.ties}/{p.losses}",
                    "verdict": v,
                    "verdict_class": verdict_class(v),
                }
            )
        warnings = [
            f"{n}: {p.note}" for n, p in c.scores.items() if (p.underpowered or p.withheld) and p.note
        ]
        comparisons.append(
            {"candidate": c.candidate.label, "baseline": c.baseline.label, "rows": crow, "warnings": warnings}
        )
    code = result.exit_code(
        fail_on_regression=fail_on_regression, max_error_rate=max_error_rate, correction=correction
    )
    status = {
        0: "passed",
        2: "FAILED (threshold or regression)",
        3: "FAILED (items errored)",
        130: "interrupted",
    }.get(code, str(code))
    env = Environment(autoescape=True)
    template = env.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    from loopstack.evals.calibration_notes import describe

    judges = [
        (describe(name, cal), cal.get("badge") == "not trusted")
        for name, cal in sorted(result.judge_calibrations.items())
    ]
    return template.render(result=result, runs=runs, comparisons=comparisons, status=status, judges=judges)
