"""Exporter that writes spans straight into the local store, through the server's span→row mapping."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from loopstack.store.spans import SpanCost, SpanRecord, write_spans

log = logging.getLogger("loopstack.tracing")


def _price_for(model: str, at: datetime | None) -> Any:
    from loopstack.models import price_for  # on first priced span: tracing starts without models

    return price_for(model, at)


#: Prices spans that carry usage but no cost, from the models layer's table (the server does the same).
span_cost = SpanCost(_price_for)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def record_from_span(span: ReadableSpan) -> SpanRecord:
    """The neutral record of a finished OTel SDK span (the same shape the OTLP decoder produces)."""
    ctx = span.context
    assert ctx is not None
    parent = span.parent
    events = [
        {
            "name": e.name,
            "time_unix_nano": e.timestamp,
            "attributes": {k: _plain(v) for k, v in (e.attributes or {}).items()},
        }
        for e in span.events
    ]
    attributes = {k: _plain(v) for k, v in (span.attributes or {}).items()}
    scope = span.instrumentation_scope
    if scope is not None and scope.name and "otel.scope.name" not in attributes:
        attributes["otel.scope.name"] = scope.name  # as the OTLP decoder records it
    return SpanRecord(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        kind=span.kind.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status_code=span.status.status_code.name,
        status_message=span.status.description,
        attributes=attributes,
        resource={k: _plain(v) for k, v in span.resource.attributes.items()},
        events=events or None,
    )


class LocalStoreExporter(SpanExporter):
    """Persists spans into ``project`` of the local store (the default store when none is given)."""

    def __init__(self, project: str, database_url: str | None = None) -> None:
        self.project = project
        self.database_url = database_url
        self._shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            from loopstack.store import get_store

            store = get_store(self.database_url)
            records = [record_from_span(s) for s in spans]
            write_spans(store, store.project_id(self.project), records, cost=span_cost)
        except Exception as exc:  # noqa: BLE001 - an export failure must never reach the app
            log.warning("loopstack: could not store %d spans locally: %s", len(spans), exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
