"""Reports of an eval: terminal tables, JSON, JUnit XML and a self-contained HTML page.

Each name loads its module on first use, so printing a table does not load the HTML template engine.
"""

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names

if TYPE_CHECKING:
    from loopstack.evals.report.html import html_report
    from loopstack.evals.report.json import json_report
    from loopstack.evals.report.junit import junit_report
    from loopstack.evals.report.terminal import print_comparison_items, print_result

_LAZY = {
    "html_report": "loopstack.evals.report.html",
    "json_report": "loopstack.evals.report.json",
    "junit_report": "loopstack.evals.report.junit",
    "print_comparison_items": "loopstack.evals.report.terminal",
    "print_result": "loopstack.evals.report.terminal",
}


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = ["html_report", "json_report", "junit_report", "print_comparison_items", "print_result"]
