"""``loopstack db``: where the database schema stands, and upgrading it."""

from __future__ import annotations

import json
from typing import Any

import click

from loopstack.errors import StoreUnavailable
from loopstack.store import Store


def open_store(*, migrate: bool = True) -> Store:
    """The configured store; a path that cannot be created becomes one clear error line."""
    from loopstack.config import get_settings
    from loopstack.store import get_store
    from loopstack.store._store import redact_url

    url = get_settings().resolved_database_url
    try:
        return get_store(url) if migrate else Store(url, migrate=False)
    except OSError as exc:
        raise StoreUnavailable(f"cannot open the database at {redact_url(url)}: {exc}") from None


def schema_status() -> dict[str, Any]:
    """Current and shipped schema revisions of the configured database (the URL without password)."""
    from loopstack.store._store import redact_url
    from loopstack.store.migrate import status

    store = open_store(migrate=False)
    try:
        st = status(store)
    finally:
        store.close()
    st["url"] = redact_url(st["url"])
    return st


def upgrade_schema() -> tuple[str | None, dict[str, Any]]:
    """Apply pending migrations; returns the revision before and the status after."""
    from loopstack.store.migrate import current_revision, upgrade

    store = open_store(migrate=False)
    try:
        before = current_revision(store)
        upgrade(store)
    except Exception:
        store.close()
        raise
    store.close()
    return before, schema_status()


@click.group()
def db() -> None:
    """Inspect and upgrade the database schema."""


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(as_json: bool) -> None:
    """Show the database URL, dialect and schema revision (current vs shipped)."""
    st = _guarded(schema_status)
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_row("database", st["url"])
    table.add_row("dialect", st["dialect"])
    table.add_row("revision", st["current"] or "(empty database)")
    table.add_row("shipped", st["head"])
    table.add_row("state", "up to date" if st["up_to_date"] else "needs `loopstack db upgrade`")
    Console(highlight=False).print(table)


@db.command("upgrade")
def upgrade_cmd() -> None:
    """Apply pending schema migrations (they also run automatically on first use)."""
    before, st = _guarded(upgrade_schema)
    if before == st["current"]:
        click.echo(f"{st['url']} is already at revision {st['current']} (up to date).")
    else:
        click.echo(f"Upgraded {st['url']} from {before or '(empty)'} to {st['current']}.")


def _guarded(fn: Any) -> Any:
    """Run ``fn``, turning database connection failures into one clear line."""
    from sqlalchemy.exc import OperationalError

    from loopstack.config import get_settings
    from loopstack.store._store import redact_url

    try:
        return fn()
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        url = redact_url(get_settings().resolved_database_url)
        raise StoreUnavailable(f"cannot use the database at {url}: {first}") from None
