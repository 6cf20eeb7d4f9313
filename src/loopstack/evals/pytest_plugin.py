"""pytest plugin (registered through the ``pytest11`` entry point): run an eval suite from a test.

    def test_triage_quality(loopstack_eval):
        result = loopstack_eval("suite.yaml")          # relative to the test file
        assert result["accuracy"].ci_low >= 0.8        # the CI's lower bound, not a noisy mean

Nothing heavy is imported until a test asks for the fixture, so installing Loopstack never slows
down an unrelated test session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from loopstack.evals._outcome import EvalResult


@pytest.fixture
def loopstack_eval(request: pytest.FixtureRequest) -> Callable[..., EvalResult]:
    """A function ``(suite, **options) -> EvalResult`` that runs a suite file (path relative to the
    test file) with ``loopstack.evaluate`` options: ``models``, ``baseline``, ``split``, ``limit``."""
    base = Path(str(request.path)).parent

    def run(suite: str | Path | dict[str, Any], **options: Any) -> EvalResult:
        from loopstack.evals.runner import evaluate

        if isinstance(suite, str | Path) and not Path(suite).is_absolute():
            suite = base / suite
        return evaluate(suite, **options)

    return run
