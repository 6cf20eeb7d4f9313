"""Migrations build the schema from nothing, and the tables never drift from them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from loopstack.store import Store
from loopstack.store.migrate import head_revision, status
from loopstack.store.tables import metadata


def test_empty_database_is_upgraded_to_head_on_first_use(store: Store) -> None:
    st = status(store)
    assert st["current"] == head_revision()
    assert st["up_to_date"] is True
    with store.read() as conn:
        tables = set(inspect(conn).get_table_names())
    assert set(metadata.tables) <= tables


def test_no_drift_between_tables_and_migrations(store: Store) -> None:
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_opening_again_is_idempotent_and_keeps_rows(database_url: str) -> None:
    first = Store(database_url)
    pid = first.project_id("acme")
    first.close()
    second = Store(database_url)
    assert second.project_id("acme") == pid
    second.close()
