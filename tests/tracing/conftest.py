"""Tracing tests: local-store tracing per test, a helper reading the stored spans, a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sdk_server import InProcessServer
from sqlalchemy import select

import loopstack
from loopstack.store import Store, get_store
from loopstack.store.keys import create_key
from loopstack.store.tables import spans
from loopstack.tracing import shutdown


@pytest.fixture
def traced() -> Iterator[None]:
    """Tracing to the local store of this test's LOOPSTACK_HOME."""
    loopstack.init()
    yield
    shutdown(timeout=5)


@pytest.fixture
def stored_spans() -> Callable[[], list[dict[str, Any]]]:
    """Flush the SDK, then every span row of the default project, in start order."""

    def read() -> list[dict[str, Any]]:
        assert loopstack.flush(timeout=10)
        store = get_store()
        with store.read() as conn:
            rows = conn.execute(select(spans).order_by(spans.c.start_time))
            return [dict(r._mapping) for r in rows]

    return read


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A keyed server for project ``shop`` whose database is NOT the SDK's local store."""
    store = Store(f"sqlite:///{tmp_path / 'server.db'}")
    key, _ = create_key(store, "app", "shop")
    running = InProcessServer(store, key).start()
    yield running
    shutdown(timeout=5)
    running.stop()
    store.close()
