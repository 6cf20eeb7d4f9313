"""Reports of an eval: terminal tables, JSON, JUnit XML and a self-contained HTML page."""

from loopstack.evals.report.html import html_report
from loopstack.evals.report.json import json_report
from loopstack.evals.report.junit import junit_report
from loopstack.evals.report.terminal import print_comparison_items, print_result

__all__ = ["html_report", "json_report", "junit_report", "print_comparison_items", "print_result"]
