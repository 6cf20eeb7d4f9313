"""The provider contract: one async ``generate`` method, declared capabilities, a typed options model.

Built-in providers are registered with the same :func:`register_provider` decorator a user's own
provider uses, so ``mock/…``, ``openai/…`` and ``myco/…`` resolve through one registry.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from loopstack.models._types import ModelRequest, ModelResponse

TextCallback = Callable[[str], None]
"""Receives each chunk of text as a streaming provider produces it."""


class ProviderOptions(BaseModel):
    """Options every provider accepts; a provider subclasses this to add its own (extra keys rejected).

    The reliability settings apply per provider instance: a call waits for a free slot under
    ``max_concurrency`` and the per-minute budgets, then is retried up to ``max_retries`` times on
    rate limits, server errors, connection errors and timeouts.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    timeout: float = Field(default=120.0, gt=0)
    """Seconds one attempt may take before it counts as a (retryable) timeout."""
    max_retries: int = Field(default=4, ge=0)
    """Retries after the first attempt for retryable failures."""
    retry_initial_delay: float = Field(default=0.5, ge=0)
    """First backoff delay in seconds; doubles each retry (with jitter), capped at 30 s."""
    max_concurrency: int | None = Field(default=None, gt=0)
    """Calls in flight at once; None = the provider's default."""
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    """Budget of input + max output tokens per minute (estimated before the call)."""


class Capabilities(BaseModel):
    """What a provider can do beyond plain generation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    streaming: bool = False
    """Implements :meth:`Provider.stream` natively (others fall back to one chunk)."""
    json_mode: bool = False
    """Honours ``response_format="json"`` natively."""
    seed: bool = False
    """Honours ``seed`` for repeatable sampling."""
    free: bool = False
    """Runs without per-token charges (local and mock models report cost 0)."""


class Provider(abc.ABC):
    """A way to reach models: subclass, implement :meth:`generate`, and decorate with ``@register_provider``.

    ``model`` is the part of the model string after ``<provider>/``; ``options`` is an instance of the
    class attribute ``Options``. Providers only speak their wire format; caching, retries, limits,
    cost and tracing are done once for all of them by :class:`loopstack.models.Model`.
    """

    name: ClassVar[str] = ""
    """Registered name, the prefix of model strings (set by :func:`register_provider`)."""
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    capabilities: ClassVar[Capabilities] = Capabilities()
    default_max_concurrency: ClassVar[int] = 64

    def __init__(self, model: str, options: ProviderOptions | None = None) -> None:
        self.model = model
        self.options = options if options is not None else self.Options()

    @property
    def model_string(self) -> str:
        """``<provider>/<model>``."""
        return f"{self.name}/{self.model}"

    @property
    def limit_key(self) -> str:
        """Instances sharing this key share concurrency and rate limits (default: one per instance)."""
        return f"{self.name}:{id(self)}"

    def missing_credentials(self) -> str | None:
        """Why a call would fail before it is sent (no API key), or None; checked before a playground run."""
        return None

    @abc.abstractmethod
    async def generate(self, request: ModelRequest) -> ModelResponse:
        """Answer ``request``. Raise :class:`ProviderError` subclasses for failures."""

    async def stream(self, request: ModelRequest, on_text: TextCallback) -> ModelResponse:
        """Answer ``request`` calling ``on_text`` with each chunk; the default sends the whole text once."""
        response = await self.generate(request)
        on_text(response.text)
        return response

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources held by this instance (connections, models)."""


P = TypeVar("P", bound=type[Provider])

_registry: dict[str, type[Provider]] = {}


def register_provider(name: str) -> Callable[[P], P]:
    """Class decorator: make ``name/<model>`` model strings resolve to this provider class."""
    if not name or "/" in name:
        raise ValueError(f"provider name must be non-empty and contain no '/': {name!r}")

    def decorate(cls: P) -> P:
        cls.name = name
        _registry[name] = cls
        return cls

    return decorate


def registered_providers() -> dict[str, type[Provider]]:
    """Every provider registered so far, by name (built-ins appear once their module is imported)."""
    return dict(_registry)


def _lookup(name: str) -> type[Provider] | None:
    return _registry.get(name)


def _describe_options(cls: type[Provider]) -> dict[str, Any]:
    """Option name -> default, for listings."""
    return {k: f.default for k, f in cls.Options.model_fields.items()}
