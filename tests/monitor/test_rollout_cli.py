"""``loopstack rollout``: start, status with the arms and their intervals, stop; one-line errors."""

from __future__ import annotations

from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.errors import LoopstackError
from loopstack.store import get_store
from loopstack.store.rollouts import RolloutRepository
from monitor.rollout_helpers import push_two, serve_users


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        if isinstance(result.exception, LoopstackError):
            return 1, str(result.exception)
        raise result.exception
    return result.exit_code, result.output


def test_start_status_and_stop_a_rollout() -> None:
    store = get_store()
    push_two(store)
    code, out = run("rollout", "start", "triage", "--candidate", "2", "--steps", "50,100", "--on-evidence")
    assert code == 0, out
    assert "v1 (control) -> v2 at 50%" in out
    serve_users(store, range(400), {1: 0.7, 2: 0.7})
    code, out = run("rollout", "status", "triage")
    assert code == 0, out
    assert "control" in out and "candidate" in out and "always-valid 95% CI" in out
    code, out = run("rollout", "stop", "triage")
    assert code == 0 and "stays at v1" in out
    assert RolloutRepository(store).list()[0]["state"] == "stopped"


def test_bad_input_is_one_clear_line() -> None:
    push_two(get_store())
    code, out = run("rollout", "start", "triage", "--candidate", "5", "--every", "1h")
    assert code == 1 and "no version 5" in out
    code, out = run("rollout", "start", "triage", "--candidate", "2", "--every", "soon")
    assert code == 2 and "not a duration" in out
    code, out = run("rollout", "start", "triage", "--candidate", "2", "--every", "1h", "--on-evidence")
    assert code == 1 and "one ramp schedule" in out
