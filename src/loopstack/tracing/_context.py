"""Session, user and tags set once and stamped onto every span started inside (ours or any library's)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import get_current_span

from loopstack import semconv as sc

#: Attributes from ``init(session_id=…)``: the base every ``context()`` block extends.
_defaults: dict[str, Any] = {}
_current: ContextVar[dict[str, Any] | None] = ContextVar("loopstack_trace_context", default=None)


def set_defaults(session_id: str | None, user_id: str | None, tags: Sequence[str] | None) -> None:
    """Process-wide session, user and tags (from ``init``)."""
    _defaults.clear()
    _defaults.update(_attrs({}, session_id, user_id, tags, None))


def current_attributes() -> dict[str, Any]:
    """The context attributes in force here."""
    found = _current.get()
    return _defaults if found is None else found


def _attrs(
    base: dict[str, Any],
    session_id: str | None,
    user_id: str | None,
    tags: Sequence[str] | None,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    out = dict(base)
    if session_id is not None:
        out[sc.SESSION_ID] = str(session_id)
    if user_id is not None:
        out[sc.USER_ID] = str(user_id)
    if tags:
        merged = list(out.get(sc.TAGS, ()))
        merged.extend(str(t) for t in tags if str(t) not in merged)
        out[sc.TAGS] = tuple(merged)
    if metadata:
        for key, value in metadata.items():
            out[f"loopstack.metadata.{key}"] = (
                value if isinstance(value, str | int | float | bool) else str(value)
            )
    return out


@contextmanager
def context(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Iterator[None]:
    """Within the block, every span carries this session, user, tags (added to outer ones) and metadata."""
    token = _current.set(_attrs(current_attributes(), session_id, user_id, tags, metadata))
    try:
        yield
    finally:
        _current.reset(token)


class ContextSpanProcessor(SpanProcessor):
    """Stamps the context attributes onto each span as it starts; costs one lookup when there are none.

    A span started inside an eval run's span inherits its run id, so the model calls (and any library's
    spans) of an eval item are stored as eval traffic too, not as production requests.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        found = _current.get()
        attrs = _defaults if found is None else found
        if attrs:
            span.set_attributes(attrs)
        parent_attrs = getattr(get_current_span(parent_context), "attributes", None)
        if parent_attrs:
            run_id = parent_attrs.get(sc.RUN_ID)
            if run_id is None and parent_attrs.get(sc.SPAN_TYPE) == "eval":
                run_id = ""
            if run_id is not None and sc.RUN_ID not in (span.attributes or {}):
                span.set_attribute(sc.RUN_ID, run_id)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
