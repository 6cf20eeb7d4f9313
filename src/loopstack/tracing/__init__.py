"""Tracing SDK: ``@observe``, ``span()``, ``context()``, ``init()`` on top of OpenTelemetry.

Spans leave on a background thread (bounded queue, never blocking the app) to a Loopstack server over
OTLP/HTTP, or straight into the local store when no endpoint is configured.
"""

from loopstack.tracing._capture import Capture
from loopstack.tracing._context import context
from loopstack.tracing._feedback import dropped_feedback, feedback
from loopstack.tracing._observe import SpanHandle, current_span_id, current_trace_id, observe, span
from loopstack.tracing._openai import instrument_openai
from loopstack.tracing._setup import dropped_spans, ensure_init, flush, init, shutdown

__all__ = [
    "Capture",
    "SpanHandle",
    "context",
    "current_span_id",
    "current_trace_id",
    "dropped_feedback",
    "dropped_spans",
    "ensure_init",
    "feedback",
    "flush",
    "init",
    "instrument_openai",
    "observe",
    "shutdown",
    "span",
]
