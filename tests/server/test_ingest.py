"""OTLP/HTTP ingest in-process: attribute mapping, formats, idempotency, partial success, bad payloads."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from server_helpers import JSON, PROTOBUF, otlp_protobuf
from sqlalchemy import select

from loopstack.config import Settings
from loopstack.server import create_app
from loopstack.store import Store
from loopstack.store.tables import spans


def _rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(spans).order_by(spans.c.start_time))]


def _by_name(store: Store) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in _rows(store)}


GENAI_NEW = {
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 500,
    "gen_ai.conversation.id": "conv-9",
}
GENAI_OLD = {
    "gen_ai.system": "anthropic",
    "gen_ai.request.model": "claude-3-5-haiku-20241022",
    "gen_ai.usage.prompt_tokens": 10,
    "gen_ai.usage.completion_tokens": 4,
}
OPENINFERENCE = {
    "llm.model_name": "gpt-4o",
    "llm.provider": "openai",
    "llm.token_count.prompt": 7,
    "llm.token_count.completion": 3,
    "input.value": "What is 2+2?",
    "output.value": "4",
    "session.id": "sess-oi",
    "user.id": "user-oi",
    "openinference.span.kind": "LLM",
}
OURS = {
    "loopstack.input": '{"q": "hi"}',
    "loopstack.output": "hello",
    "loopstack.cost_usd": 0.5,
    "loopstack.prompt.name": "triage",
    "loopstack.prompt.version": 3,
    "loopstack.session_id": "s-1",
    "loopstack.user_id": "u-1",
    "loopstack.tags": ("beta", "ios"),
    "gen_ai.request.model": "mock/echo",
    "gen_ai.provider.name": "mock",
}


async def test_protobuf_maps_every_convention_and_keeps_unknown_attributes(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = otlp_protobuf(
        [
            {"name": "genai-new", "attributes": {**GENAI_NEW, "custom.thing": "kept", "n": 5}},
            {"name": "genai-old", "attributes": GENAI_OLD},
            {"name": "openinference", "attributes": OPENINFERENCE},
            {"name": "ours", "attributes": OURS},
            {"name": "plain"},
        ]
    )
    response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 0

    rows = _by_name(store)
    new = rows["genai-new"]
    assert (new["model"], new["provider"]) == ("gpt-4o-mini-2024-07-18", "openai")
    assert (new["input_tokens"], new["output_tokens"]) == (1000, 500)
    assert new["cost"] == pytest.approx(1000 * 0.15 / 1e6 + 500 * 0.6 / 1e6)  # from the price table
    assert new["session_id"] == "conv-9"
    assert new["attributes"]["custom.thing"] == "kept"
    assert new["attributes"]["n"] == 5
    assert new["service_name"] == "test-app"

    old = rows["genai-old"]
    assert (old["model"], old["provider"]) == ("claude-3-5-haiku-20241022", "anthropic")
    assert (old["input_tokens"], old["output_tokens"]) == (10, 4)

    oi = rows["openinference"]
    assert (oi["model"], oi["provider"], oi["input_tokens"], oi["output_tokens"]) == (
        "gpt-4o",
        "openai",
        7,
        3,
    )
    assert (oi["input"], oi["output"]) == ("What is 2+2?", "4")
    assert (oi["session_id"], oi["user_id"]) == ("sess-oi", "user-oi")
    assert oi["cost"] is not None and oi["cost"] > 0
    assert "input.value" not in oi["attributes"]  # moved to the input column, not stored twice
    assert oi["attributes"]["openinference.span.kind"] == "LLM"

    ours = rows["ours"]
    assert (ours["input"], ours["output"], ours["cost"]) == ('{"q": "hi"}', "hello", 0.5)
    assert (ours["prompt_name"], ours["prompt_version"]) == ("triage", 3)
    assert (ours["session_id"], ours["user_id"], ours["tags"]) == ("s-1", "u-1", ["beta", "ios"])

    plain = rows["plain"]
    assert plain["model"] is None and plain["cost"] is None
    assert plain["status_code"] == "UNSET" and plain["kind"] == "INTERNAL"


def _json_span(trace_id: str, span_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": extra.pop("name", "json-span"),
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 8}},
            {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
            {"key": "flags", "value": {"arrayValue": {"values": [{"boolValue": True}]}}},
            {
                "key": "nested",
                "value": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}},
            },
        ],
        "status": {"code": 2, "message": "rate limited"},
        **extra,
    }


def _json_body(*span_list: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                    "scopeSpans": [{"scope": {"name": "manual"}, "spans": list(span_list)}],
                }
            ]
        }
    )


async def test_json_with_gzip_is_mapped_like_protobuf(client: httpx.AsyncClient, store: Store) -> None:
    body = gzip.compress(_json_body(_json_span("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")))
    response = await client.post("/v1/traces", content=body, headers={**JSON, "content-encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json() == {}
    (row,) = _rows(store)
    assert (row["trace_id"], row["span_id"]) == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == ("gpt-4o-mini", 12, 8)
    assert row["kind"] == "CLIENT"
    assert (row["status_code"], row["status_message"]) == ("ERROR", "rate limited")
    assert row["duration_ms"] == pytest.approx(250.0)
    assert row["attributes"]["flags"] == [True]
    assert row["attributes"]["nested"] == {"a": 1}
    assert row["attributes"]["gen_ai.request.temperature"] == 0.2
    assert row["service_name"] == "svc"


async def test_a_retried_batch_does_not_duplicate(client: httpx.AsyncClient, store: Store) -> None:
    body = otlp_protobuf([{"name": "a"}, {"name": "b", "child": True}])
    for _ in range(3):
        assert (await client.post("/v1/traces", content=body, headers=PROTOBUF)).status_code == 200
    assert sorted(r["name"] for r in _rows(store)) == ["a", "b"]


async def test_bad_spans_are_rejected_alone_with_partial_success(
    client: httpx.AsyncClient, store: Store
) -> None:
    good = _json_span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", name="good")
    bad_id = _json_span("zz", "b7ad6b7169203332", name="bad-id")
    no_start = _json_span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203333", name="no-start")
    no_start.pop("startTimeUnixNano")
    response = await client.post("/v1/traces", content=_json_body(good, bad_id, no_start), headers=JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "spans[1]: traceId must be 32 hex" in partial["errorMessage"]
    assert "spans[2]: startTimeUnixNano is missing" in partial["errorMessage"]
    assert [r["name"] for r in _rows(store)] == ["good"]


async def test_malformed_requests_get_a_clear_4xx_and_the_server_keeps_serving(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = otlp_protobuf([{"name": "ok", "attributes": {"k": "v"}}])
    huge = otlp_protobuf([{"name": "huge", "attributes": {"big": "x" * (10 * 1024 * 1024)}}])
    cases = [
        (body[: len(body) // 2], PROTOBUF, 400, "not a valid OTLP protobuf"),
        (body, {"content-type": "text/plain"}, 415, "unsupported Content-Type 'text/plain'"),
        (huge, PROTOBUF, 413, "exceeds 8 MiB"),
        (b'{"resourceSpans": [', JSON, 400, "not valid JSON"),
        (b'{"resourceSpans": {"a": 1}}', JSON, 400, "resourceSpans must be a list"),
        (b"[1, 2]", JSON, 400, "body must be an object"),
        (b"\x1f\x8b not gzip", {**PROTOBUF, "content-encoding": "gzip"}, 400, "not valid gzip"),
        (body, {**PROTOBUF, "content-encoding": "br"}, 415, "unsupported Content-Encoding"),
        (gzip.compress(b"\0" * (9 * 1024 * 1024)), {**PROTOBUF, "content-encoding": "gzip"}, 413, "exceeds"),
    ]
    for content, headers, status, message in cases:
        response = await client.post("/v1/traces", content=content, headers=headers)
        assert response.status_code == status, (message, response.text)
        assert message in response.json()["detail"]
        ok = await client.post("/v1/traces", content=body, headers=PROTOBUF)
        assert ok.status_code == 200
    assert {r["name"] for r in _rows(store)} == {"ok"}


async def test_overload_answers_503_with_retry_after(loopstack_home: Any) -> None:
    store = Store(f"sqlite:///{loopstack_home / 'overload.db'}")
    store.project_id("default")
    app = create_app(Settings(), store, ui=False)
    app.state.writer.max_pending_rows = 1
    body = otlp_protobuf([{"name": "first"}])
    second = otlp_protobuf([{"name": "second"}])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        # Another writer holds the database: the first batch waits in the writer, the second is refused.
        with store.write() as conn:
            conn.exec_driver_sql("SELECT 1")
            first = asyncio.create_task(client.post("/v1/traces", content=body, headers=PROTOBUF))
            for _ in range(200):
                await asyncio.sleep(0.01)
                if app.state.writer.pending:
                    break
            refused = await client.post("/v1/traces", content=second, headers=PROTOBUF)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert "queue is full" in refused.json()["detail"]
        assert (await first).status_code == 200
    app.state.writer.close()
    assert [r["name"] for r in _rows(store)] == ["first"]
    store.close()


async def test_the_server_does_not_trace_itself_into_its_store(store: Store) -> None:
    import loopstack

    loopstack.init()  # an app tracing to the local store in the same process as the server
    app = create_app(Settings(), store, ui=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        body = otlp_protobuf([{"name": "only-this"}])
        assert (await client.post("/v1/traces", content=body, headers=PROTOBUF)).status_code == 200
        assert (await client.get("/api/traces")).status_code == 200
    assert loopstack.flush(10)
    loopstack.tracing.shutdown()
    app.state.writer.close()
    assert [r["name"] for r in _rows(store)] == ["only-this"]


async def test_json_ids_in_base64_are_accepted_too(client: httpx.AsyncClient, store: Store) -> None:
    # protobuf's generic JSON mapping (MessageToJson) writes bytes as base64, not the OTLP hex.
    span = _json_span("AQIDBAUGBwgJCgsMDQ4PEA==", "AQIDBAUGBwg=", name="b64")
    assert (await client.post("/v1/traces", content=_json_body(span), headers=JSON)).status_code == 200
    (row,) = _rows(store)
    assert (row["trace_id"], row["span_id"]) == ("0102030405060708090a0b0c0d0e0f10", "0102030405060708")
