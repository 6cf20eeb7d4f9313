"""``@observe`` and ``span()``: our spans around functions and blocks, with captured input and output.

The hot path is lean on purpose: the span is started directly (no contextlib), arguments are bound
with precomputed names, and values are only encoded when the span records (sampling) and only up to the
capture limit.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from opentelemetry.context import attach, detach
from opentelemetry.trace import Span, Status, StatusCode, format_span_id, format_trace_id, get_current_span
from opentelemetry.trace import set_span_in_context as _in_context

from loopstack import semconv as sc
from loopstack.tracing._setup import ensure_init, state

log = logging.getLogger("loopstack.tracing")
F = TypeVar("F", bound=Callable[..., Any])
_MAX_COLLECTED = 1000  # items of a generator kept for its output


def _fail(span: Span, exc: BaseException) -> None:
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1000]))


def _binder(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """A fast ``(args, kwargs) -> {name: value}`` for ``fn`` that leaves out ``self``/``cls``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return lambda args, kwargs: {"args": list(args), **kwargs}
    positional = [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    var = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    skip = positional[0] if positional and positional[0] in ("self", "cls") else None
    n = len(positional)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = dict(zip(positional, args, strict=False))
        if var is not None and len(args) > n:
            bound[var] = list(args[n:])
        if kwargs:
            bound.update(kwargs)
        if skip is not None:
            bound.pop(skip, None)
        return bound

    return bind


def _trace_of(span: Span) -> int:
    """The span's trace id when a mask may want it (placeholders numbered per trace), else 0."""
    return span.get_span_context().trace_id if state.capture.mask is not None else 0


def _start(name: str, as_type: str, input_value: Callable[[], Any] | None) -> Span:
    if not state.initialized:
        ensure_init()
    span = state.tracer.start_span(name)
    if span.is_recording():
        try:
            if as_type != "span":
                span.set_attribute(sc.SPAN_TYPE, as_type)
            if input_value is not None:
                span.set_attribute(sc.INPUT, state.capture.text(input_value(), _trace_of(span)))
        except Exception as exc:  # noqa: BLE001 - tracing never breaks the traced call
            log.debug("loopstack: could not record the input of %s: %s", name, exc)
    return span


def _finish_output(span: Span, value: Any) -> None:
    if span.is_recording():
        try:
            span.set_attribute(sc.OUTPUT, state.capture.text(value, _trace_of(span)))
        except Exception as exc:  # noqa: BLE001
            log.debug("loopstack: could not record an output: %s", exc)


def _collected(items: list[Any]) -> Any:
    if items and all(isinstance(i, str) for i in items):
        return "".join(items)
    return items


@overload
def observe(fn: F) -> F: ...
@overload
def observe(
    fn: None = None,
    *,
    name: str | None = None,
    as_type: str = "span",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Callable[[F], F]: ...
def observe(
    fn: F | None = None,
    *,
    name: str | None = None,
    as_type: str = "span",
    capture_input: bool = True,
    capture_output: bool = True,
) -> F | Callable[[F], F]:
    """Trace each call of a function (sync, async, generator or async generator) as a span.

    Arguments become the span's input and the return value (or the yielded items) its output, both cut
    at the capture limit and passed through the masking hook. Exceptions mark the span as an error and
    propagate unchanged; tracing problems never reach the caller.
    """

    def decorate(func: F) -> F:
        span_name = str(name or getattr(func, "__qualname__", None) or getattr(func, "__name__", "call"))
        bind = _binder(func)

        if inspect.isasyncgenfunction(func):
            return _wrap_async_gen(func, span_name, as_type, bind, capture_input, capture_output)  # type: ignore[return-value]
        if inspect.isgeneratorfunction(func):
            return _wrap_gen(func, span_name, as_type, bind, capture_input, capture_output)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                span = _start(span_name, as_type, (lambda: bind(args, kwargs)) if capture_input else None)
                token = attach(_in_context(span))
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    _fail(span, exc)
                    raise
                else:
                    if capture_output:
                        _finish_output(span, result)
                    return result
                finally:
                    detach(token)
                    span.end()

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            span = _start(span_name, as_type, (lambda: bind(args, kwargs)) if capture_input else None)
            token = attach(_in_context(span))
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                _fail(span, exc)
                raise
            else:
                if capture_output:
                    _finish_output(span, result)
                return result
            finally:
                detach(token)
                span.end()

        return wrapper  # type: ignore[return-value]

    if fn is not None:
        return decorate(fn)
    return decorate


def _wrap_gen(
    func: Callable[..., Iterator[Any]],
    span_name: str,
    as_type: str,
    bind: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]],
    capture_input: bool,
    capture_output: bool,
) -> Callable[..., Iterator[Any]]:
    @functools.wraps(func)
    def gen_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        span = _start(span_name, as_type, (lambda: bind(args, kwargs)) if capture_input else None)
        ctx = _in_context(span)
        items: list[Any] = []
        token = attach(ctx)
        try:
            gen: Any = func(*args, **kwargs)
        finally:
            detach(token)
        sent: Any = None
        try:
            while True:
                token = attach(ctx)  # current only while the generator body runs
                try:
                    item = gen.send(sent)
                except StopIteration:
                    break
                finally:
                    detach(token)
                if capture_output and len(items) < _MAX_COLLECTED:
                    items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    gen.close()
                    raise
        except GeneratorExit:
            raise
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            if capture_output:
                _finish_output(span, _collected(items))
            span.end()

    return gen_wrapper


def _wrap_async_gen(
    func: Callable[..., AsyncIterator[Any]],
    span_name: str,
    as_type: str,
    bind: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]],
    capture_input: bool,
    capture_output: bool,
) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(func)
    async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        span = _start(span_name, as_type, (lambda: bind(args, kwargs)) if capture_input else None)
        ctx = _in_context(span)
        items: list[Any] = []
        agen: Any = func(*args, **kwargs)
        sent: Any = None
        try:
            while True:
                token = attach(ctx)
                try:
                    item = await agen.asend(sent)
                except StopAsyncIteration:
                    break
                finally:
                    detach(token)
                if capture_output and len(items) < _MAX_COLLECTED:
                    items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    await agen.aclose()
                    raise
        except GeneratorExit:
            raise
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            if capture_output:
                _finish_output(span, _collected(items))
            span.end()

    return agen_wrapper


class SpanHandle:
    """The span of a ``with loopstack.span(...)`` block: set its output and attributes, read its ids."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def set_input(self, value: Any) -> None:
        """Record ``value`` as the span's input (bounded, masked)."""
        if self._span.is_recording():
            try:
                self._span.set_attribute(sc.INPUT, state.capture.text(value, _trace_of(self._span)))
            except Exception as exc:  # noqa: BLE001
                log.debug("loopstack: could not record an input: %s", exc)

    def set_output(self, value: Any) -> None:
        """Record ``value`` as the span's output (bounded, masked)."""
        _finish_output(self._span, value)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (a string, number, bool or a list of them)."""
        self._span.set_attribute(key, value)

    @property
    def trace_id(self) -> str:
        """The trace id as 32 hex characters (what ``POST /api/scores`` takes)."""
        return format_trace_id(self._span.get_span_context().trace_id)

    @property
    def span_id(self) -> str:
        """The span id as 16 hex characters."""
        return format_span_id(self._span.get_span_context().span_id)


@contextmanager
def span(name: str, *, input: Any = None, as_type: str = "span") -> Iterator[SpanHandle]:  # noqa: A002
    """A span around a block; spans started inside (``@observe``, model calls) become its children."""
    otel_span = _start(name, as_type, (lambda: input) if input is not None else None)
    token = attach(_in_context(otel_span))
    try:
        yield SpanHandle(otel_span)
    except BaseException as exc:
        _fail(otel_span, exc)
        raise
    finally:
        detach(token)
        otel_span.end()


def current_trace_id() -> str | None:
    """The id of the trace being recorded here (32 hex characters), or None outside any span."""
    ctx = get_current_span().get_span_context()
    return format_trace_id(ctx.trace_id) if ctx.is_valid else None


def current_span_id() -> str | None:
    """The id of the current span (16 hex characters), or None outside any span."""
    ctx = get_current_span().get_span_context()
    return format_span_id(ctx.span_id) if ctx.is_valid else None
