"""``loopstack runs``: list by filter and metric, tag and note — checked on the output and the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli, main
from loopstack.models import forget_models, get_model
from loopstack.store import get_store
from loopstack.store.experiments import ExperimentRepository
from loopstack.store.runs import RunRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _two_runs(tmp_path: Path) -> tuple[str, str]:
    rows = [
        {"id": f"i{i}", "review": f"r{i}", "expected": "positive" if i % 2 else "negative"} for i in range(8)
    ]
    (tmp_path / "reviews.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: cli\ndataset: reviews.jsonl\n"
        "prompts:\n  - name: inline\n    messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/good, mock/bad]\nscorers:\n  - scorer: exact_match\n    name: accuracy\n"
    )
    get_model("mock/good", fn=lambda r: "positive" if r.messages[-1].content[-1] in "13579" else "negative")
    get_model("mock/bad", fn=lambda r: "positive")
    result = CliRunner().invoke(cli, ["eval", str(suite), "--no-progress"])
    assert result.exit_code in (0, 2), result.output
    by_model = {r.model: r.id for r in RunRepository(get_store()).list_runs()}
    return by_model["mock/good"], by_model["mock/bad"]


def test_runs_list_filters_and_sorts_by_a_metric(tmp_path: Path) -> None:
    good, bad = _two_runs(tmp_path)
    result = CliRunner().invoke(cli, ["runs", "list", "accuracy>0.8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["run_id"] for r in data] == [good]
    assert data[0]["metrics"]["accuracy"]["mean"] == 1.0 and data[0]["metrics"]["accuracy"]["ci_low"] < 1.0
    assert data[0]["metrics"]["items"]["mean"] == 8 and data[0]["model"] == "mock/good"
    result = CliRunner().invoke(cli, ["runs", "list", "--sort", "accuracy", "--asc", "--json"])
    assert [r["run_id"] for r in json.loads(result.output)] == [bad, good]
    table = CliRunner().invoke(cli, ["runs", "list", "model=mock/bad"], terminal_width=200)
    assert "1 run(s) match" in table.output and "0.500 [" in table.output and good[:12] not in table.output


def test_runs_tag_and_note_are_stored_and_filterable(tmp_path: Path) -> None:
    good, _ = _two_runs(tmp_path)
    result = CliRunner().invoke(cli, ["runs", "tag", good[:8], "baseline"])
    assert result.exit_code == 0 and f"tagged run {good}" in result.output
    result = CliRunner().invoke(cli, ["runs", "note", good, "the one to beat"])
    assert result.exit_code == 0
    exp = ExperimentRepository(get_store()).get(good)
    assert exp.tags == ["baseline"] and exp.note == "the one to beat"
    listed = json.loads(CliRunner().invoke(cli, ["runs", "list", "tag:baseline", "--json"]).output)
    assert [r["run_id"] for r in listed] == [good] and listed[0]["note"] == "the one to beat"


def test_bad_filter_is_one_line_with_the_position(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "list", "accuracy>>0.8"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == "Error: filter: at position 10: expected a number for metric 'accuracy', got '>0.8'"
    with pytest.raises(SystemExit):
        main(["runs", "tag", "nosuchrun", "x"])
    assert "run 'nosuchrun' not found" in capsys.readouterr().err
