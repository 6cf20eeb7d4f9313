"""``loopstack queue add / list``: asserting on the output and on the annotation_queue rows."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from loopstack.cli.main import cli
from loopstack.store import Store
from loopstack.store.tables import annotation_queue
from ui.helpers import add_trace


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from loopstack.errors import LoopstackError

        if isinstance(result.exception, LoopstackError):
            return 1, str(result.exception)
        raise result.exception
    return result.exit_code, result.output


def _rows(store: Store) -> list[tuple[str, str, str]]:
    with store.read() as conn:
        return sorted(
            (str(q), str(k), str(t))
            for q, k, t in conn.execute(
                select(annotation_queue.c.queue, annotation_queue.c.target_type, annotation_queue.c.target_id)
            )
        )


def test_add_by_id_skips_a_bad_one_and_lists(store: Store) -> None:
    pid = store.project_id("default")
    a, b = add_trace(store, pid), add_trace(store, pid)
    code, out = run("queue", "add", "--trace", a, "--trace", "nope", "--trace", b, "--queue", "triage")
    assert code == 1  # one id was bad: the others are added, the exit code says something was skipped
    assert "Added 2 to queue 'triage'" in out
    assert "Skipped nope: trace id must be 32 hex characters" in out
    assert _rows(store) == sorted([("triage", "trace", a), ("triage", "trace", b)])
    code, out = run("queue", "add", "--trace", a, "--queue", "triage")
    assert code == 0 and "1 already in the queue" in out
    assert len(_rows(store)) == 2
    with store.read() as conn:
        from loopstack.store.spans import get_trace_spans

        span_id = next(s["span_id"] for s in get_trace_spans(conn, pid, a) if s["parent_span_id"])
    code, out = run("queue", "add", "--span", f"{a}:{span_id}", "--span", f"{b}:{span_id}", "--queue", "s")
    assert code == 1 and "Added 1 to queue 's'" in out and f"Skipped {span_id}: span" in out
    assert ("s", "span", span_id) in _rows(store)
    code, out = run("queue", "list", "--queue", "triage", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["counts"]["triage"] == {"pending": 2, "locked": 0, "done": 0}
    assert sorted(i["target_id"] for i in data["items"]) == sorted([a, b])
    code, out = run("queue", "list")
    assert code == 0 and "triage" in out


def test_add_by_the_trace_lists_filters(store: Store) -> None:
    pid = store.project_id("default")
    errors = [add_trace(store, pid, error=True, model="openai/gpt-4o") for _ in range(3)]
    add_trace(store, pid, model="openai/gpt-4o")
    add_trace(store, pid, error=True, model="anthropic/claude")
    code, out = run("queue", "add", "--filter", "status=error&model=openai/gpt-4o", "--queue", "errors")
    assert code == 0, out
    assert "Added 3 to queue 'errors'" in out
    assert _rows(store) == sorted(("errors", "trace", t) for t in errors)
    code, out = run("queue", "add", "--filter", "status=error", "--limit", "1", "--queue", "one")
    assert code == 0 and "Added 1 to queue 'one'" in out
    code, out = run("queue", "add", "--filter", "text=no such text anywhere")
    assert code == 0 and "nothing added" in out


def test_bad_input_is_one_line_not_a_traceback(store: Store) -> None:
    for args, message in (
        (("queue", "add"), "give --trace ID"),
        (("queue", "add", "--filter", "colour=red"), "unknown filter 'colour'"),
        (("queue", "add", "--filter", "status=maybe"), "status: 'maybe' is not one of error, ok"),
        (("queue", "add", "--filter", "start=yesterday"), "is not an ISO date"),
        (("queue", "add", "--filter", "status=error", "--trace", "a" * 32), "without --trace"),
        (("queue", "add", "--trace", "a" * 32, "--queue", "a/b"), "queue name 'a/b'"),
    ):
        code, out = run(*args)
        assert code != 0 and message in out, (args, out)
        assert "Traceback" not in out
    assert _rows(store) == []
