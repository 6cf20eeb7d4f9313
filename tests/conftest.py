"""Shared fixtures: every test runs in its own LOOPSTACK_HOME; store tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from loopstack.config import get_settings
from loopstack.store import Store, reset_stores
from loopstack.store._engine import normalise_url
from loopstack.store.tables import metadata

PG_URL = os.environ.get("LOOPSTACK_TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def loopstack_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private LOOPSTACK_HOME with no inherited configuration."""
    for key in list(os.environ):
        if key.startswith("LOOPSTACK_") and key != "LOOPSTACK_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("LOOPSTACK_HOME", str(home))
    get_settings.cache_clear()
    reset_stores()
    yield home
    reset_stores()
    get_settings.cache_clear()


@contextmanager
def _fresh_pg_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database named ``<prefix>_<random>``; drop it afterwards."""
    if not PG_URL:
        pytest.skip("LOOPSTACK_TEST_DATABASE_URL is not set")
    admin_url = normalise_url(PG_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        reset_stores()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with _fresh_pg_database("loopstack_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not migrated) on each dialect, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with _fresh_pg_database("loopstack_mig") as url:
        yield url


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, loopstack_home: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A migrated, empty database on each dialect, also set as LOOPSTACK_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{loopstack_home / 'loopstack.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        Store(url).close()  # make sure it is migrated before truncating
        _truncate_pg(url)
    monkeypatch.setenv("LOOPSTACK_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A Store on each dialect."""
    s = Store(database_url)
    yield s
    s.close()
