"""@observe, span() and context(): what a user sees in the stored spans."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import loopstack
from loopstack.config import get_settings
from loopstack.store import Store
from loopstack.store.tables import spans
from loopstack.tracing import shutdown
from loopstack.tracing._capture import TRUNCATED

Rows = Callable[[], list[dict[str, Any]]]


@pytest.mark.usefixtures("traced")
def test_sync_function_nests_and_records_input_and_output(stored_spans: Rows) -> None:
    @loopstack.observe
    def inner(x: int) -> int:
        return x * 2

    @loopstack.observe(name="outer-step")
    def outer(a: int, b: int = 5) -> dict[str, int]:
        return {"sum": inner(a) + b}

    assert outer(1, b=3) == {"sum": 5}
    rows = {r["name"]: r for r in stored_spans()}
    assert set(rows) == {"outer-step", "test_sync_function_nests_and_records_input_and_output.<locals>.inner"}
    parent = rows["outer-step"]
    child = rows["test_sync_function_nests_and_records_input_and_output.<locals>.inner"]
    assert child["parent_span_id"] == parent["span_id"]
    assert child["trace_id"] == parent["trace_id"]
    assert parent["parent_span_id"] is None
    assert parent["input"] == '{"a":1,"b":3}'
    assert parent["output"] == '{"sum":5}'
    assert child["output"] == "2"
    assert parent["status_code"] == "UNSET"
    assert parent["duration_ms"] is not None and parent["duration_ms"] >= 0


@pytest.mark.usefixtures("traced")
def test_async_and_generators_are_traced(stored_spans: Rows) -> None:
    @loopstack.observe(name="words")
    def words(n: int) -> Iterator[str]:
        for i in range(n):
            yield f"w{i} "

    @loopstack.observe(name="numbers")
    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    @loopstack.observe(name="main")
    async def main() -> list[int]:
        assert "".join(words(2)) == "w0 w1 "
        return [i async for i in numbers(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    rows = {r["name"]: r for r in stored_spans()}
    assert rows["words"]["output"] == "w0 w1 "
    assert rows["numbers"]["output"] == "[0,1,2]"
    assert rows["words"]["parent_span_id"] == rows["main"]["span_id"]
    assert rows["numbers"]["parent_span_id"] == rows["main"]["span_id"]


@pytest.mark.usefixtures("traced")
def test_a_span_opened_inside_a_generator_is_its_child(stored_spans: Rows) -> None:
    @loopstack.observe(name="gen")
    def gen() -> Iterator[int]:
        with loopstack.span("inside"):
            yield 1

    @loopstack.observe(name="after")
    def after() -> None:
        return None

    for _ in gen():
        after()  # runs between two steps of the generator: NOT a child of it
    rows = {r["name"]: r for r in stored_spans()}
    assert rows["inside"]["parent_span_id"] == rows["gen"]["span_id"]
    assert rows["after"]["parent_span_id"] is None


@pytest.mark.usefixtures("traced")
def test_exception_marks_the_span_and_propagates(stored_spans: Rows) -> None:
    @loopstack.observe(name="boom")
    def boom() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        boom()
    (row,) = stored_spans()
    assert row["status_code"] == "ERROR"
    assert "ValueError: bad input" in row["status_message"]
    assert row["events"][0]["name"] == "exception"


@pytest.mark.usefixtures("traced")
def test_span_block_context_and_ids(stored_spans: Rows) -> None:
    with (
        loopstack.context(session_id="sess-1", user_id="alice", tags=["beta"]),
        loopstack.context(tags=["mobile"]),
        loopstack.span("handle", input={"q": "hello"}) as s,
    ):
        assert loopstack.current_trace_id() == s.trace_id
        s.set_output("hi there")
        s.set_attribute("custom.flag", True)
    with loopstack.span("outside"):
        pass
    rows = {r["name"]: r for r in stored_spans()}
    handle = rows["handle"]
    assert (handle["trace_id"], handle["span_id"]) == (s.trace_id, s.span_id)
    assert handle["input"] == '{"q":"hello"}'
    assert handle["output"] == "hi there"
    assert handle["session_id"] == "sess-1"
    assert handle["user_id"] == "alice"
    assert handle["tags"] == ["beta", "mobile"]
    assert handle["attributes"]["custom.flag"] is True
    assert rows["outside"]["session_id"] is None


def test_init_defaults_and_size_limit_and_mask(stored_spans: Rows) -> None:
    loopstack.init(
        session_id="default-session",
        capture_limit=100,
        mask=lambda v: v.replace("secret", "***") if isinstance(v, str) else v,
    )

    @loopstack.observe(name="echo")
    def echo(text: str) -> str:
        return text

    echo("x" * 10_000)
    echo("my secret")
    rows = stored_spans()
    big, masked = rows
    assert big["output"] == "x" * 100 + TRUNCATED
    assert len(big["input"]) <= 100 + len(TRUNCATED)
    assert masked["output"] == "my ***"
    assert big["session_id"] == "default-session"
    loopstack.tracing.shutdown()


def test_a_failing_mask_never_leaks_the_value(stored_spans: Rows) -> None:
    def mask(value: Any) -> Any:
        raise RuntimeError("mask broken")

    loopstack.init(mask=mask)

    @loopstack.observe(name="f")
    def f(password: str) -> str:
        return password

    assert f("hunter2") == "hunter2"
    (row,) = stored_spans()
    assert row["input"] == row["output"] == "[masking failed]"
    loopstack.tracing.shutdown()


def test_sample_rate_zero_records_nothing_but_calls_still_work(stored_spans: Rows) -> None:
    loopstack.init(sample_rate=0.0)

    @loopstack.observe
    def f(x: int) -> int:
        return x + 1

    assert [f(i) for i in range(20)] == list(range(1, 21))
    assert stored_spans() == []
    loopstack.tracing.shutdown()


def test_full_queue_drops_and_counts_without_blocking() -> None:
    # An endpoint nobody listens on: the exporter fails, the tiny queue fills, spans are dropped.
    loopstack.init(endpoint="http://127.0.0.1:9", max_queue_size=4, max_export_batch_size=512)

    @loopstack.observe
    def f() -> None:
        return None

    for _ in range(50):
        f()
    assert loopstack.dropped_spans() >= 40
    loopstack.tracing.shutdown(timeout=1)


@pytest.mark.usefixtures("traced")
def test_a_value_that_cannot_be_recorded_never_breaks_the_call(stored_spans: Rows) -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @loopstack.observe(name="odd")
    def odd(thing: Unprintable) -> Unprintable:
        return thing

    value = Unprintable()
    assert odd(value) is value
    (row,) = stored_spans()
    assert row["name"] == "odd"
    assert row["input"] is None and row["output"] is None


def test_sample_rate_applies_when_the_app_owns_the_tracer_provider(
    stored_spans: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An app that set up OpenTelemetry first keeps its provider and its sampler; Loopstack adds its
    # processors to that provider, and its own sample rate still thins what it stores (whole traces).
    from opentelemetry.sdk.trace import TracerProvider

    from loopstack.tracing import _setup

    app_provider = TracerProvider()
    monkeypatch.setattr(_setup.trace, "get_tracer_provider", lambda: app_provider)
    monkeypatch.setattr(_setup.state, "provider", None)
    monkeypatch.setattr(_setup.state, "tracer", _setup.state.tracer)
    try:
        loopstack.init(sample_rate=0.0)
        assert _setup.state.provider is app_provider
        tracer = app_provider.get_tracer("app")
        for _ in range(20):
            with tracer.start_as_current_span("app-span"):
                pass
        assert stored_spans() == []

        loopstack.init(sample_rate=1.0)
        with tracer.start_as_current_span("kept"):
            pass
        assert [r["name"] for r in stored_spans()] == ["kept"]
    finally:
        loopstack.tracing.shutdown()


EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def redact_emails(text: str) -> str:
    """The string redactor docs/tracing.md shows."""
    return EMAIL.sub("[email]", text)


@dataclass
class Contact:
    name: str
    email: str


def test_the_mask_reaches_every_string_nested_in_inputs_and_outputs(stored_spans: Rows) -> None:
    loopstack.init(mask=redact_emails)

    @loopstack.observe(name="lookup")
    def lookup(user: dict[str, Any], cc: list[str], contact: Contact) -> dict[str, Any]:
        return {"found": [{"email": user["email"], "aliases": ["bob@example.org"]}], "note": "ok"}

    with loopstack.span("block", input={"to": ["carol@example.net"]}) as s:
        s.set_output(("dave@example.com", {"nested": {"deep": ["erin@example.com"]}}))
    lookup({"email": "alice@example.com", "id": 7}, ["frank@example.com"], Contact("Gus", "gus@example.com"))
    rows = {r["name"]: r for r in stored_spans()}
    captured = " ".join(f"{r['input']} {r['output']}" for r in rows.values())
    assert "@example" not in captured
    assert json.loads(rows["lookup"]["input"]) == {
        "user": {"email": "[email]", "id": 7},
        "cc": ["[email]"],
        "contact": {"name": "Gus", "email": "[email]"},
    }
    assert json.loads(rows["lookup"]["output"]) == {
        "found": [{"email": "[email]", "aliases": ["[email]"]}],
        "note": "ok",
    }
    assert json.loads(rows["block"]["output"]) == ["[email]", {"nested": {"deep": ["[email]"]}}]
    loopstack.tracing.shutdown()


def test_the_mask_reaches_model_calls_and_other_tracers_spans(stored_spans: Rows) -> None:
    from opentelemetry import trace

    from loopstack.models import forget_models, get_model

    loopstack.init(mask=redact_emails)
    forget_models()
    model = get_model("mock/mask", fn=lambda request: "Reply to alice@example.com")
    asyncio.run(model.generate([{"role": "user", "content": "I am bob@example.org"}]))
    forget_models()
    tracer = trace.get_tracer("openinference.instrumentation.test")
    attrs = {
        "input.value": '{"question": "mail carol@example.net"}',
        "llm.input_messages.0.message.content": "dave@example.com here",
        "llm.model_name": "gpt-4o-mini",
    }
    with tracer.start_as_current_span("ChatModel", attributes=attrs):
        pass
    rows = {r["name"]: r for r in stored_spans()}
    chat, other = next(r for n, r in rows.items() if n.startswith("chat ")), rows["ChatModel"]
    assert json.loads(chat["input"]) == [{"role": "user", "content": "I am [email]"}]
    assert chat["output"] == "Reply to [email]"
    assert json.loads(other["input"]) == {"question": "mail [email]"}
    assert other["attributes"]["llm.input_messages.0.message.content"] == "[email] here"
    assert other["model"] == "gpt-4o-mini"
    loopstack.tracing.shutdown()


def test_spans_land_in_the_store_configured_at_init_even_when_exported_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exit-time flush once wrote a test's spans into ~/.loopstack: the home had changed by then."""
    first = tmp_path / "first"
    monkeypatch.setenv("LOOPSTACK_HOME", str(first))
    get_settings.cache_clear()
    loopstack.init()
    try:
        with loopstack.span("kept"):
            pass
        later = tmp_path / "later"
        monkeypatch.setenv("LOOPSTACK_HOME", str(later))
        get_settings.cache_clear()
        assert loopstack.flush(timeout=10)
    finally:
        shutdown(timeout=5)
    with Store(f"sqlite:///{first / 'loopstack.db'}").read() as conn:
        assert [r.name for r in conn.execute(select(spans.c.name))] == ["kept"]
    assert not (later / "loopstack.db").exists()
