"""``loopstack evaluators`` and ``loopstack alerts``: output and the rows they leave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.errors import LoopstackError
from loopstack.monitor.alerts import AlertRunner
from loopstack.store import Store
from loopstack.store.monitoring import AlertRepository, EvaluatorRepository
from monitor.helpers import add_calls


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        if isinstance(result.exception, LoopstackError):
            return 1, str(result.exception)
        raise result.exception
    return result.exit_code, result.output


def test_add_list_and_backfill_an_evaluator(store: Store) -> None:
    code, out = run(
        "evaluators",
        "add",
        "says-bug",
        "--scorer",
        'contains:{"value": "bug"}',
        "--filter",
        "prompt_name=triage",
        "--filter",
        "attributes.tier=gold",
        "--sample-rate",
        "1",
        "--on-feedback",
    )
    assert code == 0, out
    assert (
        "Created evaluator 'says-bug' (v1, span level, 100% of traces, every thumbs-down): contains." in out
    )
    row = EvaluatorRepository(store).get("says-bug")
    assert (
        row["filter"] == {"prompt_name": "triage", "attributes": {"tier": "gold"}}
        and row["on_feedback"] is True
    )
    start = datetime.now(UTC) - timedelta(days=1)
    add_calls(store, "default", 8, start=start, attributes={"tier": "gold"})
    add_calls(store, "default", 4, start=start, attributes={"tier": "free"})
    window = [
        "--start",
        (start - timedelta(hours=1)).isoformat(),
        "--end",
        (start + timedelta(hours=1)).isoformat(),
    ]
    code, out = run("evaluators", "backfill", "says-bug", *window)
    assert code == 0 and "8 targets to judge, 0 judge calls" in out and "Nothing run" in out
    assert EvaluatorRepository(store).online_scores("says-bug") == []
    code, out = run("evaluators", "backfill", "says-bug", *window, "--yes")
    assert code == 0 and "Done: 8 targets judged, 0 judge calls made." in out
    assert len(EvaluatorRepository(store).online_scores("says-bug")) == 8
    code, out = run("evaluators", "list")
    assert code == 0 and "says-bug" in out and " 8 " in out


def test_bad_evaluator_options_are_one_line_errors(store: Store) -> None:
    code, out = run("evaluators", "add", "x", "--scorer", "nope")
    assert code == 1 and "no scorer named 'nope'" in out
    code, out = run("evaluators", "add", "x", "--scorer", "json_valid", "--filter", "colour=red")
    assert code == 1 and "unknown filter field 'filter.colour'" in out
    code, out = run("evaluators", "add", "x", "--scorer", "contains:{bad json")
    assert code == 2 and "must be JSON" in out
    assert EvaluatorRepository(store).list() == []


def test_add_an_alert_rule_and_list_its_events(store: Store) -> None:
    code, out = run(
        "alerts",
        "add",
        "errors",
        "--metric",
        "error_rate",
        "--fire",
        "0.2",
        "--resolve",
        "0.1",
        "--window",
        "60",
        "--min-samples",
        "10",
        "--log",
    )
    assert code == 0 and "Created alert rule 'errors': error_rate over 60 s windows, fires at 0.2" in out
    rule = AlertRepository(store).get_rule("errors")
    assert rule["spec"]["fire"] == 0.2 and rule["spec"]["channels"] == [{"type": "log"}]
    start = rule["last_window_end"]
    add_calls(store, "default", 20, start=start + timedelta(seconds=1), spacing_s=1, errors=10)
    AlertRunner(store).tick(start + timedelta(seconds=91))  # the window has ended and its 30 s delay passed
    code, out = run("alerts", "list")
    assert code == 0 and "FIRING" in out and "errors fired: error_rate = 0.5 over 20 samples" in out
    code, out = run("alerts", "events", "--rule", "errors")
    assert code == 0 and "FIRED" in out and "[log pending]" in out
    code, out = run("alerts", "add", "bad", "--metric", "error_rate")
    assert code == 1 and "give a fire threshold" in out
