"""One configuration for the whole SDK, against a real server: spans, ``get_prompt`` and ``feedback``
all go where ``init(endpoint=…, api_key=…)`` (or ``LOOPSTACK_*``) points, and nothing raises into the
app when the server is down or refuses the key."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from sdk_server import InProcessServer
from sqlalchemy import func, select

import loopstack
from loopstack.config import get_settings
from loopstack.prompts import PromptRegistry, clear_prompt_cache, get_prompt
from loopstack.store import Store, get_store
from loopstack.store.tables import scores, spans
from loopstack.tracing import dropped_feedback, dropped_spans

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _scores(store: Store) -> list[tuple[str, str, float | None]]:
    with store.read() as conn:
        rows = conn.execute(select(scores.c.trace_id, scores.c.name, scores.c.value))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _configure(how: str, server: InProcessServer, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    clear_prompt_cache()
    if how == "init":
        loopstack.init(endpoint=server.url, api_key=key)
    else:
        monkeypatch.setenv("LOOPSTACK_ENDPOINT", server.url)
        monkeypatch.setenv("LOOPSTACK_API_KEY", key)
        get_settings.cache_clear()
        loopstack.init()


@pytest.mark.parametrize("how", ["init", "env"])
def test_prompts_feedback_and_spans_all_go_to_the_configured_server(
    how: str, server: InProcessServer, monkeypatch: pytest.MonkeyPatch, loopstack_home: Path
) -> None:
    local = get_store()  # the SDK's own SQLite file, which must stay untouched
    for project in ("shop", "default"):
        PromptRegistry(local, project).push(
            "triage", [{"role": "user", "content": "LOCAL"}], labels=["production"]
        )
    served = PromptRegistry(server.store, "shop")
    served.push("triage", [{"role": "user", "content": "v1 {{ x }}"}], labels=["production"])
    served.push("triage", [{"role": "user", "content": "v2 {{ x }}"}], labels=["staging"])

    _configure(how, server, monkeypatch, server.key)
    with loopstack.span("answer") as s:
        prompt = get_prompt("triage")
    assert (prompt.version, prompt.messages[0]["content"]) == (1, "v1 {{ x }}")
    assert get_prompt("triage", label="staging").messages[0]["content"] == "v2 {{ x }}"
    assert loopstack.feedback(s.trace_id, "thumbs", "up") is None
    assert loopstack.flush(30)

    assert _scores(server.store) == [(s.trace_id, "thumbs", 1.0)]
    assert _scores(local) == []
    with server.store.read() as conn:
        assert conn.execute(select(spans.c.name)).scalars().all() == ["answer"]
    with local.read() as conn:
        assert conn.execute(select(func.count()).select_from(spans)).scalar_one() == 0


def test_feedback_never_raises_and_is_counted_when_the_key_is_wrong_or_the_server_down(
    server: InProcessServer,
) -> None:
    before = dropped_feedback()
    loopstack.init(endpoint=server.url, api_key="lsk_wrong")
    assert loopstack.feedback(TRACE_ID, "thumbs", "up") is None  # 401
    assert loopstack.feedback("not-a-trace-id", "thumbs", "up") is None  # refused as well
    assert loopstack.flush(30)
    assert dropped_feedback() == before + 2

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"
    loopstack.init(endpoint=down, api_key=server.key)
    assert loopstack.feedback(TRACE_ID, "thumbs", "up", timeout=0.5) is None
    assert loopstack.flush(30)
    assert dropped_feedback() == before + 3
    assert _scores(server.store) == []


def test_invalid_feedback_on_the_local_store_is_logged_and_counted(
    traced: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="loopstack.tracing")
    before = dropped_feedback()
    loopstack.feedback("not-a-trace-id", "thumbs", "up")
    loopstack.feedback(TRACE_ID, "thumbs", "maybe", data_type="boolean")
    loopstack.feedback(TRACE_ID, "thumbs", "up")
    assert loopstack.flush(30)
    assert dropped_feedback() == before + 2
    assert "trace_id must be 32 hex" in caplog.text
    assert _scores(get_store()) == [(TRACE_ID, "thumbs", 1.0)]


def test_spans_refused_for_a_wrong_key_are_counted_as_dropped(server: InProcessServer) -> None:
    loopstack.init(endpoint=server.url, api_key="lsk_wrong")
    for i in range(3):
        with loopstack.span(f"step-{i}"):
            pass
    loopstack.flush(30)
    assert dropped_spans() == 3
    with server.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(spans)).scalar_one() == 0


def test_a_span_the_server_rejects_alone_is_counted_as_dropped(
    server: InProcessServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server refuses one bad span in a 200 (OTLP partial success); the SDK counts it."""
    from opentelemetry import trace

    loopstack.init(endpoint=server.url, api_key=server.key)
    with loopstack.span("good"):
        pass
    trace.get_tracer("another-library").start_span("no start time", start_time=0).end()
    assert loopstack.flush(30)
    with server.store.read() as conn:
        assert [r.name for r in conn.execute(select(spans.c.name))] == ["good"]
    assert dropped_spans() == 1
    assert "rejected 1 spans" in caplog.text and "startTimeUnixNano" in caplog.text
