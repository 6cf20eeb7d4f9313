"""Fixtures for model tests: a scripted HTTP model API on 127.0.0.1, the real OTel SDK with an in-memory
exporter, and a clean model registry."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loopstack.models import forget_models


@dataclass
class Reply:
    """One scripted answer: status, JSON body (or raw bytes / SSE lines), headers, delay before answering."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    sse: list[Any] | None = None


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


class StubServer:
    """Answers every POST with the next scripted Reply (the last one repeats) and records the requests."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(
        self,
        json: Any = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        sse: list[Any] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Queue the next answer (the last queued one repeats once the rest are used)."""
        self.replies.append(Reply(status, json, body, headers or {}, delay, sse))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), orjson.loads(raw) if raw else None)
        )
        reply = self.replies.popleft() if len(self.replies) > 1 else self.replies[0]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            self.in_flight -= 1
        if reply.sse is not None:
            resp = web.StreamResponse(status=reply.status, headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for event in reply.sse:
                data = event if isinstance(event, bytes) else orjson.dumps(event)
                await resp.write(b"data: " + data + b"\n\n")
            await resp.write_eof()
            return resp
        body = reply.body if reply.body is not None else orjson.dumps(reply.json)
        return web.Response(
            status=reply.status, body=body, headers={"Content-Type": "application/json", **reply.headers}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


_exporter = InMemorySpanExporter()


def _install() -> None:
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        current = trace.get_tracer_provider()
    assert isinstance(current, TracerProvider)
    if not getattr(current, "_loopstack_models_test", False):
        current.add_span_processor(SimpleSpanProcessor(_exporter))
        current._loopstack_models_test = True  # type: ignore[attr-defined]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans of this test, recorded by the OpenTelemetry SDK."""
    _install()
    _exporter.clear()
    yield _exporter
    _exporter.clear()


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    """A scripted model API on 127.0.0.1 (the only thing faked is the external service)."""
    server = StubServer()
    await server.start()
    yield server
    await server.stop()
