"""The instrumented ``openai`` client against a local OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

import loopstack
from loopstack.prompts import PromptRegistry, clear_prompt_cache, get_prompt
from loopstack.store import get_store

Rows = Callable[[], list[dict[str, Any]]]
USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        model = body["model"]
        if body["messages"][-1]["content"] == "fail":
            self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}})
            return
        if not body.get("stream"):
            self._send(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Billing"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": USAGE,
                },
            )
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        chunks: list[dict[str, Any]] = [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Bill"}}]},
            {"choices": [{"index": 0, "delta": {"content": "ing"}, "finish_reason": "stop"}]},
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({"choices": [], "usage": USAGE})
        for chunk in chunks:
            data = {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                **chunk,
            }
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def openai_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _prompt_messages() -> Any:
    registry = PromptRegistry(get_store(), "default")
    registry.push("triage", [{"role": "user", "content": "Classify: {{ review }}"}])
    registry.push(
        "triage", [{"role": "user", "content": "Label this review: {{ review }}"}], labels=["production"]
    )
    clear_prompt_cache()
    return get_prompt("triage").render(review="I was charged twice")


def _check_generation(row: dict[str, Any], *, output: str = "Billing") -> None:
    assert row["name"] == "chat gpt-4o-mini"
    assert row["kind"] == "CLIENT"
    assert (row["model"], row["provider"]) == ("gpt-4o-mini", "openai")
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 200)
    assert row["cost"] == pytest.approx((1000 * 0.15 + 200 * 0.6) / 1e6)
    assert (row["prompt_name"], row["prompt_version"]) == ("triage", 2)
    assert "I was charged twice" in row["input"]
    assert row["output"] == output
    assert row["attributes"]["gen_ai.request.temperature"] == 0
    # The variables the prompt was rendered with, so "Add to dataset" can store them as the item's input.
    assert json.loads(row["attributes"]["loopstack.prompt.variables"]) == {"review": "I was charged twice"}


@pytest.mark.usefixtures("traced")
def test_sync_call_is_a_generation_span_with_usage_cost_and_prompt_version(
    openai_url: str, stored_spans: Rows
) -> None:
    messages = _prompt_messages()
    client = openai.OpenAI(base_url=openai_url, api_key="test", max_retries=0)
    with loopstack.span("handle-review"):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0)
    assert reply.choices[0].message.content == "Billing"
    rows = {r["name"]: r for r in stored_spans()}
    _check_generation(rows["chat gpt-4o-mini"])
    assert rows["chat gpt-4o-mini"]["parent_span_id"] == rows["handle-review"]["span_id"]


@pytest.mark.usefixtures("traced")
def test_streaming_sync_and_async_calls_are_recorded_when_the_stream_ends(
    openai_url: str, stored_spans: Rows
) -> None:
    messages = _prompt_messages()
    client = openai.OpenAI(base_url=openai_url, api_key="test", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Billing"

    async def run_async() -> str:
        aclient = openai.AsyncOpenAI(base_url=openai_url, api_key="test", max_retries=0)
        plain = await aclient.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0)
        astream = await aclient.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [c.choices[0].delta.content or "" async for c in astream if c.choices]
        await aclient.close()
        return (plain.choices[0].message.content or "") + "".join(parts)

    assert asyncio.run(run_async()) == "BillingBilling"
    rows = stored_spans()
    assert len(rows) == 3
    for row in rows:
        _check_generation(row)


@pytest.mark.usefixtures("traced")
def test_an_api_error_is_an_error_span_and_reaches_the_caller(openai_url: str, stored_spans: Rows) -> None:
    client = openai.OpenAI(base_url=openai_url, api_key="test", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "fail"}])
    (row,) = stored_spans()
    assert row["status_code"] == "ERROR"
    assert "RateLimitError" in row["status_message"]
    assert row["input_tokens"] is None
