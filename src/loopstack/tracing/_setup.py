"""``init``: one OpenTelemetry TracerProvider whose spans leave on a background thread, never blocking.

Spans go through a BatchSpanProcessor with a bounded queue: when it is full a span is dropped and
counted (``dropped_spans()``), the caller never waits; so is every span of an export that failed (the
server refused the key, answered 4xx, or stayed unreachable). With an endpoint they are sent as
OTLP/HTTP protobuf; without one they are written to the local store with the server's own span→row
mapping. At exit pending spans get ``trace_flush_timeout`` seconds, then the process leaves regardless.

``init(endpoint=…, api_key=…, project=…)`` sets those for the whole SDK (``config.get_settings``), so
``get_prompt`` and ``feedback`` talk to the same server as the spans.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from loopstack.tracing._capture import Capture
from loopstack.tracing._context import ContextSpanProcessor, set_defaults
from loopstack.tracing._rejected import RejectedSpans

log = logging.getLogger("loopstack.tracing")

TRACER_NAME = "loopstack"


#: Least seconds between two warnings about failed exports (the rest go to the debug log).
WARN_INTERVAL = 30.0


class _CountingExporter(SpanExporter):
    """Counts (and logs) the spans of every export that did not succeed; never raises.

    With a mask set, spans from other tracers get it on their text attributes first (_export_mask.py).
    """

    def __init__(self, inner: SpanExporter, rejected: RejectedSpans | None = None) -> None:
        self.inner = inner
        self.rejected = rejected
        self.failed = 0
        self._warned_at = float("-inf")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            mask = state.capture.mask
            if mask is not None:
                from loopstack.tracing._export_mask import masked_spans

                spans = masked_spans(spans, mask, TRACER_NAME)
            result = self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - an exporter bug must not kill the export thread
            log.debug("loopstack: span export raised: %s", exc)
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            with self._lock:
                self.failed += len(spans)
                now = time.monotonic()
                warn = now - self._warned_at >= WARN_INTERVAL
                if warn:
                    self._warned_at = now
            (log.warning if warn else log.debug)(
                "loopstack: %d spans not accepted by %s, dropped (%d so far; see dropped_spans())",
                len(spans),
                _describe(self.inner),
                self.failed,
            )
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _describe(exporter: SpanExporter) -> str:
    endpoint = getattr(exporter, "_endpoint", None)
    return f"the server at {endpoint}" if endpoint else "the local store"


class _BoundedBatchProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that drops (and counts) a span when its queue is full instead of the oldest.

    ``dropped`` also counts the spans of failed exports (``_CountingExporter``).
    """

    def __init__(
        self,
        exporter: SpanExporter,
        max_queue_size: int,
        max_export_batch_size: int,
        rejected: RejectedSpans | None = None,
    ) -> None:
        self.counting = _CountingExporter(exporter, rejected)
        super().__init__(
            self.counting,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay_millis=1000,
        )
        self.full_drops = 0
        self._max = max_queue_size
        self._lock = threading.Lock()
        inner = getattr(self, "_batch_processor", None)
        self._queue: Sequence[Any] | None = getattr(inner, "_queue", None)

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._queue
        if queue is not None and len(queue) >= self._max:
            with self._lock:
                self.full_drops += 1
            return
        super().on_end(span)

    @property
    def dropped(self) -> int:
        """Spans dropped at a full queue, in failed exports, and refused one by one by the server."""
        rejected = self.counting.rejected
        return self.full_drops + self.counting.failed + (rejected.count if rejected is not None else 0)


class _Switch(SpanProcessor):
    """Forwards to the processor of the latest ``init``, so calling ``init`` again reconfigures.

    When the app owns the TracerProvider, its sampler (not ours) decides what is recorded; ``keep``
    then applies our sample rate to what we export, by trace id, so whole traces are kept or dropped.
    """

    def __init__(self) -> None:
        self.target: _BoundedBatchProcessor | None = None
        self.keep: TraceIdRatioBased | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        target = self.target
        if target is None:
            return
        keep = self.keep
        if keep is not None and span.context is not None and not _kept(keep, span):
            return
        target.on_end(span)

    def shutdown(self) -> None:
        if self.target is not None:
            self.target.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.target.force_flush(timeout_millis) if self.target is not None else True


def _kept(ratio: TraceIdRatioBased, span: ReadableSpan) -> bool:
    assert span.context is not None
    decision = ratio.should_sample(None, span.context.trace_id, span.name).decision
    return decision is Decision.RECORD_AND_SAMPLE


class _SwitchSampler(Sampler):
    """Delegates to the sampler of the latest ``init`` (a provider's sampler cannot be replaced)."""

    def __init__(self) -> None:
        self.inner: Sampler = ParentBased(TraceIdRatioBased(1.0))

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"loopstack({self.inner.get_description()})"


class _State:
    """What ``init`` configured; read on the hot path of ``@observe``."""

    def __init__(self) -> None:
        self.initialized = False
        self.provider: TracerProvider | None = None
        self.tracer: trace.Tracer = trace.get_tracer(TRACER_NAME)
        self.switch = _Switch()
        self.sampler = _SwitchSampler()
        self.capture = Capture()
        self.flush_timeout = 2.0
        self.lock = threading.RLock()
        self.atexit_registered = False


state = _State()


def _exporter(
    endpoint: str | None, api_key: str | None, project: str, timeout: float, rejected: RejectedSpans
) -> SpanExporter:
    if not endpoint:
        from loopstack.config import get_settings
        from loopstack.tracing._local import LocalStoreExporter

        # Bound now: a span exported later (at exit, after the environment changed) still lands in
        # the store that was configured when tracing started, never in a default one.
        return LocalStoreExporter(project, get_settings().resolved_database_url)
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return OTLPSpanExporter(
        endpoint=endpoint.rstrip("/") + "/v1/traces",
        headers=headers,
        timeout=timeout,
        compression=Compression.Gzip,
        session=rejected.session(),
    )


def _provider(service_name: str | None) -> TracerProvider:
    """Our processors on the global SDK provider if the app has one, else a new global provider."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        attrs = {"service.name": service_name} if service_name else {}
        provider = TracerProvider(
            resource=Resource.create(attrs), sampler=state.sampler, shutdown_on_exit=False
        )
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:  # someone set one between our check and here
            provider = trace.get_tracer_provider()  # type: ignore[assignment]
    provider.add_span_processor(ContextSpanProcessor())
    provider.add_span_processor(state.switch)
    return provider


def init(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    service_name: str | None = None,
    sample_rate: float | None = None,
    capture_limit: int | None = None,
    mask: Callable[[Any], Any] | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    tags: Sequence[str] | None = None,
    flush_timeout: float | None = None,
    max_queue_size: int = 4096,
    max_export_batch_size: int = 256,
    instrument_openai: bool = True,
) -> None:
    """Start tracing. Unset arguments come from settings (``LOOPSTACK_ENDPOINT``, ``LOOPSTACK_API_KEY``,
    ``LOOPSTACK_PROJECT``, ``LOOPSTACK_TRACE_*``). With no endpoint, spans go to the local store.

    ``endpoint``, ``api_key`` and ``project`` configure the whole SDK: ``get_prompt`` and ``feedback``
    use them too (``endpoint=""`` forces the local store).

    Calling it again reconfigures: pending spans of the previous configuration are flushed first.
    ``service_name`` (or ``OTEL_SERVICE_NAME``) applies when the first call creates the provider.
    """
    from loopstack.config import get_settings

    settings = get_settings.configure(endpoint=endpoint, api_key=api_key, project=project or None)
    endpoint, api_key, project = settings.endpoint, settings.api_key, settings.project
    rate = settings.trace_sample_rate if sample_rate is None else sample_rate
    with state.lock:
        state.flush_timeout = settings.trace_flush_timeout if flush_timeout is None else flush_timeout
        state.capture = Capture(
            settings.trace_capture_limit if capture_limit is None else capture_limit, mask
        )
        set_defaults(session_id, user_id, tags)
        ratio = TraceIdRatioBased(max(0.0, min(1.0, rate)))
        state.sampler.inner = ParentBased(ratio)
        if state.provider is None:
            state.provider = _provider(service_name)
            state.tracer = state.provider.get_tracer(TRACER_NAME)
        app_owned = state.provider.sampler is not state.sampler
        state.switch.keep = ratio if app_owned and ratio.rate < 1.0 else None
        previous = state.switch.target
        rejected = RejectedSpans()
        state.switch.target = _BoundedBatchProcessor(
            _exporter(
                endpoint, api_key, project, timeout=max(state.flush_timeout, 1.0) * 2, rejected=rejected
            ),
            max_queue_size,
            min(max_export_batch_size, max_queue_size),
            rejected,
        )
        if previous is not None:
            _bounded(previous.shutdown, state.flush_timeout)
        state.initialized = True
        if not state.atexit_registered:
            atexit.register(_at_exit)
            state.atexit_registered = True
    if instrument_openai:
        from loopstack.tracing._openai import instrument_openai as _instrument

        _instrument(quiet=True)


def ensure_init() -> None:
    """Initialise from settings on first use, so a decorated function traces with no set-up."""
    if not state.initialized:
        with state.lock:
            if not state.initialized:
                try:
                    init()
                except Exception as exc:  # noqa: BLE001 - a tracing set-up problem must not fail the app
                    log.warning("loopstack: tracing is off: %s", exc)
                    state.initialized = True


def _bounded(fn: Callable[[], Any], timeout: float) -> bool:
    """Run ``fn`` on a daemon thread and wait at most ``timeout`` seconds; True if it finished."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - flushing is best effort
            log.debug("loopstack: flush failed: %s", exc)
        finally:
            done.set()

    threading.Thread(target=run, name="loopstack-flush", daemon=True).start()
    return done.wait(timeout)


def flush(timeout: float | None = None) -> bool:
    """Send every pending span now; waits at most ``timeout`` seconds (default: the flush timeout).

    Returns True when everything was handed to the exporter in time.
    """
    from loopstack.tracing._feedback import sender

    limit = state.flush_timeout if timeout is None else timeout
    deadline = time.monotonic() + limit
    target = state.switch.target
    spans_done = target is None or _bounded(target.force_flush, limit)
    return sender.flush(max(0.0, deadline - time.monotonic())) and spans_done


def shutdown(timeout: float | None = None) -> bool:
    """Flush and stop exporting (spans ended later are dropped until ``init`` is called again).

    Bounded like ``flush``. Decorated calls after it do not re-initialise tracing on their own.
    """
    from loopstack.tracing._feedback import sender

    with state.lock:
        target = state.switch.target
        state.switch.target = None
    limit = state.flush_timeout if timeout is None else timeout
    deadline = time.monotonic() + limit
    spans_done = target is None or _bounded(target.shutdown, limit)
    return sender.flush(max(0.0, deadline - time.monotonic())) and spans_done


def dropped_spans() -> int:
    """Spans lost since the last ``init``: dropped at a full export queue, or in an export that failed
    (server unreachable, key refused, request rejected, local store not writable), or refused one by
    one by the server (OTLP partial success)."""
    target = state.switch.target
    return target.dropped if target is not None else 0


def _at_exit() -> None:
    shutdown()
