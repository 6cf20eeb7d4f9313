"""One pooled aiohttp client per event loop, shared by every HTTP provider, and HTTP error mapping.

The official SDKs cost about 2 ms of CPU per request, which caps a high-concurrency eval on a small
machine, so the HTTP providers speak the wire format themselves: orjson bodies over one keep-alive
pool. The session is closed when its event loop shuts down (``asyncio.run`` finalises the async
generator that owns it), so no "unclosed session" warnings leak from scripts or tests.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from loopstack.models._errors import (
    AuthenticationError,
    BadRequest,
    ContextTooLong,
    ProviderError,
    RateLimited,
)

_sessions: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[AsyncGenerator[aiohttp.ClientSession, None], aiohttp.ClientSession]
] = weakref.WeakKeyDictionary()

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "prompt is too long",
    "too many tokens",
)


async def _own_session() -> AsyncGenerator[aiohttp.ClientSession, None]:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        skip_auto_headers=("User-Agent",),
        headers={"User-Agent": "loopstack"},
    )
    try:
        yield session
    finally:
        await session.close()


async def session() -> aiohttp.ClientSession:
    """The shared client session of the running event loop."""
    loop = asyncio.get_running_loop()
    held = _sessions.get(loop)
    if held is not None and not held[1].closed:
        return held[1]
    owner = _own_session()
    created = await owner.__anext__()
    _sessions[loop] = (owner, created)
    return created


def dumps(body: Mapping[str, Any]) -> bytes:
    """JSON request body."""
    return orjson.dumps(body)


def loads(data: bytes, provider: str) -> Any:
    """Parse a JSON reply; a malformed one is a ProviderError naming the provider."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        snippet = data[:120].decode("utf-8", "replace")
        raise ProviderError(f"{provider}: reply is not JSON: {snippet!r}", provider=provider) from None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def error_for_status(
    provider: str, status: int, headers: Mapping[str, str], body: bytes, key_hint: str
) -> ProviderError:
    """The typed error for a non-2xx reply; ``key_hint`` says where the API key comes from."""
    message, code = _error_message(body)
    text = f"{provider}: HTTP {status}: {message}" if message else f"{provider}: HTTP {status}"
    lowered = f"{message} {code}".lower()
    if status in (401, 403):
        return AuthenticationError(
            f"{provider}: the API key was refused (HTTP {status}: {message or 'unauthorized'}); {key_hint}",
            provider=provider,
            status=status,
        )
    if status == 429:
        if "insufficient_quota" in lowered:
            return ProviderError(
                f"{text} (quota exhausted; retrying will not help)", provider=provider, status=429
            )
        return RateLimited(text, provider=provider, retry_after=retry_after(headers))
    if status in (408, 409) or status >= 500:
        return ProviderError(text, provider=provider, status=status, retryable=True)
    if any(marker in lowered for marker in _CONTEXT_MARKERS) or status == 413:
        return ContextTooLong(text, provider=provider, status=status)
    return BadRequest(text, provider=provider, status=status)


def _error_message(body: bytes) -> tuple[str, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip(), ""
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        return str(err.get("message") or err.get("detail") or ""), str(
            err.get("code") or err.get("type") or ""
        )
    return str(err), ""


def connection_error(provider: str, url: str, exc: BaseException) -> ProviderError:
    """A retryable error for a failed connection, naming where we tried to go."""
    detail = str(exc) or type(exc).__name__
    return ProviderError(f"{provider}: cannot reach {url}: {detail}", provider=provider, retryable=True)


@dataclass(frozen=True)
class NotStreamed:
    """What ``sse_events`` yields when the server ignored the stream flag: its one JSON reply."""

    body: Any


async def sse_events(
    url: str, body: Mapping[str, Any], headers: Mapping[str, str], provider: str, key_hint: str
) -> AsyncGenerator[Any, None]:
    """POST ``body`` and yield the JSON of each server-sent ``data:`` event, until ``[DONE]`` or the end.

    A server that answers with a plain JSON body instead of an event stream yields one ``NotStreamed``.
    HTTP errors and connection failures raise the same typed errors as a non-streaming call.
    """
    client = await session()
    try:
        async with client.post(url, data=dumps(body), headers=headers) as resp:
            if resp.status >= 300:
                raise error_for_status(provider, resp.status, resp.headers, await resp.read(), key_hint)
            if resp.content_type != "text/event-stream":
                yield NotStreamed(loads(await resp.read(), provider))
                return
            async for raw in resp.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    return
                yield loads(payload, provider)
    except aiohttp.ClientError as exc:
        raise connection_error(provider, url, exc) from None
