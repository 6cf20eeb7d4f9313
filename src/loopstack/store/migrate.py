"""Alembic migrations, applied automatically and safely when several processes start at once.

Opening a store whose schema is current costs two cheap queries and no Alembic import: the shipped
head is read from the revision files themselves and the database's revision from ``alembic_version``.
Alembic is imported only to upgrade (and to answer when those files are not plain literals).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

    from loopstack.store._store import Store

MIGRATIONS = Path(__file__).parent / "migrations"
_VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
_PG_LOCK_ID = 7_460_301  # arbitrary, fixed: serialises concurrent upgrades on PostgreSQL
_NOT_LITERAL = object()  # an assignment whose value is computed: the head is not clear-cut
_ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?P<value>[^\n]*)$", re.MULTILINE)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to an open connection."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration id shipped with this version of Loopstack."""
    head = _head_from_files(MIGRATIONS / "versions")
    if head is None:  # a merge, a computed id, a second head: let Alembic decide (and explain)
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _head_from_files(folder: Path) -> str | None:
    """The single head of the revision files, read as literals; None when that is not clear-cut."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(folder.glob("*.py")):
        found = _literals(path, ("revision", "down_revision"))
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            return None
        revisions.add(revision)
        if down is not None:
            parents.add(down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _literals(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    """Top-level one-line ``name = <literal>`` assignments of a Python file, without importing it.

    A line scan, not a parse: the first migration is long and this runs on every start.
    """
    found: dict[str, object] = {}
    for match in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8")):
        if match["name"] in names and match["name"] not in found:
            try:
                found[match["name"]] = ast.literal_eval(match["value"].strip())
            except (ValueError, SyntaxError):
                found[match["name"]] = _NOT_LITERAL
    return found


def _revisions(conn: Connection) -> set[str]:
    """The revision ids recorded in the database (empty for a database never migrated)."""
    if not inspect(conn).has_table(_VERSION_TABLE):
        return set()
    return {str(row[0]) for row in conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}"))}


def current_revision(store: Store) -> str | None:
    """The migration id the database is at (None for an empty database)."""
    with store.read() as conn:
        found = _revisions(conn)
        if len(found) > 1:  # several branch heads: Alembic's own error says what to do
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(conn).get_current_revision()
    return found.pop() if found else None


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
        if revision == "head" and _revisions(conn) == {head_revision()}:
            return
        from alembic import command

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
