"""The SDK's local exporter and the server's OTLP ingest store a span as the very same row."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from loopstack.server import _ingest
from loopstack.server._otlp import decode_protobuf
from loopstack.store.spans import span_row
from loopstack.tracing._local import record_from_span, span_cost


def test_local_export_and_otlp_ingest_map_a_span_identically() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "same"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("outer"), tracer.start_as_current_span("chat") as span:
        span.set_attributes(
            {
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 5,
                "loopstack.input": "hi",
                "loopstack.tags": ["a", "b"],
                "custom.values": [1.5, 2.5],
            }
        )
        span.add_event("retry", {"attempt": 2})
        span.set_status(Status(StatusCode.ERROR, "boom"))
    finished = exporter.get_finished_spans()
    # Each path prices usage with the cost function its caller passes in (the store imports no prices).
    local = [span_row(record_from_span(s), "p", cost=span_cost) for s in finished]
    decoded = decode_protobuf(encode_spans(finished).SerializeToString())
    ingested = [span_row(r, "p", cost=_ingest._COST) for r in decoded.records]
    for row in local + ingested:
        row.pop("id")
        row.pop("ingested_at")
    assert local == ingested
    chat = next(r for r in local if r["name"] == "chat")
    assert (chat["model"], chat["tags"], chat["status_code"]) == ("gpt-4o-mini", ["a", "b"], "ERROR")
    assert abs(chat["cost"] - (10 * 0.15 + 5 * 0.6) / 1e6) < 1e-12
