"""The OpenAI and OpenAI-compatible providers against a chat-completions server on 127.0.0.1."""

from __future__ import annotations

import pytest

from loopstack import semconv
from loopstack.errors import ConfigError
from loopstack.models import (
    AuthenticationError,
    ContextTooLong,
    ProviderError,
    RateLimited,
    cost_for,
    get_model,
)


def completion(text: str = "Hello!", **usage: int) -> dict[str, object]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": usage.get("prompt", 12),
            "completion_tokens": usage.get("completion", 3),
            "prompt_tokens_details": {"cached_tokens": usage.get("cached", 0)},
            "completion_tokens_details": {"reasoning_tokens": usage.get("reasoning", 0)},
        },
    }


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


async def test_request_shape(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(completion())
    model = get_model("openai/gpt-4o-mini", base_url=f"{stub.url}/v1")
    answer = await model.generate(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0,
        max_tokens=50,
        top_p=0.9,
        stop=["\n\n"],
        seed=7,
        response_format="json",
    )
    assert answer.text == "Hello!"
    (seen,) = stub.seen
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.headers["Authorization"] == "Bearer sk-test-123"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "temperature": 0,
        "max_completion_tokens": 50,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
        "response_format": {"type": "json_object"},
    }


async def test_usage_cost_and_span(stub, spans) -> None:  # type: ignore[no-untyped-def]
    stub.reply(completion(prompt=1000, completion=500, cached=200, reasoning=100))
    answer = await get_model("openai/gpt-4o-mini", base_url=stub.url).generate("Hi")
    usage = answer.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens) == (
        1000,
        500,
        200,
        100,
    )
    # gpt-4o-mini: $0.15 / 1M input, $0.075 / 1M cached input, $0.60 / 1M output
    expected = (800 * 0.15 + 200 * 0.075 + 500 * 0.60) / 1_000_000
    assert answer.cost == pytest.approx(expected)
    assert cost_for("openai/gpt-4o-mini", usage) == pytest.approx(expected)
    assert (answer.id, answer.response_model, answer.finish_reason) == (
        "chatcmpl-123",
        "gpt-4o-mini-2024-07-18",
        "stop",
    )
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs[semconv.GEN_AI_PROVIDER] == "openai"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-123"
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_TOKENS] == 200
    assert attrs[semconv.GEN_AI_USAGE_REASONING_TOKENS] == 100
    assert attrs[semconv.COST] == pytest.approx(expected)


async def test_429_with_retry_after_is_retried(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply({"error": {"message": "Rate limit reached"}}, status=429, headers={"Retry-After": "0"})
    stub.reply(completion("after the wait"))
    answer = await get_model("openai/gpt-4o-mini", base_url=stub.url).generate("Hi")
    assert answer.text == "after the wait"
    assert len(stub.seen) == 2


async def test_retry_after_is_read_from_the_reply(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply({"error": {"message": "Rate limit reached"}}, status=429, headers={"Retry-After": "7"})
    model = get_model("openai/gpt-4o-mini", base_url=stub.url, max_retries=0)
    with pytest.raises(RateLimited, match="openai: HTTP 429: Rate limit reached") as info:
        await model.generate("Hi")
    assert info.value.retry_after == 7


async def test_server_errors_are_retried_then_reported(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply({"error": {"message": "upstream failed"}}, status=502)
    model = get_model("openai/gpt-4o-mini", base_url=stub.url, max_retries=2, retry_initial_delay=0)
    with pytest.raises(ProviderError, match="openai: HTTP 502: upstream failed"):
        await model.generate("Hi")
    assert len(stub.seen) == 3


async def test_timeout_is_retried_then_reported(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(completion(), delay=2)
    model = get_model(
        "openai/gpt-4o-mini", base_url=stub.url, timeout=0.1, max_retries=1, retry_initial_delay=0
    )
    with pytest.raises(ProviderError, match=r"openai/gpt-4o-mini: no answer within 0.1 s"):
        await model.generate("Hi")
    assert len(stub.seen) == 2


async def test_context_too_long_is_not_retried(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(
        {
            "error": {
                "message": "This model's maximum context length is 128000 tokens",
                "code": "context_length_exceeded",
            }
        },
        status=400,
    )
    with pytest.raises(ContextTooLong, match="maximum context length"):
        await get_model("openai/gpt-4o-mini", base_url=stub.url).generate("Hi")
    assert len(stub.seen) == 1


async def test_refused_and_missing_keys_name_the_env_var(stub, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    stub.reply({"error": {"message": "Incorrect API key provided"}}, status=401)
    with pytest.raises(AuthenticationError, match=r"openai: the API key was refused .* set OPENAI_API_KEY"):
        await get_model("openai/gpt-4o-mini", base_url=stub.url).generate("Hi")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(
        AuthenticationError, match="openai: no API key; set OPENAI_API_KEY or pass the api_key"
    ):
        await get_model("openai/gpt-4o-mini", base_url=stub.url).generate("Hi")
    assert len(stub.seen) == 1


async def test_connection_refused_is_a_provider_error() -> None:
    model = get_model(
        "openai/gpt-4o-mini", base_url="http://127.0.0.1:9/v1", max_retries=1, retry_initial_delay=0
    )
    with pytest.raises(ProviderError, match=r"openai: cannot reach http://127.0.0.1:9/v1/chat/completions"):
        await model.generate("Hi")


async def test_streaming_delivers_chunks_and_usage(stub) -> None:  # type: ignore[no-untyped-def]
    chunk = {"id": "c1", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    chunk2 = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}
    tail = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    stub.reply(sse=[chunk, chunk2, tail, b"[DONE]"])
    seen: list[str] = []
    answer = await get_model("openai/gpt-4o-mini", base_url=stub.url).generate("Hi", on_text=seen.append)
    assert seen == ["Hel", "lo"]
    assert (answer.text, answer.finish_reason, answer.usage.output_tokens) == ("Hello", "stop", 2)
    assert stub.seen[0].json["stream"] is True
    assert stub.seen[0].json["stream_options"] == {"include_usage": True}


async def test_openai_compatible_needs_base_url_and_no_key(stub, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="openai-compatible/llama3: set the base_url option"):
        get_model("openai-compatible/llama3")
    monkeypatch.delenv("OPENAI_API_KEY")
    stub.reply(completion("from llama"))
    answer = await get_model("openai-compatible/llama3", base_url=f"{stub.url}/v1").generate(
        "Hi", max_tokens=9
    )
    assert answer.text == "from llama"
    assert answer.cost is None  # no price known for a self-hosted model
    (seen,) = stub.seen
    assert "Authorization" not in seen.headers
    assert seen.json["max_tokens"] == 9
    assert seen.json["model"] == "llama3"


async def test_concurrency_limit_and_many_calls(stub) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    stub.reply(completion(), delay=0.01)
    model = get_model("openai/gpt-4o-mini", base_url=stub.url, max_concurrency=4)
    answers = await asyncio.gather(*(model.generate(f"q{i}") for i in range(40)))
    assert len(answers) == 40 and all(a.text == "Hello!" for a in answers)
    assert stub.max_in_flight == 4
    assert sorted(s.json["messages"][0]["content"] for s in stub.seen) == sorted(f"q{i}" for i in range(40))


async def test_a_server_that_ignores_stream_still_answers(stub) -> None:  # type: ignore[no-untyped-def]
    stub.reply(completion("all at once"))
    chunks: list[str] = []
    answer = await get_model("openai-compatible/x", base_url=stub.url).generate("Hi", on_text=chunks.append)
    assert (chunks, answer.text, answer.usage.input_tokens) == (["all at once"], "all at once", 12)
