"""``loopstack.evals.gate``: the verdict's exit code and its reasons, as a library call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from evalrun_helpers import push_two_versions, script_model, write_suite

from loopstack.evals.gate import EXIT_FAILED, EXIT_OK, gate
from loopstack.evals.runner import evaluate
from loopstack.models import forget_models


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def test_verdict_lists_each_failed_threshold_and_regression(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=True)
    result = evaluate(write_suite(tmp_path, extra="    threshold: 0.5\n"), baseline="production")

    strict = gate(result, fail_on_regression=True)
    assert strict.exit_code == EXIT_FAILED and not strict.passed
    assert strict.reasons == [
        "threshold failed: triage@2 · mock/gate: accuracy mean 0.000 is not >= 0.5",
        "regression: triage@2 · mock/gate: accuracy -1.000 (95% CI " + strict.reasons[1].split("(95% CI ")[1],
    ]
    assert strict.reasons[1].endswith("vs triage@1 · mock/gate")
    lenient = gate(result)
    assert lenient.reasons == strict.reasons[:1]
    assert lenient.notes == strict.reasons[1:]  # the regression is still named, not gating


def test_an_unchanged_candidate_passes(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=False)
    verdict = gate(evaluate(write_suite(tmp_path), baseline="production"), fail_on_regression=True)
    assert verdict.exit_code == EXIT_OK and verdict.passed and verdict.reasons == []
