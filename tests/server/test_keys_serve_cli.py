"""``loopstack keys`` and ``loopstack serve`` start-up rules, through click's CliRunner and the database."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from loopstack.cli.main import main
from loopstack.config import Settings
from loopstack.errors import ConfigError
from loopstack.server._serve import is_loopback, startup_mode
from loopstack.store import Store, get_store
from loopstack.store.keys import hash_key
from loopstack.store.tables import api_keys


def run(*args: str) -> Result:
    """The ``loopstack`` entry point as a user runs it (errors become one line and exit 1)."""
    entry = click.Command("loopstack", callback=lambda: main(list(args)))
    return CliRunner().invoke(entry, [])


def test_keys_create_prints_the_key_once_and_stores_only_its_hash() -> None:
    result = run("keys", "create", "ci-bot", "--project", "shop", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    secret = created["key"]
    assert secret.startswith("lsk_") and len(secret) > 40
    with get_store().read() as conn:
        (row,) = conn.execute(select(api_keys)).all()
    assert row.key_hash == hash_key(secret)
    assert secret not in (row.prefix, row.key_hash, row.name)
    assert row.prefix == secret[:12]

    listed = run("keys", "list")
    assert "ci-bot" in listed.output and "shop" in listed.output and "active" in listed.output
    assert secret not in listed.output

    revoked = run("keys", "revoke", "ci-bot")
    assert revoked.exit_code == 0
    assert "Revoked key 'ci-bot'" in revoked.output
    with get_store().read() as conn:
        assert conn.execute(select(api_keys.c.revoked_at)).scalar_one() is not None
    again = run("keys", "revoke", "ci-bot")
    assert again.exit_code == 1
    assert "no active API key" in again.output


def test_serve_refuses_a_public_address_without_keys() -> None:
    result = run("serve", "--host", "0.0.0.0")
    assert result.exit_code == 1
    assert "refusing to listen on 0.0.0.0 without API keys" in result.output


def test_startup_mode_open_on_loopback_and_keyed_anywhere(store: Store) -> None:
    settings = Settings(project="demo")
    assert "running OPEN for local use" in startup_mode("127.0.0.1", store, settings)
    assert "'demo'" in startup_mode("127.0.0.1", store, settings)
    with pytest.raises(ConfigError, match="loopstack keys create"):
        startup_mode("192.168.1.20", store, settings)
    from loopstack.store.keys import create_key

    create_key(store, "prod", "demo")
    assert "API keys required" in startup_mode("0.0.0.0", store, settings)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "keyed"), [("0.0.0.0", True), ("192.168.1.20", True), ("127.0.0.1", False)])
def test_serve_beyond_loopback_never_runs_open(
    store: Store, monkeypatch: pytest.MonkeyPatch, host: str, keyed: bool
) -> None:
    """The app ``loopstack serve --host`` hands to uvicorn requires keys for good off loopback."""
    import uvicorn

    from loopstack.server import _serve

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: served.append(app))
    _serve.run(Settings(), store, host, 8765)
    (app,) = served
    assert app.state.auth.keyed is keyed
    app.state.writer.close()
