"""UI fixtures: the pages mounted on a small FastAPI app over the test store."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from loopstack.store import Store
from loopstack.ui import mount_ui


@pytest.fixture
def project_id(store: Store) -> str:
    return store.project_id("default")


@pytest.fixture
def client(store: Store) -> Iterator[httpx.Client]:
    app = FastAPI()
    mount_ui(app, store)
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as c:
        yield c
