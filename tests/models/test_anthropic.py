"""The Anthropic provider against a Messages API server on 127.0.0.1."""

from __future__ import annotations

import pytest

from loopstack.models import AuthenticationError, ContextTooLong, ProviderError, RateLimited, get_model


def message(text: str = "Hi there", stop_reason: str = "end_turn", **usage: int) -> dict[str, object]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "usage": {
            "input_tokens": usage.get("input", 10),
            "output_tokens": usage.get("output", 4),
            "cache_read_input_tokens": usage.get("cache_read", 0),
            "cache_creation_input_tokens": 0,
        },
    }


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


async def test_request_shape(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(message())
    answer = await get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url).generate(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ],
        temperature=0.5,
        stop=["END"],
    )
    assert answer.text == "Hi there"
    (seen,) = stub.seen
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == "sk-ant-test"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.json == {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ],
        "temperature": 0.5,
        "stop_sequences": ["END"],
    }


async def test_usage_with_cache_reads_and_cost(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(message(input=600, cache_read=400, output=1000, stop_reason="max_tokens"))
    answer = await get_model("anthropic/claude-3-5-haiku-20241022", base_url=stub.url).generate(
        "Hi", max_tokens=1000
    )
    assert (answer.usage.input_tokens, answer.usage.cached_input_tokens, answer.usage.output_tokens) == (
        1000,
        400,
        1000,
    )
    assert answer.finish_reason == "length"
    assert stub.seen[0].json["max_tokens"] == 1000
    # claude-3-5-haiku: $0.80 / 1M input, $0.08 / 1M cache read, $4 / 1M output
    assert answer.cost == pytest.approx((600 * 0.80 + 400 * 0.08 + 1000 * 4.0) / 1_000_000)
    assert (answer.id, answer.response_model) == ("msg_01", "claude-3-5-haiku-20241022")


async def test_429_and_overloaded_are_retried(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
        status=429,
        headers={"retry-after": "0"},
    )
    stub.reply({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529)
    stub.reply(message("finally"))
    model = get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url, retry_initial_delay=0)
    assert (await model.generate("Hi")).text == "finally"
    assert len(stub.seen) == 3


async def test_retry_after_header_and_errors(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
        status=429,
        headers={"retry-after": "12"},
    )
    model = get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url, max_retries=0)
    with pytest.raises(RateLimited) as info:
        await model.generate("Hi")
    assert info.value.retry_after == 12
    stub.replies.clear()
    stub.reply(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 210000 tokens > 200000 maximum",
            },
        },
        status=400,
    )
    with pytest.raises(ContextTooLong, match="anthropic: HTTP 400: prompt is too long"):
        await model.generate("Hi")


async def test_timeout(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(message(), delay=2)
    model = get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url, timeout=0.1, max_retries=0)
    with pytest.raises(ProviderError, match="no answer within 0.1 s"):
        await model.generate("Hi")


async def test_keys_name_the_env_var(stub, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    stub.reply(
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
        status=401,
    )
    with pytest.raises(AuthenticationError, match="anthropic: the API key was refused .*ANTHROPIC_API_KEY"):
        await get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url).generate("Hi")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(AuthenticationError, match="anthropic: no API key; set ANTHROPIC_API_KEY"):
        await get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url).generate("Hi")


async def test_streaming_events(stub) -> None:  # type: ignore[no-untyped-def]
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_02",
            "model": "claude-3-5-haiku-20241022",
            "usage": {"input_tokens": 9, "output_tokens": 1},
        },
    }
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}
    delta2 = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}
    stub.reply(sse=[start, {"type": "ping"}, delta, delta2, end, {"type": "message_stop"}])
    chunks: list[str] = []
    answer = await get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url).generate(
        "Hi", on_text=chunks.append
    )
    assert chunks == ["Hel", "lo"]
    assert (answer.text, answer.finish_reason, answer.id) == ("Hello", "stop", "msg_02")
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (9, 2)
    assert stub.seen[0].json["stream"] is True


async def test_a_server_that_ignores_stream_still_answers(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(message("whole"))
    chunks: list[str] = []
    answer = await get_model("anthropic/claude-3-5-haiku-latest", base_url=stub.url).generate(
        "Hi", on_text=chunks.append
    )
    assert (chunks, answer.text) == (["whole"], "whole")
