"""The scripted provider and the Model pipeline around it (cache, tracing, errors, retries)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from loopstack import semconv
from loopstack.errors import InvalidInput
from loopstack.models import (
    Message,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RateLimited,
    UnknownModel,
    get_model,
)
from loopstack.store import Store
from loopstack.store.tables import model_cache


class _PromptMessages(list[dict[str, str]]):
    """Stands in for prompts' PromptMessages: a list of dicts carrying the prompt's name and version."""

    prompt_name = "triage"
    prompt_version = 3


async def test_queue_answers_in_order_and_counts_calls() -> None:
    model = get_model("mock/q", outputs=["first", "second"])
    assert (await model.generate("a")).text == "first"
    assert (await model.generate("b")).text == "second"
    assert model.provider.calls == 2  # type: ignore[attr-defined]
    with pytest.raises(ProviderError, match="exhausted after 2 calls"):
        await model.generate("c")


async def test_mapping_function_and_echo() -> None:
    mapped = get_model("mock/m", mapping={"hi": "hello"}, default="?")
    assert (await mapped.generate("hi")).text == "hello"
    assert (await mapped.generate("other")).text == "?"

    async def shout(request: ModelRequest) -> str:
        return request.messages[-1].content.upper()

    assert (await get_model("mock/f", fn=shout).generate("loud")).text == "LOUD"
    echo = await get_model("mock/echo").generate(
        [{"role": "system", "content": "s"}, Message(role="user", content="ping")]
    )
    assert echo.text == "ping"
    assert echo.model == "mock/echo" and echo.provider == "mock" and echo.cost == 0.0
    assert echo.usage.input_tokens == 2 and echo.usage.output_tokens == 1


async def test_same_string_returns_the_configured_instance() -> None:
    configured = get_model("mock/shared", outputs=["x"])
    assert get_model("mock/shared") is configured
    assert (await get_model("mock/shared").generate("q")).text == "x"


async def test_max_tokens_truncates_with_length_finish() -> None:
    r = await get_model("mock/long", default="one two three four").generate("q", max_tokens=2)
    assert (r.text, r.finish_reason) == ("one two", "length")


async def test_scripted_exception_is_raised_and_retryable_errors_are_retried() -> None:
    flaky = get_model(
        "mock/flaky",
        outputs=[RateLimited("slow down", retry_after=0), ProviderError("boom", retryable=True), "ok"],
        max_retries=2,
        retry_initial_delay=0,
    )
    assert (await flaky.generate("q")).text == "ok"
    assert flaky.provider.calls == 3  # type: ignore[attr-defined]
    hard = get_model("mock/hard", outputs=[ValueError("not a provider error")])
    with pytest.raises(ValueError):
        await hard.generate("q")


async def test_timeout_is_a_provider_error_naming_the_model() -> None:
    slow = get_model("mock/slow", latency=5, timeout=0.05)
    with pytest.raises(ProviderError, match=r"mock/slow: no answer within 0.05 s"):
        await slow.generate("q")


def test_bad_strings_and_options_are_one_line_errors() -> None:
    with pytest.raises(UnknownModel, match="use <provider>/<model>"):
        get_model("gpt-4o")
    with pytest.raises(UnknownModel, match="no provider named 'nope'"):
        get_model("nope/x")
    with pytest.raises(InvalidInput, match="mock/x: option colour: Extra inputs are not permitted"):
        get_model("mock/x", colour="red")


def test_prompt_messages_carry_attribution_onto_the_request() -> None:
    msgs = _PromptMessages([{"role": "user", "content": "Review: ok"}])
    request = ModelRequest.of(msgs, temperature=0)
    assert (request.prompt_name, request.prompt_version) == ("triage", 3)
    assert request.params() == {"temperature": 0}


async def test_cache_replays_and_counts_hits(store: Store) -> None:
    model = get_model("mock/c", outputs=["fresh", "second"])
    assert not model.is_cached("q", temperature=0, store=store)
    first = await model.generate("q", temperature=0, cache=True, store=store)
    assert model.is_cached("q", temperature=0, store=store)
    assert not model.is_cached("q", temperature=0.5, store=store)
    again = await model.generate("q", temperature=0, cache=True, store=store)
    other_epoch = await model.generate("q", temperature=0, epoch=1, cache=True, store=store)
    assert (first.text, first.cached) == ("fresh", False)
    assert (again.text, again.cached) == ("fresh", True)
    assert (other_epoch.text, other_epoch.cached) == ("second", False)
    assert model.provider.calls == 2  # type: ignore[attr-defined]
    with store.read() as conn:
        rows = conn.execute(select(model_cache.c.model, model_cache.c.hits, model_cache.c.last_hit_at)).all()
    hits = sorted((r.model, r.hits, r.last_hit_at is not None) for r in rows)
    assert hits == [("mock/c", 0, False), ("mock/c", 1, True)]


async def test_no_cache_bypasses_the_store(store: Store) -> None:
    model = get_model("mock/nc", outputs=["a", "b"])
    await model.generate("q", cache=True, store=store)
    assert (await model.generate("q", cache=False, store=store)).text == "b"


async def test_every_call_is_a_span_with_genai_attributes(spans, store: Store) -> None:  # type: ignore[no-untyped-def]
    model = get_model("mock/traced", default="positive")
    msgs = _PromptMessages([{"role": "system", "content": "Classify"}, {"role": "user", "content": "great"}])
    await model.generate(msgs, temperature=0, max_tokens=5, cache=True, store=store)
    await model.generate(msgs, temperature=0, max_tokens=5, cache=True, store=store)
    done = spans.get_finished_spans()
    assert [s.name for s in done] == ["chat traced", "chat traced"]
    first, replay = (dict(s.attributes or {}) for s in done)
    assert first[semconv.GEN_AI_PROVIDER] == "mock"
    assert first[semconv.GEN_AI_REQUEST_MODEL] == "traced"
    assert first[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0
    assert first[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 5
    assert json.loads(str(first[semconv.INPUT]))[1] == {"role": "user", "content": "great"}
    assert first[semconv.OUTPUT] == "positive"
    assert first[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 2
    assert first[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 1
    assert first[semconv.COST] == 0.0
    assert (first[semconv.PROMPT_NAME], first[semconv.PROMPT_VERSION]) == ("triage", 3)
    assert (first[semconv.CACHE_HIT], replay[semconv.CACHE_HIT]) == (False, True)


async def test_failed_call_span_has_error_status(spans) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProviderError):
        await get_model("mock/bad", outputs=[]).generate("q")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert "exhausted" in (span.status.description or "")


async def test_concurrent_calls_share_one_queue() -> None:
    model = get_model("mock/par", fn=lambda r: r.messages[-1].content * 2, latency=0.01)
    results = await asyncio.gather(*(model.generate(str(i)) for i in range(50)))
    assert [r.text for r in results] == [str(i) * 2 for i in range(50)]


async def test_function_may_return_a_full_response() -> None:
    model = get_model("mock/full", fn=lambda r: ModelResponse(text="x", finish_reason="length"))
    assert (await model.generate("q")).finish_reason == "length"


async def test_an_unreadable_cache_entry_is_a_miss_and_is_replaced(store: Store) -> None:
    from sqlalchemy import update

    model = get_model("mock/stale", outputs=["old", "new"])
    await model.generate("q", cache=True, store=store)
    with store.write() as conn:
        conn.execute(update(model_cache).values(response={"written_by": "an older version"}))
    answer = await model.generate("q", cache=True, store=store)
    assert (answer.text, answer.cached) == ("new", False)
    replay = await model.generate("q", cache=True, store=store)
    assert (replay.text, replay.cached) == ("new", True)
