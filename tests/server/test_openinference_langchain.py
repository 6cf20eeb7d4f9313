"""A real LangChain app traced by OpenInference's instrumentor, exported by the stock OTLP exporter to a
real ``loopstack serve``: its LLM spans are model calls with chat messages, a model name and tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from server_helpers import JSON, LiveServer

from loopstack.monitor.aggregates import compute_dashboard
from loopstack.store import get_store
from loopstack.store._types import utcnow

# openinference-instrumentation-langchain 0.1.80 calls a method langchain-core 1.8 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Calling .text\\(\\) as a method:DeprecationWarning")
pytest.importorskip("langchain_core")
pytest.importorskip("openinference.instrumentation.langchain")


def _run_langchain_app(endpoint: str) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from openinference.instrumentation.langchain import LangChainInstrumentor

    provider = TracerProvider(resource=Resource.create({"service.name": "langchain-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        # A fake chat model with no model name anywhere, reporting usage like a real provider does.
        answer = AIMessage(
            content="Paris", usage_metadata={"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}
        )
        prompt = ChatPromptTemplate.from_messages(
            [("system", "You answer briefly."), ("human", "Capital of {country}?")]
        )
        chain = prompt | GenericFakeChatModel(messages=iter([answer])) | StrOutputParser()
        assert chain.invoke({"country": "France"}) == "Paris"
        # The model named in the invocation parameters, as ChatOpenAI(model=...) passes it.
        named = FakeListChatModel(responses=["4"]).bind(model="gpt-4o-mini")
        assert named.invoke("What is 2+2?").content == "4"
    finally:
        instrumentor.uninstrument()
    assert provider.force_flush(30_000)
    provider.shutdown()


def test_openinference_llm_spans_are_model_calls_with_chat_messages(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    since = utcnow() - timedelta(minutes=1)
    _run_langchain_app(f"{server.url}/v1/traces")

    listed = httpx.get(f"{server.url}/api/spans", params={"limit": 100}, timeout=10).json()["items"]
    by_name: dict[str, dict[str, Any]] = {s["name"]: s for s in listed}
    llm = by_name["GenericFakeChatModel"]
    assert orjson.loads(llm["input"]) == [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert llm["output"] == "Paris"
    assert (llm["input_tokens"], llm["output_tokens"]) == (12, 3)
    # No model name was given: the model's own type stands in, so the call is still counted.
    assert (llm["model"], llm["provider"]) == ("generic-fake-chat-model", "genericfakechatmodel")
    assert "llm.input_messages.0.message.content" not in llm["attributes"]  # moved, not stored twice

    named = by_name["FakeListChatModel"]
    assert named["model"] == "gpt-4o-mini"
    assert orjson.loads(named["input"]) == [{"role": "user", "content": "What is 2+2?"}]
    assert named["output"] == "4"
    chain = by_name["RunnableSequence"]
    assert chain["model"] is None  # a chain is not a model call
    page_url = f"{server.url}/ui/traces/{llm['trace_id']}"
    page = httpx.get(page_url, params={"span": llm["span_id"]}, timeout=10).text
    assert '<span class="role">system</span><pre>You answer briefly.</pre>' in page  # shown as chat
    assert '<span class="role">user</span><pre>Capital of France?</pre>' in page

    store = get_store()
    dashboard = compute_dashboard(
        store, store.project_id("default"), since, utcnow() + timedelta(minutes=1), 60
    )
    assert dashboard.totals.requests == 2
    assert dashboard.totals.input_tokens == 12


def test_an_llm_span_takes_its_model_from_the_invocation_parameters(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()

    def attr(key: str, value: Any) -> dict[str, Any]:
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: value}}

    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "name": "ChatOpenAI",
        "startTimeUnixNano": str(time.time_ns()),  # priced at today's prices
        "endTimeUnixNano": str(time.time_ns() + 10**9),
        "attributes": [
            attr("openinference.span.kind", "LLM"),
            attr("llm.invocation_parameters", '{"model_name": "gpt-4o-mini", "temperature": 0}'),
            attr("metadata", '{"ls_provider": "openai"}'),
            attr("llm.input_messages.0.message.role", "user"),
            attr("llm.input_messages.0.message.contents.0.message_content.type", "text"),
            attr("llm.input_messages.0.message.contents.0.message_content.text", "Hi"),
            attr("llm.output_messages.0.message.role", "assistant"),
            attr("llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "lookup"),
            attr("llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments", '{"q": 1}'),
            attr("llm.token_count.prompt", 1000),
            attr("llm.token_count.completion", 500),
            attr("input.value", '{"messages": [[{"lc": 1}]]}'),
        ],
    }
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    assert httpx.post(f"{server.url}/v1/traces", content=body, headers=JSON, timeout=10).status_code == 200
    (row,) = httpx.get(f"{server.url}/api/spans", timeout=10).json()["items"]
    assert (row["model"], row["provider"]) == ("gpt-4o-mini", "openai")
    assert abs(row["cost"] - (1000 * 0.15 + 500 * 0.6) / 1e6) < 1e-12
    assert orjson.loads(row["input"]) == [{"role": "user", "content": "Hi"}]
    assert orjson.loads(row["output"]) == [
        {"role": "assistant", "content": "", "tool_calls": [{"name": "lookup", "arguments": '{"q": 1}'}]}
    ]
    assert row["attributes"]["input.value"] == '{"messages": [[{"lc": 1}]]}'  # kept, not shown as input
