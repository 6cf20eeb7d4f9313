"""Tracing SDK: ``@observe``, ``span()``, ``context()``, ``init()`` on top of OpenTelemetry.

Spans leave on a background thread (bounded queue, never blocking the app) to a Loopstack server over
OTLP/HTTP, or straight into the local store when no endpoint is configured. Each name loads its module
on first use, so an app that only sends ``feedback`` never loads OpenTelemetry's SDK.
"""

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names

if TYPE_CHECKING:
    from loopstack.tracing._capture import Capture
    from loopstack.tracing._context import context
    from loopstack.tracing._feedback import dropped_feedback, feedback
    from loopstack.tracing._observe import SpanHandle, current_span_id, current_trace_id, observe, span
    from loopstack.tracing._openai import instrument_openai
    from loopstack.tracing._setup import dropped_spans, ensure_init, flush, init, shutdown

_LAZY = {
    "Capture": "loopstack.tracing._capture",
    "context": "loopstack.tracing._context",
    "dropped_feedback": "loopstack.tracing._feedback",
    "feedback": "loopstack.tracing._feedback",
    "SpanHandle": "loopstack.tracing._observe",
    "current_span_id": "loopstack.tracing._observe",
    "current_trace_id": "loopstack.tracing._observe",
    "observe": "loopstack.tracing._observe",
    "span": "loopstack.tracing._observe",
    "instrument_openai": "loopstack.tracing._openai",
    "dropped_spans": "loopstack.tracing._setup",
    "ensure_init": "loopstack.tracing._setup",
    "flush": "loopstack.tracing._setup",
    "init": "loopstack.tracing._setup",
    "shutdown": "loopstack.tracing._setup",
}


__getattr__ = lazy_names(__name__, _LAZY)

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
