"""Alembic migrations, applied automatically and safely when several processes start at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from loopstack.store._store import Store

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_ID = 7_460_301  # arbitrary, fixed: serialises concurrent upgrades on PostgreSQL


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to an open connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration id shipped with this version of Loopstack."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """The migration id the database is at (None for an empty database)."""
    with store.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the database to ``revision``; a no-op when it is already there.

    The check runs first without a lock (the common case costs one query); the upgrade itself runs in
    one write transaction (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL) and re-checks,
    so two processes starting together migrate once.
    """
    if revision == "head" and current_revision(store) == head_revision():
        return
    with store.write() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        if revision == "head" and MigrationContext.configure(conn).get_current_revision() == head_revision():
            return
        command.upgrade(alembic_config(conn), revision)


def status(store: Store) -> dict[str, Any]:
    """Where the database stands against the shipped migrations."""
    current = current_revision(store)
    head = head_revision()
    return {
        "url": store.url,
        "dialect": store.dialect,
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
