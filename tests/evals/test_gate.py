"""The CI gate: ``loopstack eval SUITE --baseline production --fail-on-regression`` exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from evalrun_helpers import push_two_versions, script_model, write_suite

from loopstack.cli.main import cli
from loopstack.models import forget_models
from loopstack.store import get_store
from loopstack.store.runs import RunRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def test_a_significant_regression_fails_the_gate_with_exit_2(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=True)
    suite = write_suite(tmp_path)
    result = CliRunner().invoke(
        cli, ["eval", str(suite), "--baseline", "production", "--fail-on-regression", "--no-progress"]
    )
    assert result.exit_code == 2, result.output
    assert "regression" in result.output and "accuracy" in result.output
    assert "worse" in result.output
    runs = RunRepository(get_store()).list_runs()
    assert sorted(r.prompt_version for r in runs) == [1, 2]
    assert len({r.group_id for r in runs}) == 1


def test_without_fail_on_regression_the_same_result_exits_0(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=True)
    suite = write_suite(tmp_path)
    result = CliRunner().invoke(cli, ["eval", str(suite), "--baseline", "production", "--no-progress"])
    assert result.exit_code == 0, result.output


def test_an_equal_candidate_passes_the_gate(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=False)
    suite = write_suite(tmp_path)
    result = CliRunner().invoke(
        cli, ["eval", str(suite), "--baseline", "production", "--fail-on-regression", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["exit_code"] == 0 and data["regressions"] == []
    (comparison,) = data["comparisons"]
    assert comparison["scores"]["accuracy"]["mean_diff"] == 0.0


def test_a_failed_threshold_exits_2_even_without_a_baseline(tmp_path: Path) -> None:
    push_two_versions()
    script_model("mock/gate", candidate_breaks=True)
    suite = write_suite(tmp_path, extra="    threshold: 0.9\n")
    result = CliRunner().invoke(cli, ["eval", str(suite), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "threshold failed" in result.output


def test_a_malformed_suite_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from loopstack.cli.main import main

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: d.jsonl\nprompts: [p]\nmodels: [mock/x]\nscorers:\n  - scorer: x\n    threshold: hi\n"
    )
    with pytest.raises(SystemExit) as exc:
        main(["eval", str(suite)])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: suite.yaml: scorers[0].threshold: Input should be a valid number")
    assert "\n" not in err
