"""Auto-instrumentation of the ``openai`` client's chat completions (sync, async, streaming).

Each call becomes a CLIENT span with GenAI attributes: model, parameters, usage, cost (from the models
layer's price table) and, when the messages came from ``Prompt.render``, the prompt name and version.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from opentelemetry.context import attach, detach
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace import set_span_in_context as _in_context

from loopstack import semconv as sc
from loopstack.tracing._observe import _fail
from loopstack.tracing._setup import ensure_init, state

log = logging.getLogger("loopstack.tracing")
_PATCHED = "__loopstack_traced__"
_PARAMS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
}


def _start(kwargs: dict[str, Any]) -> Span:
    if not state.initialized:
        ensure_init()
    model = str(kwargs.get("model", ""))
    span = state.tracer.start_span(f"chat {model}".strip(), kind=SpanKind.CLIENT)
    if not span.is_recording():
        return span
    try:
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION: "chat",
            sc.GEN_AI_PROVIDER: "openai",
            sc.GEN_AI_SYSTEM: "openai",
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.SPAN_TYPE: "generation",
        }
        for key, attr in _PARAMS.items():
            value = kwargs.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attrs[attr] = value
        messages = kwargs.get("messages")
        name = getattr(messages, "prompt_name", None)
        version = getattr(messages, "prompt_version", None)
        if name is not None:
            attrs[sc.PROMPT_NAME] = str(name)
        if isinstance(version, int):
            attrs[sc.PROMPT_VERSION] = version
        rollout_id = getattr(messages, "rollout_id", None)
        if rollout_id:
            attrs[sc.ROLLOUT_ID] = str(rollout_id)
            attrs[sc.ROLLOUT_ARM] = str(getattr(messages, "rollout_arm", ""))
        variables = getattr(messages, "prompt_variables", None)
        if variables:
            attrs[sc.PROMPT_VARIABLES] = state.capture.text(dict(variables), span.get_span_context().trace_id)
        if messages is not None:
            attrs[sc.INPUT] = state.capture.text(list(messages), span.get_span_context().trace_id)
        span.set_attributes(attrs)
    except Exception as exc:  # noqa: BLE001 - instrumentation never breaks the call
        log.debug("loopstack: could not record openai request: %s", exc)
    return span


def _usage_attrs(model: str | None, usage: Any, start_ns: int | None = None) -> dict[str, Any]:
    from loopstack.tracing._local import span_cost

    attrs: dict[str, Any] = {}
    if usage is None:
        return attrs
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
    reasoning = getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", None)
    for key, value in (
        (sc.GEN_AI_USAGE_INPUT_TOKENS, prompt),
        (sc.GEN_AI_USAGE_OUTPUT_TOKENS, completion),
        (sc.GEN_AI_USAGE_CACHE_READ_TOKENS, cached),
        (sc.GEN_AI_USAGE_REASONING_TOKENS, reasoning),
    ):
        if isinstance(value, int):
            attrs[key] = value
    usage_map = {
        "input_tokens": prompt,
        "output_tokens": completion,
        "cached_input_tokens": cached,
        "reasoning_tokens": reasoning,
    }
    cost = span_cost(model, "openai", usage_map, None)
    if cost is not None:
        attrs[sc.COST] = cost
    return attrs


def _record_response(span: Span, response: Any) -> None:
    if not span.is_recording():
        return
    try:
        model = getattr(response, "model", None)
        attrs: dict[str, Any] = {}
        if model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = model
        if getattr(response, "id", None):
            attrs[sc.GEN_AI_RESPONSE_ID] = response.id
        choices = getattr(response, "choices", None) or []
        reasons = [c.finish_reason for c in choices if getattr(c, "finish_reason", None)]
        if reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        if choices:
            message = getattr(choices[0], "message", None)
            content = getattr(message, "content", None)
            if content is None and message is not None and getattr(message, "tool_calls", None):
                content = [t.model_dump() for t in message.tool_calls]
            if content is not None:
                attrs[sc.OUTPUT] = state.capture.text(content, span.get_span_context().trace_id)
        attrs.update(_usage_attrs(model, getattr(response, "usage", None)))
        span.set_attributes(attrs)
    except Exception as exc:  # noqa: BLE001
        log.debug("loopstack: could not record openai response: %s", exc)


class _StreamRecorder:
    """Accumulates a streamed completion's text, model and usage, then ends the span once."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self.parts: list[str] = []
        self.model: str | None = None
        self.usage: Any = None
        self.reasons: list[str] = []
        self.ended = False

    def add(self, chunk: Any) -> None:
        try:
            self.model = getattr(chunk, "model", None) or self.model
            if getattr(chunk, "usage", None) is not None:
                self.usage = chunk.usage
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                text = getattr(delta, "content", None)
                if text and choice.index == 0:
                    self.parts.append(text)
                if getattr(choice, "finish_reason", None):
                    self.reasons.append(choice.finish_reason)
        except Exception as exc:  # noqa: BLE001
            log.debug("loopstack: could not record a stream chunk: %s", exc)

    def end(self, exc: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        if exc is not None:
            _fail(self.span, exc)
        if self.span.is_recording():
            try:
                attrs: dict[str, Any] = {
                    sc.OUTPUT: state.capture.text("".join(self.parts), self.span.get_span_context().trace_id)
                }
                if self.model:
                    attrs[sc.GEN_AI_RESPONSE_MODEL] = self.model
                if self.reasons:
                    attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = self.reasons
                attrs.update(_usage_attrs(self.model, self.usage))
                self.span.set_attributes(attrs)
            except Exception as err:  # noqa: BLE001
                log.debug("loopstack: could not record a stream: %s", err)
        self.span.end()


class _TracedStream:
    """Wraps ``openai.Stream``: iterate as usual; the span ends when the stream is exhausted or closed."""

    def __init__(self, stream: Any, recorder: _StreamRecorder) -> None:
        self._stream = stream
        self._recorder = recorder
        self._it: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._it is None:
            self._it = iter(self._stream)
        try:
            chunk = next(self._it)
        except StopIteration:
            self._recorder.end()
            raise
        except BaseException as exc:
            self._recorder.end(exc)
            raise
        self._recorder.add(chunk)
        return chunk

    def __enter__(self) -> _TracedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._recorder.end()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _TracedAsyncStream:
    """Wraps ``openai.AsyncStream`` like ``_TracedStream``."""

    def __init__(self, stream: Any, recorder: _StreamRecorder) -> None:
        self._stream = stream
        self._recorder = recorder
        self._it: AsyncIterator[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._it is None:
            self._it = self._stream.__aiter__()
        try:
            chunk = await self._it.__anext__()
        except StopAsyncIteration:
            self._recorder.end()
            raise
        except BaseException as exc:
            self._recorder.end(exc)
            raise
        self._recorder.add(chunk)
        return chunk

    async def __aenter__(self) -> _TracedAsyncStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._recorder.end()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _wrap_sync(create: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create)
    def traced_create(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _start(kwargs)
        token = attach(_in_context(span))
        try:
            result = create(self, *args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            span.end()
            raise
        finally:
            detach(token)
        if kwargs.get("stream") is True:
            return _TracedStream(result, _StreamRecorder(span))
        _record_response(span, result)
        span.end()
        return result

    setattr(traced_create, _PATCHED, True)
    return traced_create


def _wrap_async(create: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create)
    async def traced_create(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _start(kwargs)
        token = attach(_in_context(span))
        try:
            result = await create(self, *args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            span.end()
            raise
        finally:
            detach(token)
        if kwargs.get("stream") is True:
            return _TracedAsyncStream(result, _StreamRecorder(span))
        _record_response(span, result)
        span.end()
        return result

    setattr(traced_create, _PATCHED, True)
    return traced_create


def _patch(completions: Any, async_completions: Any) -> None:
    if not getattr(completions.create, _PATCHED, False):
        completions.create = _wrap_sync(completions.create)
    if not getattr(async_completions.create, _PATCHED, False):
        async_completions.create = _wrap_async(async_completions.create)


_TARGET = "openai.resources.chat.completions.completions"


class _ImportHook(importlib.abc.MetaPathFinder):
    """Patches the client when ``openai`` is first imported, so ``init`` need not import it (~1 s)."""

    def __init__(self) -> None:
        self.busy = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if fullname != _TARGET or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        finally:
            self.busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        loader: Any = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            try:
                _patch(module.Completions, module.AsyncCompletions)
            except AttributeError as exc:
                log.debug("loopstack: this openai version is not supported: %s", exc)

        loader.exec_module = exec_module
        return spec


_hook = _ImportHook()


def instrument_openai(*, quiet: bool = False) -> bool:
    """Trace every ``openai`` chat completion call from now on.

    If ``openai`` is not imported yet, the client is patched when it is (an import hook), so calling
    this costs nothing for apps that never use it. False if ``openai`` is not installed.
    """
    module = sys.modules.get(_TARGET)
    if module is None:
        if importlib.util.find_spec("openai") is None:
            if not quiet:
                log.warning("loopstack: openai is not installed; nothing to instrument")
            return False
        if _hook not in sys.meta_path:
            sys.meta_path.insert(0, _hook)
        return True
    _patch(module.Completions, module.AsyncCompletions)
    return True
