"""``loopstack eval``: tables on stdout, report files, the run rows in the database, ``eval list``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.models import forget_models, get_model
from loopstack.store import get_store
from loopstack.store.runs import RunRepository


def write_dataset(folder: Path, n: int) -> None:
    rows = [
        {"id": f"i{i:02d}", "review": f"r{i}", "expected": "positive" if i % 2 else "negative"}
        for i in range(n)
    ]
    (folder / "reviews.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _suite(tmp_path: Path) -> Path:
    write_dataset(tmp_path, n=12)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: cli\ndataset: reviews.jsonl\n"
        "prompts:\n  - name: inline\n    messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/cli]\nscorers:\n  - scorer: exact_match\n    name: accuracy\n"
    )
    get_model("mock/cli", fn=lambda r: "positive")
    return suite


def test_eval_prints_the_table_writes_reports_and_stores_the_run(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    html, junit, out_json = tmp_path / "r.html", tmp_path / "r.xml", tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        ["eval", str(suite), "--html", str(html), "--junit", str(junit), "--json-out", str(out_json)],
        terminal_width=140,
    )
    assert result.exit_code == 0, result.output
    assert "inline@0 · mock/cli" in result.output
    assert "accuracy" in result.output and "0.500" in result.output and "[0.254, 0.746]" in result.output
    (run,) = RunRepository(get_store()).list_runs()
    assert run.status == "completed" and run.suite == "cli" and run.model == "mock/cli"
    assert run.config["prompt"]["messages"] == [{"role": "user", "content": "{{ review }}"}]
    assert len(RunRepository(get_store()).items(run.id)) == 12
    assert json.loads(out_json.read_text())["runs"][0]["run_id"] == run.id
    assert "<testsuites" in junit.read_text() and run.id in html.read_text()


def test_eval_list_shows_runs_newest_first(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    CliRunner().invoke(cli, ["eval", str(suite)])
    CliRunner().invoke(cli, ["eval", str(suite), "--limit", "3"])
    result = CliRunner().invoke(cli, ["eval", "list", "--json"])
    data = json.loads(result.output)
    assert [r["status"] for r in data] == ["completed", "completed"]
    repo = RunRepository(get_store())
    assert [repo.count_items(r["id"]) for r in data] == [3, 12]


def test_eval_needs_a_suite_or_resume() -> None:
    result = CliRunner().invoke(cli, ["eval", "--no-progress"])
    assert result.exit_code != 0
    assert "give a suite file, or --resume RUN_ID" in str(result.exception)


def test_resuming_a_completed_run_calls_nothing(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    CliRunner().invoke(cli, ["eval", str(suite)])
    model = get_model("mock/cli")
    calls = model.provider.calls  # type: ignore[attr-defined]
    (run,) = RunRepository(get_store()).list_runs()
    result = CliRunner().invoke(cli, ["eval", "--resume", run.id])
    assert result.exit_code == 0, result.output
    assert model.provider.calls == calls  # type: ignore[attr-defined]
    assert "accuracy" in result.output


def _run_in_project(suite: Path, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopstack.config import get_settings

    monkeypatch.setenv("LOOPSTACK_PROJECT", project)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["eval", str(suite), "--no-progress"])
    assert result.exit_code == 0, result.output
    monkeypatch.delenv("LOOPSTACK_PROJECT")
    get_settings.cache_clear()


def test_eval_list_and_compare_take_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _suite(tmp_path)
    _run_in_project(suite, "team-a", monkeypatch)
    _run_in_project(suite, "team-a", monkeypatch)

    assert json.loads(CliRunner().invoke(cli, ["eval", "list", "--json"]).output) == []
    listed = CliRunner().invoke(cli, ["eval", "list", "--json", "--project", "team-a"])
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.output)
    assert len(runs) == 2 and {r["suite"] for r in runs} == {"cli"}

    base, cand = runs[1]["id"], runs[0]["id"]
    missing = CliRunner().invoke(cli, ["eval", "compare", base, cand, "--json"])
    assert missing.exit_code != 0 and "not found in project 'default'" in str(missing.exception)
    compared = CliRunner().invoke(cli, ["eval", "compare", base, cand, "--json", "--project", "team-a"])
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.output)
    assert data["regressed_items"] == []
    assert base in json.dumps(data) and cand in json.dumps(data)


def test_eval_list_defaults_to_the_configured_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopstack.config import get_settings

    suite = _suite(tmp_path)
    _run_in_project(suite, "team-b", monkeypatch)
    monkeypatch.setenv("LOOPSTACK_PROJECT", "team-b")
    get_settings.cache_clear()
    runs = json.loads(CliRunner().invoke(cli, ["eval", "list", "--json"]).output)
    assert len(runs) == 1 and runs[0]["suite"] == "cli"
