"""``Model``: one provider instance wrapped with cache, limits, retries, timeouts, cost and a span.

Providers only speak their wire format; everything a call needs around that is done here, once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace

from loopstack.models._cache import ResponseCache, cache_key
from loopstack.models._errors import ProviderError, RateLimited
from loopstack.models._limits import Limiter, limiter_for
from loopstack.models._policy import apply_policies, has_policies, is_external
from loopstack.models._pricing import cost_for
from loopstack.models._provider import Provider, TextCallback
from loopstack.models._tracing import end_span_error, end_span_ok, start_span
from loopstack.models._types import Message, ModelRequest, ModelResponse
from loopstack.store import Store

_MAX_BACKOFF = 30.0
_DEFAULT_MAX_TOKENS_ESTIMATE = 512

RequestLike = ModelRequest | str | Sequence[Message | dict[str, str]]


class Model:
    """A resolved model: ``await model.generate("Hi")`` or ``await model.generate(request, cache=True)``.

    Get one with :func:`loopstack.models.get_model`. ``provider`` is the underlying
    :class:`Provider` (e.g. a mock's call counter lives there).
    """

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._limiter: tuple[asyncio.AbstractEventLoop, Limiter] | None = None

    @property
    def name(self) -> str:
        """The model string, ``<provider>/<model>``."""
        return self.provider.model_string

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    async def generate(
        self,
        request: RequestLike,
        *,
        cache: bool = False,
        store: Store | None = None,
        on_text: TextCallback | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Answer ``request`` (a :class:`ModelRequest`, a string, or chat messages plus ``params``).

        ``cache=True`` replays a stored answer for the same provider, model, messages, parameters and
        epoch (from ``store``, default the configured one) and stores new answers. ``on_text`` receives
        the text as it is generated when the provider streams (a cached answer arrives in one chunk).
        """
        if not isinstance(request, ModelRequest):
            request = ModelRequest.of(request, **params)
        elif params:  # re-validated, so an override is checked like any parameter
            request = ModelRequest.checked({**request.model_dump(exclude_unset=True), **params})
        provider = self.provider
        asked: ModelRequest = request
        policy_attrs: dict[str, Any] = {}
        if has_policies() and is_external(provider):
            try:  # off the event loop: a policy may scan text (and build its analyzer on first use)
                asked, policy_attrs = await asyncio.to_thread(apply_policies, asked, provider)
            except BaseException as exc:
                span = start_span(provider.name, provider.model, asked)
                end_span_error(span, exc)
                raise
        span = start_span(provider.name, provider.model, asked)
        if policy_attrs and span.is_recording():
            span.set_attributes(policy_attrs)
        try:
            with trace.use_span(span, end_on_exit=False):
                response = await self._generate(asked, cache, store, on_text)
        except BaseException as exc:
            end_span_error(span, exc)
            raise
        end_span_ok(span, response)
        return response

    def is_cached(self, request: RequestLike, *, store: Store | None = None, **params: Any) -> bool:
        """Whether ``generate(request, cache=True)`` would replay a stored answer (no hit is counted)."""
        if not isinstance(request, ModelRequest):
            request = ModelRequest.of(request, **params)
        if store is None:
            from loopstack.store import get_store

            store = get_store()
        return ResponseCache(store).peek(cache_key(self.provider.name, self.provider.model, request))

    async def _generate(
        self, request: ModelRequest, cache: bool, store: Store | None, on_text: TextCallback | None
    ) -> ModelResponse:
        provider = self.provider
        responses: ResponseCache | None = None
        key = ""
        if cache:
            if store is None:
                from loopstack.store import get_store

                store = get_store()
            responses = ResponseCache(store)
            key = cache_key(provider.name, provider.model, request)
            hit = await asyncio.to_thread(responses.get, key)
            if hit is not None:
                if on_text is not None:
                    on_text(hit.text)
                return hit
        started = time.perf_counter()
        response = await self._call_with_retries(request, on_text)
        response.latency_ms = (time.perf_counter() - started) * 1000.0
        response.model = provider.model_string
        response.provider = provider.name
        response.cost = 0.0 if provider.capabilities.free else cost_for(provider.model_string, response.usage)
        if responses is not None:
            await asyncio.to_thread(responses.put, key, provider.model_string, request, response)
        return response

    async def _call_with_retries(self, request: ModelRequest, on_text: TextCallback | None) -> ModelResponse:
        provider = self.provider
        opts = provider.options
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter[0] is not loop:
            limiter = limiter_for(
                provider.limit_key,
                opts.max_concurrency or provider.default_max_concurrency,
                opts.requests_per_minute,
                opts.tokens_per_minute,
            )
            self._limiter = (loop, limiter)
        limiter = self._limiter[1]
        estimate = _estimate_tokens(request)
        streamed = False

        def relay(chunk: str) -> None:
            nonlocal streamed
            streamed = True
            if on_text is not None:
                on_text(chunk)

        attempt = 0
        while True:
            try:
                async with limiter.acquire(estimate):
                    try:
                        async with asyncio.timeout(opts.timeout):
                            if on_text is not None and provider.capabilities.streaming:
                                response = await provider.stream(request, relay)
                            else:
                                response = await provider.generate(request)
                                if on_text is not None:
                                    relay(response.text)
                    except TimeoutError:
                        raise ProviderError(
                            f"{provider.model_string}: no answer within {opts.timeout:g} s (timeout)",
                            provider=provider.name,
                            retryable=True,
                        ) from None
                limiter.settle(estimate, response.usage.total_tokens)
                return response
            except ProviderError as exc:
                if not exc.retryable or attempt >= opts.max_retries or streamed:
                    raise
                await asyncio.sleep(_backoff(attempt, opts.retry_initial_delay, exc))
                attempt += 1


def _backoff(attempt: int, initial: float, exc: ProviderError) -> float:
    """Seconds before retry ``attempt + 1``: the server's Retry-After if given, else jittered exponential."""
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return min(max(exc.retry_after, 0.0), _MAX_BACKOFF * 4) + random.uniform(0, 0.1 * initial)
    ceiling = min(_MAX_BACKOFF, initial * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


def _estimate_tokens(request: ModelRequest) -> int:
    chars = sum(len(m.content) for m in request.messages)
    return chars // 4 + (request.max_tokens or _DEFAULT_MAX_TOKENS_ESTIMATE)
