"""Reports: JSON, JUnit XML and the HTML page say the same numbers; HTML escapes model output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from evalrun_helpers import push_two_versions, script_model, write_suite

from loopstack.evals.report import html_report, json_report, junit_report
from loopstack.evals.runner import evaluate
from loopstack.models import forget_models
from loopstack.store import get_store
from loopstack.store.runs import RunRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


@pytest.fixture
def regressed(tmp_path: Path) -> object:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=True)
    return evaluate(write_suite(tmp_path, extra="    threshold: 0.5\n"), baseline="production")


def test_json_report_carries_estimates_comparisons_and_the_exit_code(regressed: object) -> None:
    data = json.loads(json_report(regressed, fail_on_regression=True))  # type: ignore[arg-type]
    assert data["exit_code"] == 2
    base, cand = data["runs"]
    assert base["scores"]["accuracy"]["mean"] == 1.0 and cand["scores"]["accuracy"]["mean"] == 0.0
    assert cand["scores"]["accuracy"]["threshold"] == {
        "score": "accuracy", "threshold": 0.5, "on": "mean", "value": 0.0, "passed": False,
        "higher_is_better": True,
    }  # fmt: skip
    assert data["comparisons"][0]["scores"]["accuracy"]["losses"] == 30
    assert data["regressions"] == [{"candidate_run": cand["run_id"], "score": "accuracy"}]


def test_junit_has_one_testcase_per_scorer_threshold_and_comparison(regressed: object) -> None:
    root = ET.fromstring(junit_report(regressed, fail_on_regression=True))  # type: ignore[arg-type]
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {
        ("triage@1 · mock/gate", "accuracy"),
        ("triage@2 · mock/gate", "accuracy"),
        ("triage@2 · mock/gate vs triage@1 · mock/gate", "accuracy regression"),
    }
    assert cases[("triage@1 · mock/gate", "accuracy")].find("failure") is None
    failure = cases[("triage@2 · mock/gate", "accuracy")].find("failure")
    assert failure is not None and "mean 0.000 is not ≥ 0.5" in (failure.get("message") or "")
    assert (
        cases[("triage@2 · mock/gate vs triage@1 · mock/gate", "accuracy regression")].find("failure")
        is not None
    )
    assert root.get("tests") == "3" and root.get("failures") == "2"


def test_html_report_is_self_contained_and_escapes_model_output(regressed: object) -> None:
    repo = RunRepository(get_store())
    items = {r.run.id: repo.items(r.run.id) for r in regressed.runs}  # type: ignore[attr-defined]
    page = html_report(regressed, items)  # type: ignore[arg-type]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>neutral</b>" not in page
    assert "<style>" in page and "http://" not in page and "https://" not in page
    assert "triage@2 · mock/gate vs baseline triage@1 · mock/gate" in page
    assert "worse" in page and "FAIL" in page
