"""The scripted provider (``mock/<name>``): a real provider whose answers a test or demo decides.

Script it with a queue of ``outputs`` (answered in order), a ``mapping`` from the last user message
to an answer, or a function of the request (sync or async). An exception instance in the script is
raised instead of answered, so error handling can be exercised. With no script it echoes the last
user message. It counts its calls and keeps the requests it saw.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from loopstack.models._errors import ProviderError
from loopstack.models._provider import Capabilities, Provider, ProviderOptions, register_provider
from loopstack.models._types import ModelRequest, ModelResponse, Usage

ScriptResult = str | ModelResponse | BaseException
MockFunction = Callable[[ModelRequest], ScriptResult | Awaitable[ScriptResult]]


class MockOptions(ProviderOptions):
    """How the mock answers."""

    outputs: list[Any] | None = None
    """Answers in call order (str, ModelResponse, or an exception to raise); an error once exhausted."""
    mapping: dict[str, Any] | None = None
    """Last user message -> answer; a message not in it gets ``default`` (or an error if unset)."""
    fn: MockFunction | None = None
    """Called with the request; returns the answer (str or ModelResponse), may be async."""
    default: str | None = None
    """Answer when ``mapping`` has no entry."""
    latency: float = Field(default=0.0, ge=0)
    """Seconds to wait before answering, to simulate a remote model."""
    max_retries: int = Field(default=0, ge=0)
    """Scripted failures are not retried unless asked for."""


def _count_tokens(text: str) -> int:
    return len(text.split())


@register_provider("mock")
class MockProvider(Provider):
    """Scripted answers, zero cost, call counting. See the module docstring."""

    Options = MockOptions
    capabilities = Capabilities(streaming=False, json_mode=True, seed=True, free=True)
    default_max_concurrency = 10_000

    def __init__(self, model: str, options: ProviderOptions | None = None) -> None:
        super().__init__(model, options)
        assert isinstance(self.options, MockOptions)
        self.opts: MockOptions = self.options
        self._queue: deque[Any] = deque(self.opts.outputs or [])
        self.calls = 0
        """Number of times :meth:`generate` was called (cache hits never reach the provider)."""
        self.requests: list[ModelRequest] = []

    async def generate(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        self.requests.append(request)
        if self.opts.latency:
            await asyncio.sleep(self.opts.latency)
        result = await self._script(request)
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, ModelResponse):
            return result
        text = str(result)
        finish = "stop"
        if request.max_tokens is not None and _count_tokens(text) > request.max_tokens:
            text = " ".join(text.split()[: request.max_tokens])
            finish = "length"
        usage = Usage(
            input_tokens=sum(_count_tokens(m.content) for m in request.messages),
            output_tokens=_count_tokens(text),
        )
        return ModelResponse(
            text=text, finish_reason=finish, usage=usage, id=f"mock-{self.calls}", response_model=self.model
        )

    async def _script(self, request: ModelRequest) -> Any:
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        if self.opts.fn is not None:
            result = self.opts.fn(request)
            return await result if inspect.isawaitable(result) else result
        if self.opts.mapping is not None:
            if last_user in self.opts.mapping:
                return self.opts.mapping[last_user]
            if self.opts.default is not None:
                return self.opts.default
            raise ProviderError(
                f"{self.model_string}: no scripted answer for {last_user[:80]!r}", provider="mock"
            )
        if self.opts.outputs is not None:
            if not self._queue:
                raise ProviderError(
                    f"{self.model_string}: scripted outputs exhausted after {len(self.opts.outputs)} calls",
                    provider="mock",
                )
            return self._queue.popleft()
        return self.opts.default if self.opts.default is not None else last_user
