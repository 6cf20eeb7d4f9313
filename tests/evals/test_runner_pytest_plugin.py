"""The pytest plugin: a test runs a suite through the ``loopstack_eval`` fixture and asserts on CI bounds."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

SUITE = """
dataset: data.jsonl
prompts:
  - messages: [{role: user, content: "{{ text }}"}]
models: [mock/echo]
scorers:
  - scorer: exact_match
    name: accuracy
"""

TEST = """
def test_quality(loopstack_eval):
    result = loopstack_eval("suite.yaml")
    assert result["accuracy"].n == 40
    assert result["accuracy"].ci_low >= BOUND
"""


@pytest.mark.parametrize(("bound", "outcome"), [(0.5, {"passed": 1}), (0.9, {"failed": 1})])
def test_a_suite_runs_from_a_test_and_asserts_on_its_bounds(
    pytester: pytest.Pytester, bound: float, outcome: dict[str, int]
) -> None:
    rows = [{"id": i, "text": f"t{i}", "expected": f"t{i}" if i % 4 else "other"} for i in range(40)]
    pytester.makefile(".jsonl", data="\n".join(json.dumps(r) for r in rows))
    pytester.makefile(".yaml", suite=SUITE)
    pytester.makepyfile(test_quality=TEST.replace("BOUND", str(bound)))
    # The plugin is found through its pytest11 entry point, as in a user's project.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
