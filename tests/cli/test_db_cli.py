"""``loopstack db status|upgrade`` on both dialects, and a clear line when the database is unreachable."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner, Result

from loopstack.cli.main import main
from loopstack.config import get_settings
from loopstack.store import Store
from loopstack.store.migrate import head_revision


def run(*args: str) -> Result:
    entry = click.Command("loopstack", callback=lambda: main(list(args)))
    return CliRunner().invoke(entry, [])


def test_status_and_upgrade(store: Store) -> None:
    st = json.loads(run("db", "status", "--json").output)
    assert st["current"] == head_revision() and st["up_to_date"] is True
    assert st["dialect"] == store.dialect
    res = run("db", "status")
    assert res.exit_code == 0 and "up to date" in res.output
    res = run("db", "upgrade")
    assert res.exit_code == 0 and f"already at revision {head_revision()}" in res.output


def test_upgrade_creates_an_empty_sqlite_store() -> None:
    st = json.loads(run("db", "status", "--json").output)
    assert (st["current"], st["up_to_date"]) == (None, False)
    res = run("db", "upgrade")
    assert res.exit_code == 0 and f"from (empty) to {head_revision()}" in res.output
    assert json.loads(run("db", "status", "--json").output)["up_to_date"] is True


def test_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPSTACK_DATABASE_URL", "postgresql://u:pw@127.0.0.1:1/x")
    get_settings.cache_clear()
    for args in (("db", "status"), ("db", "upgrade")):
        res = run(*args)
        assert res.exit_code == 1
        assert res.output.startswith("Error: cannot use the database at postgresql://u:***@127.0.0.1:1/x")
        assert len(res.output.strip().splitlines()) == 1
