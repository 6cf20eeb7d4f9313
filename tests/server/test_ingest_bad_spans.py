"""Ingest stores what is storable and rejects only the offending span, on SQLite and PostgreSQL.

Each case puts one bad span (or resource) next to good spans in the same request, in the formats that
can carry it, and checks what a user of the stock exporter sees: a 200 (never a retryable 503), the
bad span counted in the OTLP partial success, and every good span stored.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from server_helpers import JSON, PROTOBUF, otlp_protobuf
from sqlalchemy import select

from loopstack.store import Store
from loopstack.store.tables import spans

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _names(store: Store) -> list[str]:
    with store.read() as conn:
        return sorted(r.name for r in conn.execute(select(spans.c.name)))


def _row(store: Store, name: str) -> dict[str, Any]:
    with store.read() as conn:
        return dict(conn.execute(select(spans).where(spans.c.name == name)).one()._mapping)


def _span(i: int, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": f"{i + 1:016x}",
        "name": name or f"good-{i:03d}",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": extra.pop("attributes", [{"key": "k", "value": {"stringValue": "v"}}]),
        **extra,
    }


def _body(*resource_spans: list[dict[str, Any]], resources: list[Any] | None = None) -> bytes:
    resources = resources or [[{"key": "service.name", "value": {"stringValue": "svc"}}]] * len(
        resource_spans
    )
    return json.dumps(  # the stdlib: orjson refuses to write the 300-deep value of one test
        {
            "resourceSpans": [
                {"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {"name": "t"}, "spans": group}]}
                for attrs, group in zip(resources, resource_spans, strict=True)
            ]
        }
    ).encode()


def _good(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [_span(offset + i) for i in range(n)]


def _partial(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 200, response.text
    if response.headers["content-type"] == PROTOBUF["content-type"]:
        partial = ExportTraceServiceResponse.FromString(response.content).partial_success
        return partial.rejected_spans, partial.error_message
    body = response.json()
    if not body:
        return 0, ""
    return int(body["partialSuccess"]["rejectedSpans"]), body["partialSuccess"]["errorMessage"]


async def test_nul_characters_are_stripped_and_all_100_spans_stored_protobuf(
    client: httpx.AsyncClient, store: Store
) -> None:
    specs: list[dict[str, Any]] = [{"name": f"good-{i:03d}", "attributes": {"k": "v"}} for i in range(99)]
    specs.append({"name": "nul\x00name", "attributes": {"note": "a\x00b", "key\x00x": ["c\x00"]}})
    response = await client.post("/v1/traces", content=otlp_protobuf(specs), headers=PROTOBUF)
    assert _partial(response) == (0, "")
    names = _names(store)
    assert len(names) == 100 and "nulname" in names
    row = _row(store, "nulname")
    assert row["attributes"]["note"] == "ab"
    assert row["attributes"]["keyx"] == ["c"]


async def test_nul_characters_are_stripped_json(client: httpx.AsyncClient, store: Store) -> None:
    bad = _span(99, "nul\x00json", attributes=[{"key": "q", "value": {"stringValue": "x\x00y"}}])
    bad["status"] = {"code": 2, "message": "boom\x00"}
    response = await client.post("/v1/traces", content=_body([*_good(99), bad]), headers=JSON)
    assert _partial(response) == (0, "")
    assert len(_names(store)) == 100
    row = _row(store, "nuljson")
    assert (row["attributes"]["q"], row["status_message"]) == ("xy", "boom")


async def test_token_counts_beyond_the_integer_column_are_kept_as_attributes(
    client: httpx.AsyncClient, store: Store
) -> None:
    huge = {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 2**31,
        "gen_ai.usage.output_tokens": 7,
    }
    specs: list[dict[str, Any]] = [{"name": f"good-{i:03d}"} for i in range(9)]
    specs.append({"name": "huge-tokens", "attributes": {**huge, "loopstack.prompt.version": 2**40}})
    response = await client.post("/v1/traces", content=otlp_protobuf(specs), headers=PROTOBUF)
    assert _partial(response) == (0, "")
    assert len(_names(store)) == 10
    row = _row(store, "huge-tokens")
    assert (row["input_tokens"], row["output_tokens"], row["prompt_version"]) == (None, 7, None)
    assert row["attributes"]["gen_ai.usage.input_tokens"] == 2**31  # the value the app sent, kept

    attrs = [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(2**40)}}]
    json_bad = _span(50, "huge-json", attributes=attrs)
    response = await client.post("/v1/traces", content=_body([*_good(3, 20), json_bad]), headers=JSON)
    assert _partial(response) == (0, "")
    assert _row(store, "huge-json")["attributes"]["gen_ai.usage.input_tokens"] == 2**40
    assert len(_names(store)) == 14


async def test_an_integer_beyond_int64_is_kept_as_its_digits(client: httpx.AsyncClient, store: Store) -> None:
    digits = "100000000000000000000000"
    attrs = [{"key": "big", "value": {"intValue": digits}}]
    resource = [
        [
            {"key": "service.name", "value": {"stringValue": "svc"}},
            {"key": "r.big", "value": {"intValue": digits}},
        ]
    ]
    body = _body([*_good(5), _span(9, "big-int", attributes=attrs)], resources=resource)
    response = await client.post("/v1/traces", content=body, headers=JSON)
    assert _partial(response) == (0, "")
    assert len(_names(store)) == 6
    row = _row(store, "big-int")
    assert (row["attributes"]["big"], row["resource"]["r.big"]) == (digits, digits)


async def test_a_non_string_status_message_rejects_only_that_span(
    client: httpx.AsyncClient, store: Store
) -> None:
    bad = _span(99, "bad-status", status={"code": 2, "message": ["x"]})
    response = await client.post("/v1/traces", content=_body([*_good(99), bad]), headers=JSON)
    rejected, message = _partial(response)
    assert rejected == 1
    assert "spans[99]: status.message must be a string" in message
    assert len(_names(store)) == 99 and "bad-status" not in _names(store)


async def test_a_malformed_resource_attribute_rejects_only_the_spans_under_it(
    client: httpx.AsyncClient, store: Store
) -> None:
    for n, value in enumerate([{"arrayValue": "x"}, {"kvlistValue": [1]}, {"intValue": "1.5e3"}]):
        bad_resource = [{"key": "weird", "value": value}]
        good_resource = [{"key": "service.name", "value": {"stringValue": "svc"}}]
        body = _body(_good(2, 100 * n + 50), _good(3, 100 * n), resources=[bad_resource, good_resource])
        response = await client.post("/v1/traces", content=body, headers=JSON)
        rejected, message = _partial(response)
        assert rejected == 2, value
        assert "resourceSpans[0].resource: attribute 'weird'" in message
    assert len(_names(store)) == 9


async def test_an_impossible_start_time_rejects_only_that_span(
    client: httpx.AsyncClient, store: Store
) -> None:
    bad = _span(99, "far-future", startTimeUnixNano="1" * 31)
    bad_end = _span(98, "bad-end", endTimeUnixNano="-5")
    response = await client.post("/v1/traces", content=_body([*_good(10), bad, bad_end]), headers=JSON)
    rejected, message = _partial(response)
    assert rejected == 2
    assert "startTimeUnixNano is out of range" in message and "endTimeUnixNano" in message
    assert len(_names(store)) == 10


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


async def test_a_too_deeply_nested_attribute_rejects_only_that_span(
    client: httpx.AsyncClient, store: Store
) -> None:
    bad = _span(99, "deep", attributes=[{"key": "deep", "value": _nested(300)}])
    ok = _span(98, "nested-ok", attributes=[{"key": "shallow", "value": _nested(5)}])
    response = await client.post("/v1/traces", content=_body([*_good(10), bad, ok]), headers=JSON)
    rejected, message = _partial(response)
    assert rejected == 1
    assert "attribute 'deep': attribute value nested deeper than 32 levels" in message
    assert len(_names(store)) == 11
    assert _row(store, "nested-ok")["attributes"]["shallow"] == [[[[["leaf"]]]]]


async def test_a_too_deeply_nested_protobuf_attribute_rejects_only_that_span(
    client: httpx.AsyncClient, store: Store
) -> None:
    request = ExportTraceServiceRequest.FromString(otlp_protobuf([{"name": "good"}, {"name": "deep"}]))
    span = request.resource_spans[0].scope_spans[0].spans[1]
    value = span.attributes.add(key="deep").value
    for _ in range(40):  # deeper than we keep, shallower than the protobuf parser's own limit
        value = value.array_value.values.add()
    value.string_value = "leaf"
    response = await client.post("/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    rejected, message = _partial(response)
    assert rejected == 1 and "nested deeper than 32" in message
    assert _names(store) == ["good"]


async def test_a_request_whose_every_span_is_rejected_is_a_400_not_a_retry(
    client: httpx.AsyncClient, store: Store
) -> None:
    bad = _span(1, "only", status={"message": {"a": 1}})
    response = await client.post("/v1/traces", content=_body([bad]), headers=JSON)
    assert response.status_code == 400
    assert "every span was rejected" in response.json()["detail"]
    assert "status.message must be a string" in response.json()["detail"]
    assert _names(store) == []


async def test_odd_json_shapes_are_a_4xx_or_a_rejected_span_never_a_5xx(
    client: httpx.AsyncClient, store: Store
) -> None:
    good = _span(0)
    cases: list[tuple[Any, int]] = [
        ({"resourceSpans": [{"scopeSpans": 5}]}, 400),
        ({"resourceSpans": [{"resource": [], "scopeSpans": [{"spans": [good]}]}]}, 400),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [{**good, "events": {"a": 1}}]}]}]}, 400),
        (
            {"resourceSpans": [{"scopeSpans": [{"spans": [{**good, "events": [{"timeUnixNano": "x"}]}]}]}]},
            400,
        ),
        ({"resourceSpans": [{"scopeSpans": [{"spans": [{**good, "attributes": {"k": "v"}}]}]}]}, 400),
        ({"resourceSpans": [{"scopeSpans": [{"scope": "x", "spans": [good]}]}]}, 200),
    ]
    for body, status in cases:
        response = await client.post("/v1/traces", content=json.dumps(body).encode(), headers=JSON)
        assert response.status_code == status, (body, response.text)
    assert _names(store) == ["good-000"]
