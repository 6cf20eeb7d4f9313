"""Typed errors of model calls: each says which provider failed and what to do about it."""

from __future__ import annotations

from loopstack.errors import LoopstackError


class ProviderError(LoopstackError):
    """A provider failed to answer (server error, connection error, timeout, malformed reply).

    ``retryable`` tells the retry loop whether trying again may help.
    """

    def __init__(
        self, message: str, *, provider: str = "", status: int | None = None, retryable: bool = False
    ):
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retryable = retryable


class RateLimited(ProviderError):
    """The provider (or our own limiter) refused the call for now; ``retry_after`` seconds, if known."""

    def __init__(self, message: str, *, provider: str = "", retry_after: float | None = None):
        super().__init__(message, provider=provider, status=429, retryable=True)
        self.retry_after = retry_after


class BadRequest(ProviderError):
    """The provider rejected the request itself (invalid parameter, unknown model); retrying won't help."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = 400):
        super().__init__(message, provider=provider, status=status, retryable=False)


class ContextTooLong(BadRequest):
    """The messages plus ``max_tokens`` exceed the model's context window."""


class AuthenticationError(BadRequest):
    """The API key is missing or was refused; the message names the environment variable to set."""


class UnknownModel(LoopstackError):
    """A model string names no registered provider, or is malformed."""


class MissingExtra(LoopstackError):
    """A provider needs an optional dependency that is not installed; the message names the pip command."""
