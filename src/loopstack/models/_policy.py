"""Request policies: callables applied to a request before it leaves for an external provider.

The models layer sits below ``loopstack.safety`` and does not import it; safety (or a user's code)
registers a policy here, and :class:`~loopstack.models.Model` runs every registered policy on each
request to an external provider. A provider is external unless it declares itself ``free`` (the
in-process ``local`` model and the scripted ``mock``): an ``openai-compatible`` server counts as
external even on localhost, since the models layer cannot see where its base URL leads.

A policy returns the request to send (masked, or unchanged) and span attributes recording what it
did; it refuses a request by raising :class:`RequestRefused`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from loopstack.models._errors import ProviderError
from loopstack.models._provider import Provider
from loopstack.models._types import ModelRequest

PolicyResult = tuple[ModelRequest, dict[str, Any]]
RequestPolicy = Callable[[ModelRequest, Provider], PolicyResult]
"""``(request, provider) -> (request to send, span attributes)``."""


class RequestRefused(ProviderError):
    """A request policy refused to send the request (it held data the policy keeps in-house)."""

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message, provider=provider, retryable=False)


_policies: dict[str, RequestPolicy] = {}
_lock = threading.Lock()


def register_request_policy(name: str, policy: RequestPolicy) -> None:
    """Apply ``policy`` to every request for an external provider (replaces one of the same name)."""
    with _lock:
        _policies[name] = policy


def unregister_request_policy(name: str) -> None:
    """Stop applying the policy registered as ``name`` (no error if there is none)."""
    with _lock:
        _policies.pop(name, None)


def request_policies() -> dict[str, RequestPolicy]:
    """The registered policies, by name."""
    with _lock:
        return dict(_policies)


def has_policies() -> bool:
    """Whether any policy is registered (the common case, none, costs one dict check per call)."""
    return bool(_policies)


def is_external(provider: Provider) -> bool:
    """True unless the provider declares itself free (in-process ``local``, scripted ``mock``)."""
    return not provider.capabilities.free


def apply_policies(request: ModelRequest, provider: Provider) -> PolicyResult:
    """``request`` after every registered policy, with the span attributes they recorded."""
    if not _policies or not is_external(provider):
        return request, {}
    attributes: dict[str, Any] = {}
    for policy in request_policies().values():
        request, attrs = policy(request, provider)
        attributes.update(attrs)
    return request, attributes
