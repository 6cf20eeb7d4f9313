"""JUnit XML: one testcase per scorer threshold and per paired comparison, so CI systems show them."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from loopstack.evals._outcome import EvalResult
from loopstack.evals.report._fmt import num, signed, signed_ci, threshold_rule


def junit_report(
    result: EvalResult,
    *,
    fail_on_regression: bool = False,
    max_error_rate: float = 0.0,
    correction: str = "holm",
) -> str:
    """JUnit XML text: a testsuite per run (with an ``errors`` testcase failing when more items
    errored than ``max_error_rate`` allows); a testcase per scorer (failing on a threshold) and per
    comparison scorer (failing when the gate calls it worse for the user, with ``fail_on_regression``)."""
    root = ET.Element("testsuites", name=f"loopstack eval {result.suite}")
    total = failures = 0
    for summary in result.runs:
        r = summary.run
        suite = ET.SubElement(root, "testsuite", name=r.label, id=r.id)
        n = f = 0
        if summary.n_errored or not summary.n_items:
            case = ET.SubElement(suite, "testcase", classname=r.label, name="errors")
            n += 1
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"{k} ×{c}: {m}" for k, (c, m) in summary.error_causes.items())
            if summary.error_rate > max_error_rate or not summary.n_items:
                f += 1
                ET.SubElement(
                    case,
                    "failure",
                    message=f"{summary.n_errored} of {summary.n_items} items errored",
                    type="errors",
                )
        for s in summary.scores.values():
            case = ET.SubElement(suite, "testcase", classname=r.label, name=s.name)
            n += 1
            props = ET.SubElement(case, "system-out")
            props.text = (
                f"mean={num(s.mean)} ci=[{num(s.ci_low)}, {num(s.ci_high)}] n={s.n} errors={s.errors}"
            )
            if s.threshold is not None and not s.threshold.passed:
                f += 1
                ET.SubElement(
                    case,
                    "failure",
                    message=(
                        f"{s.name} {s.threshold.on} {num(s.threshold.value)} is not "
                        f"{threshold_rule('', s.threshold.threshold, s.threshold.higher_is_better).strip()}"
                    ),
                    type="threshold",
                )
        suite.set("tests", str(n))
        suite.set("failures", str(f))
        total += n
        failures += f
    for c in result.comparisons:
        name = f"{c.candidate.label} vs {c.baseline.label}"
        suite = ET.SubElement(root, "testsuite", name=name)
        n = f = 0
        regressions = c.regressions_under(correction)
        for score, p in c.scores.items():
            case = ET.SubElement(suite, "testcase", classname=name, name=f"{score} regression")
            n += 1
            out = ET.SubElement(case, "system-out")
            out.text = (
                f"diff={signed(p.mean_diff)} ci={signed_ci(p.ci_low, p.ci_high)} p={num(p.p_value)} "
                f"win/tie/loss={p.wins}/{p.ties}/{p.losses} verdict={c.verdict(score)}"
            )
            if score in regressions:
                tag = "failure" if fail_on_regression else "skipped"
                if tag == "failure":
                    f += 1
                ET.SubElement(
                    case,
                    tag,
                    message=(
                        f"{score} is worse {signed(p.mean_diff)} (95% CI {signed_ci(p.ci_low, p.ci_high)})"
                    ),
                )
        suite.set("tests", str(n))
        suite.set("failures", str(f))
        total += n
        failures += f
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
