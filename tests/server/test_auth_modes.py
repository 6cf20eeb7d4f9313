"""When the server may run open, and for whom: keys stay required once they existed, open mode answers
only loopback Host names (DNS rebinding), a revocation takes effect within about a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from server_helpers import PROTOBUF, LiveServer, otlp_protobuf

from loopstack.config import Settings
from loopstack.server import create_app
from loopstack.store import Store, get_store
from loopstack.store.keys import create_key, revoke_key

PROMPT = {"name": "triage", "messages": [{"role": "user", "content": "Hi {{name}}"}]}
#: A little more than the one second the server may take to notice a change to the key table.
NOTICE = 1.3


@pytest.fixture
async def make_client(store: Store) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    apps: list[FastAPI] = []
    clients: list[httpx.AsyncClient] = []

    def make(base_url: str = "http://127.0.0.1:8765", **kw: object) -> httpx.AsyncClient:
        settings = kw.pop("settings", None) or Settings()
        app = create_app(settings, store, **kw)  # type: ignore[arg-type]
        apps.append(app)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for app in apps:
        app.state.writer.close()


async def _unauthenticated_statuses(client: httpx.AsyncClient) -> tuple[int, int, int]:
    body = otlp_protobuf([{"name": "anon"}])
    return (
        (await client.get("/api/traces")).status_code,
        (await client.post("/api/prompts", json=PROMPT)).status_code,
        (await client.post("/v1/traces", content=body, headers=PROTOBUF)).status_code,
    )


async def test_revoking_the_last_key_does_not_turn_a_running_server_open(
    make_client: Callable[..., httpx.AsyncClient], store: Store
) -> None:
    secret, key = create_key(store, "ci", "default")
    client = make_client()
    as_key = {"authorization": f"Bearer {secret}"}
    assert (await client.get("/api/traces", headers=as_key)).status_code == 200
    assert await _unauthenticated_statuses(client) == (401, 401, 401)

    revoke_key(store, key.id)  # what 'loopstack keys revoke' does, from another process
    await asyncio.sleep(NOTICE)
    assert await _unauthenticated_statuses(client) == (401, 401, 401)
    refused = await client.get("/api/traces")
    assert "no key is active" in refused.json()["detail"]
    # The revoked key itself stops working as promptly (it was cached for 10 s before).
    assert (await client.get("/api/traces", headers=as_key)).status_code == 401
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM prompts").scalar_one() == 0


async def test_a_server_that_started_with_keys_never_runs_open(
    make_client: Callable[..., httpx.AsyncClient], store: Store
) -> None:
    _, key = create_key(store, "ci", "default")
    client = make_client()
    revoke_key(store, key.id)  # revoked before the server answered anything
    assert await _unauthenticated_statuses(client) == (401, 401, 401)


async def test_a_server_beyond_loopback_requires_keys_even_with_none(
    make_client: Callable[..., httpx.AsyncClient], store: Store
) -> None:
    client = make_client(require_keys=True)
    assert await _unauthenticated_statuses(client) == (401, 401, 401)
    secret, _ = create_key(store, "ops", "default")
    await asyncio.sleep(NOTICE)
    assert (await client.get("/api/traces", headers={"authorization": f"Bearer {secret}"})).status_code == 200


@pytest.mark.parametrize(
    "base_url",
    ["http://localhost:8765", "http://127.0.0.1", "http://[::1]:8765", "http://LOCALHOST.:9"],
)
async def test_open_mode_answers_loopback_host_names(
    make_client: Callable[..., httpx.AsyncClient], base_url: str
) -> None:
    assert await _unauthenticated_statuses(make_client(base_url)) == (200, 201, 200)


@pytest.mark.parametrize(
    "base_url", ["http://evil.test:8765", "http://127.0.0.1.evil.test", "http://localhost.evil.test:8765"]
)
async def test_open_mode_refuses_other_host_names(
    make_client: Callable[..., httpx.AsyncClient], store: Store, base_url: str
) -> None:
    client = make_client(base_url)
    assert await _unauthenticated_statuses(client) == (403, 403, 403)
    refused = await client.get("/api/traces")
    assert "LOOPSTACK_ALLOWED_HOSTS" in refused.json()["detail"]
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM prompts").scalar_one() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM spans").scalar_one() == 0


async def test_open_mode_refuses_other_host_names_on_the_ui_too(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    evil = make_client("http://evil.test:8765", ui=True)
    assert (await evil.get("/ui/traces")).status_code == 403
    local = make_client("http://localhost:8765", ui=True)
    assert (await local.get("/ui/traces")).status_code == 200


async def test_allowed_hosts_come_from_the_environment(
    make_client: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPSTACK_ALLOWED_HOSTS", "loopstack.internal, box.lan")
    settings = Settings()
    assert settings.allowed_hosts == ["loopstack.internal", "box.lan"]
    allowed = make_client("http://box.lan:8765", settings=settings)
    assert await _unauthenticated_statuses(allowed) == (200, 201, 200)
    other = make_client("http://other.lan:8765", settings=settings)
    assert (await other.get("/api/traces")).status_code == 403


async def test_a_key_is_accepted_whatever_the_host_name(
    make_client: Callable[..., httpx.AsyncClient], store: Store
) -> None:
    secret, _ = create_key(store, "ci", "default")
    client = make_client("http://loopstack.example.com")
    assert (await client.get("/api/traces", headers={"authorization": f"Bearer {secret}"})).status_code == 200
    assert (await client.get("/api/traces")).status_code == 401


def test_over_a_real_socket(live_server: Callable[..., LiveServer]) -> None:
    """The reported case end to end: ``loopstack serve``, a rebinding Host, then the last key revoked."""
    server = live_server()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/api/traces").status_code == 200
        assert client.get("/api/traces", headers={"host": f"evil.test:{server.port}"}).status_code == 403
        assert client.get("/api/traces", headers={"host": f"localhost:{server.port}"}).status_code == 200

        store = get_store()
        secret, key = create_key(store, "ci", "default")
        time.sleep(NOTICE)
        assert client.get("/api/traces").status_code == 401
        assert client.get("/api/traces", headers={"authorization": f"Bearer {secret}"}).status_code == 200
        revoke_key(store, key.id)
        time.sleep(NOTICE)
        assert client.get("/api/traces").status_code == 401
        assert client.post("/api/prompts", json=PROMPT).status_code == 401
        assert client.get("/api/traces", headers={"authorization": f"Bearer {secret}"}).status_code == 401
