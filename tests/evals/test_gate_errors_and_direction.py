"""The gate's single verdict: errored suites fail, direction follows the scorer, Holm across scorers,
a small dip passes while a significant one fails, and ``threshold_on: ci_low`` gates."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from evalrun_helpers import push_two_versions, script_model, write_suite

from loopstack.cli.main import cli
from loopstack.evals._outcome import ThresholdCheck
from loopstack.evals.gate import EXIT_ERRORS, EXIT_FAILED, EXIT_OK, gate
from loopstack.evals.runner import evaluate
from loopstack.models import ModelRequest, forget_models, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import get_store


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _failing(request: ModelRequest) -> str:
    raise RuntimeError("OPENAI_API_KEY is not set")


def test_a_suite_whose_every_item_errored_fails_the_gate_with_exit_3(tmp_path: Path) -> None:
    push_two_versions()
    get_model("mock/broken", fn=_failing)
    suite = write_suite(tmp_path, model="mock/broken")
    out = CliRunner().invoke(
        cli, ["eval", str(suite), "--baseline", "production", "--fail-on-regression", "--no-progress"]
    )
    assert out.exit_code == EXIT_ERRORS, out.output
    assert "✓ passed" not in out.output
    assert "30 of 30 items errored" in out.output and "OPENAI_API_KEY is not set" in out.output

    as_json = CliRunner().invoke(cli, ["eval", str(suite), "--json", "--no-progress"])
    assert as_json.exit_code == EXIT_ERRORS
    data = json.loads(as_json.output)
    assert data["passed"] is False and data["exit_code"] == EXIT_ERRORS
    (run,) = data["runs"]
    assert run["n_errored"] == 30 and run["error_rate"] == 1.0
    (cause,) = run["errors"]
    assert cause["count"] == 30 and "OPENAI_API_KEY is not set" in cause["first_message"]
    junit = tmp_path / "eval.xml"
    CliRunner().invoke(cli, ["eval", str(suite), "--no-progress", "--junit", str(junit)])
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1" and root.find(".//failure[@type='errors']") is not None


def test_max_error_rate_allows_some_errored_items(tmp_path: Path) -> None:
    push_two_versions()

    def flaky(request: ModelRequest) -> str:
        text = request.messages[-1].content
        if text.endswith("love") and "Candidate" in text:
            raise RuntimeError("rate limited")
        return "positive" if "love" in text else "negative"

    get_model("mock/flaky", fn=flaky)
    suite = write_suite(tmp_path, model="mock/flaky")
    result = evaluate(suite)
    assert result.runs[0].n_errored == 15
    assert gate(result).exit_code == EXIT_ERRORS
    assert result.exit_code() == EXIT_ERRORS  # one source of truth
    assert gate(result, max_error_rate=0.5).exit_code == EXIT_OK
    loose = CliRunner().invoke(cli, ["eval", str(suite), "--max-error-rate", "0.5", "--no-progress"])
    assert loose.exit_code == EXIT_OK, loose.output
    assert "15 × RuntimeError" in loose.output  # still visible when allowed


def _latency_suite(tmp_path: Path, candidate_extra_ms: float) -> Path:
    reg = PromptRegistry(get_store(), "default")
    reg.push("slow", [{"role": "user", "content": "{{ review }}"}], labels=["production"])
    reg.push("slow", [{"role": "user", "content": "Candidate: {{ review }}"}], labels=["staging"])

    async def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        i = int(text.split()[-1])
        ms = 10 + 2 * (i % 7)
        if text.startswith("Candidate"):
            ms += max(0.0, candidate_extra_ms)
        else:
            ms += max(0.0, -candidate_extra_ms)
        await asyncio.sleep(ms / 1000)
        return "ok"

    get_model("mock/timed", fn=answer)
    rows = [{"id": f"i{i:02d}", "review": f"item {i}"} for i in range(30)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: latency\ndataset: d.jsonl\nprompts: [slow@staging]\nmodels: [mock/timed]\ncache: false\n"
        "concurrency: 1\nscorers:\n  - scorer: latency\n"
    )
    return suite


@pytest.mark.parametrize(("extra_ms", "verdict", "code"), [(200, "worse", 2), (-200, "better", 0)])
def test_latency_direction_in_terminal_junit_json_and_exit_code(
    tmp_path: Path, extra_ms: float, verdict: str, code: int
) -> None:
    suite = _latency_suite(tmp_path, extra_ms)
    junit, as_json = tmp_path / "eval.xml", tmp_path / "eval.json"
    out = CliRunner().invoke(
        cli,
        ["eval", str(suite), "--baseline", "production", "--fail-on-regression", "--no-progress", "--junit",
         str(junit), "--json-out", str(as_json), "--html", str(tmp_path / "eval.html")],
    )  # fmt: skip
    assert out.exit_code == code, out.output
    row = next(line for line in out.output.splitlines() if re.search(r"\d+/\d+/\d+", line))
    print(out.output)
    assert verdict in row and {"worse": "better", "better": "worse"}[verdict] not in row
    case = next(
        c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "latency regression"
    )
    assert (case.find("failure") is not None) == (verdict == "worse")
    data = json.loads(as_json.read_text())
    (comparison,) = data["comparisons"]
    assert comparison["scores"]["latency"]["verdict"] == verdict
    assert comparison["scores"]["latency"]["higher_is_better"] is False
    assert f'class="{verdict}">{verdict}<' in (tmp_path / "eval.html").read_text()


def test_a_lower_is_better_threshold_reads_at_most(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=False)
    result = evaluate(write_suite(tmp_path, extra="    threshold: 0.5\n"))
    (run,) = result.runs
    summary = run.scores["accuracy"]
    check = ThresholdCheck("accuracy", 0.5, "mean", 1.0, False, higher_is_better=False)
    run.scores["accuracy"] = replace(summary, threshold=check)  # as for latency, cost or TER
    verdict = gate(result)
    assert verdict.reasons == ["threshold failed: triage@2 · mock/gate: accuracy mean 1.000 is not <= 0.5"]
    assert verdict.exit_code == EXIT_FAILED == result.exit_code()


def _graded(tmp_path: Path, broken: int, n: int = 200, extra: str = "") -> Path:
    """Baseline right on every item; the candidate wrong on ``broken`` of ``n`` items."""
    push_two_versions()

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        i = int(text.split("#")[-1])
        if text.startswith("Candidate") and i < broken:
            return "wrong"
        return "positive" if "love" in text else "negative"

    get_model("mock/graded", fn=answer)
    rows = [
        {"id": f"i{i:03d}", "review": f"{'love' if i % 2 else 'hate'} #{i}",
         "expected": "positive" if i % 2 else "negative"}
        for i in range(n)
    ]  # fmt: skip
    (tmp_path / "g.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: graded\ndataset: g.jsonl\nprompts: [triage@staging]\nmodels: [mock/graded]\ncache: false\n"
        f"scorers:\n  - scorer: exact_match\n    name: accuracy\n{extra}"
    )
    return suite


def test_a_small_dip_passes_fail_on_regression_and_a_significant_one_fails(tmp_path: Path) -> None:
    small = evaluate(_graded(tmp_path, broken=2), baseline="production")
    (c,) = small.comparisons
    assert c.scores["accuracy"].mean_diff == pytest.approx(-0.01)
    assert gate(small, fail_on_regression=True).exit_code == EXIT_OK
    forget_models()
    big = evaluate(_graded(tmp_path, broken=20), baseline="production")
    verdict = gate(big, fail_on_regression=True)
    assert verdict.exit_code == EXIT_FAILED and big.exit_code(fail_on_regression=True) == EXIT_FAILED
    assert verdict.reasons[0].startswith("regression: triage@2 · mock/graded: accuracy -0.100")


def test_threshold_on_ci_low_gates_where_the_mean_would_pass(tmp_path: Path) -> None:
    on_mean = evaluate(_graded(tmp_path, broken=30, n=60, extra="    threshold: 0.4\n"))
    assert on_mean.runs[0]["accuracy"].mean == 0.5 and gate(on_mean).exit_code == EXIT_OK
    forget_models()
    rule = "    threshold: 0.45\n    threshold_on: ci_low\n"
    on_ci = evaluate(_graded(tmp_path, broken=30, n=60, extra=rule))
    s = on_ci.runs[0]["accuracy"]
    assert s.mean == 0.5 and s.ci_low < 0.45
    verdict = gate(on_ci)
    assert verdict.exit_code == EXIT_FAILED
    assert verdict.reasons == [
        f"threshold failed: triage@2 · mock/graded: accuracy ci_low {s.ci_low:.3f} is not >= 0.45"
    ]


def test_holm_controls_the_family_of_scorers(tmp_path: Path) -> None:
    result = evaluate(_graded(tmp_path, broken=5, extra="  - scorer: exact_match\n    name: again\n"))
    assert result.comparisons == []  # no baseline: nothing to correct
    forget_models()
    result = evaluate(
        _graded(tmp_path, broken=5, extra="  - scorer: exact_match\n    name: again\n"),
        baseline="production",
    )
    (c,) = result.comparisons
    raw = c.scores["accuracy"].p_value
    assert c.adjusted_p("holm") == {
        "accuracy": pytest.approx(min(1, 2 * raw)),
        "again": pytest.approx(min(1, 2 * raw)),
    }
    assert c.adjusted_p("none")["accuracy"] == raw
    # 5 of 200 broken: significant alone, not after adjusting for two scorers
    assert raw < 0.05 < 2 * raw, raw
    assert c.verdict("accuracy") == "worse" and c.verdict("accuracy", "holm") == "no significant difference"
    assert gate(result, fail_on_regression=True).exit_code == EXIT_OK
    assert gate(result, fail_on_regression=True, correction="none").exit_code == EXIT_FAILED
