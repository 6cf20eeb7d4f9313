"""Real sockets: a real ``loopstack serve`` subprocess on 127.0.0.1, fed by stock OpenTelemetry clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from server_helpers import JSON, PROTOBUF, LiveServer, otlp_protobuf
from sqlalchemy import select

import loopstack
from loopstack.config import get_settings
from loopstack.store import get_store
from loopstack.store.keys import create_key
from loopstack.store.tables import spans


def test_stock_otlp_exporter_spans_come_back_through_the_rest_api(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    provider = TracerProvider(resource=Resource.create({"service.name": "stock-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = provider.get_tracer("stock")
    with (
        tracer.start_as_current_span("answer") as root,
        tracer.start_as_current_span("chat gpt-4o-mini") as llm,
    ):
        llm.set_attribute("gen_ai.system", "openai")
        llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        llm.set_attribute("gen_ai.usage.input_tokens", 2000)
        llm.set_attribute("gen_ai.usage.output_tokens", 1000)
        trace_id = format(root.get_span_context().trace_id, "032x")
    assert provider.force_flush(30_000)
    provider.shutdown()

    response = httpx.get(f"{server.url}/api/traces/{trace_id}", timeout=10)
    assert response.status_code == 200
    by_name = {s["name"]: s for s in response.json()["spans"]}
    chat = by_name["chat gpt-4o-mini"]
    assert (chat["model"], chat["provider"]) == ("gpt-4o-mini", "openai")
    assert (chat["input_tokens"], chat["output_tokens"]) == (2000, 1000)
    assert abs(chat["cost"] - (2000 * 0.15 + 1000 * 0.6) / 1e6) < 1e-12
    assert chat["parent_span_id"] == by_name["answer"]["span_id"]
    assert chat["service_name"] == "stock-app"
    listed = httpx.get(f"{server.url}/api/traces", params={"model": "gpt-4o-mini"}, timeout=10).json()
    assert [t["trace_id"] for t in listed["items"]] == [trace_id]


def test_json_and_rest_over_a_real_socket_and_bad_payloads_do_not_hurt(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "name": "json over http",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": "llm.model_name", "value": {"stringValue": "gpt-4o"}}],
    }
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/v1/traces", content=b"{oops", headers=JSON).status_code == 400
        assert client.post("/v1/traces", content=b"\x0a\xff\xff", headers=PROTOBUF).status_code == 400
        assert client.post("/v1/traces", content=body, headers=JSON).status_code == 200
        trace = client.get(f"/api/traces/{span['traceId']}").json()
        assert trace["spans"][0]["model"] == "gpt-4o"
        score = {"trace_id": span["traceId"], "name": "thumbs", "value": "up"}
        assert client.post("/api/scores", json=score).status_code == 201
        assert client.get("/api/scores").json()["items"][0]["value"] == 1.0
    server.stop()
    assert server.proc is not None and server.proc.stdout is not None
    banner = server.proc.stdout.read().decode()
    assert "no API keys configured: running OPEN for local use on 127.0.0.1" in banner


def test_our_sdk_sends_gzip_otlp_with_its_key_to_the_keys_project(
    live_server: Callable[..., LiveServer],
) -> None:
    key, _ = create_key(get_store(), "app", "shop")
    server = live_server()
    loopstack.init(endpoint=server.url, api_key=key)

    @loopstack.observe(name="handle")
    def handle(order: int) -> str:
        return f"order {order} shipped"

    with loopstack.context(user_id="u-7"):
        handle(42)
    assert loopstack.flush(30)
    loopstack.tracing.shutdown()
    headers = {"authorization": f"Bearer {key}"}
    (span,) = httpx.get(f"{server.url}/api/spans", headers=headers, timeout=10).json()["items"]
    assert (span["name"], span["input"], span["output"]) == ("handle", '{"order":42}', "order 42 shipped")
    assert span["user_id"] == "u-7"
    assert loopstack.dropped_spans() == 0


def test_feedback_from_the_sdk_reaches_a_keyed_server(
    live_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = create_key(get_store(), "app", "shop")
    server = live_server()
    monkeypatch.setenv("LOOPSTACK_ENDPOINT", server.url)
    monkeypatch.setenv("LOOPSTACK_API_KEY", key)
    get_settings.cache_clear()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    loopstack.feedback(trace_id, "accepted", True)
    assert loopstack.flush(30)
    listed = httpx.get(
        f"{server.url}/api/scores", headers={"authorization": f"Bearer {key}"}, timeout=10
    ).json()["items"]
    assert [(s["trace_id"], s["name"], s["data_type"]) for s in listed] == [(trace_id, "accepted", "boolean")]
    monkeypatch.setenv("LOOPSTACK_API_KEY", "lsk_wrong")
    get_settings.cache_clear()
    before = loopstack.tracing.dropped_feedback()
    loopstack.feedback(trace_id, "accepted", True)  # refused: logged and counted, never raised
    assert loopstack.flush(30)
    assert loopstack.tracing.dropped_feedback() == before + 1


def test_every_acknowledged_span_survives_sigkill(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        batch = 0
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                body = otlp_protobuf([{"name": f"w{worker}-b{batch}-{i}"} for i in range(50)])
                batch += 1
                try:
                    response = http.post(f"{server.url}/v1/traces", content=body, headers=PROTOBUF)
                except httpx.HTTPError:
                    return  # the server is gone: this batch was never acknowledged
                if response.status_code == 200:
                    request = ExportTraceServiceRequest.FromString(body)
                    ids = [
                        s.span_id.hex()
                        for rs in request.resource_spans
                        for ss in rs.scope_spans
                        for s in ss.spans
                    ]
                    with lock:
                        acked.extend(ids)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 1000:
                break
        time.sleep(0.02)
    server.kill()  # SIGKILL while the clients are still sending
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 1000

    restarted = live_server()  # same database: the server starts on what was committed
    assert httpx.get(f"{restarted.url}/health", timeout=10).status_code == 200
    with get_store().read() as conn:
        stored = {r.span_id for r in conn.execute(select(spans.c.span_id))}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged spans lost"


def test_stock_exporter_batch_with_a_nul_and_a_huge_count_is_stored_whole(
    live_server: Callable[..., LiveServer], database_url: str
) -> None:
    # On PostgreSQL this batch was a retryable 503: the exporter retried, then dropped all 100 spans.
    server = live_server()
    provider = TracerProvider(resource=Resource.create({"service.name": "stock-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = provider.get_tracer("stock")
    for i in range(98):
        with tracer.start_as_current_span(f"good-{i}"):
            pass
    with tracer.start_as_current_span("nul\x00name") as span:
        span.set_attribute("note", "a\x00b")
    with tracer.start_as_current_span("huge") as span:
        span.set_attribute("gen_ai.usage.input_tokens", 2**31)
    assert provider.force_flush(30_000)
    provider.shutdown()
    with get_store(database_url).read() as conn:
        rows = {
            r.name: r for r in conn.execute(select(spans.c.name, spans.c.input_tokens, spans.c.attributes))
        }
    assert len(rows) == 100
    assert rows["nulname"].attributes["note"] == "ab"
    assert rows["huge"].input_tokens is None
    assert rows["huge"].attributes["gen_ai.usage.input_tokens"] == 2**31
