"""Server fixtures: the app in-process (httpx.ASGITransport) and real uvicorn subprocesses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from server_helpers import LiveServer

from loopstack.config import Settings
from loopstack.server import create_app
from loopstack.store import Store


@pytest.fixture
def app(store: Store) -> Iterator[FastAPI]:
    """The server app over the test store (each dialect), without the UI pages."""
    application = create_app(Settings(), store, ui=False)
    yield application
    application.state.writer.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
        yield c


@pytest.fixture
def live_server(loopstack_home: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers on this test's LOOPSTACK_HOME; all stopped at the end."""
    started: list[LiveServer] = []

    def start(env: dict[str, str] | None = None) -> LiveServer:
        server = LiveServer(loopstack_home, env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
