"""The Store: one engine, migrations applied on first use, read and write transactions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from loopstack.errors import StoreUnavailable
from loopstack.store._engine import WRITE_OPTION, build_engine
from loopstack.store._types import new_id, utcnow
from loopstack.store.tables import projects

T = TypeVar("T")


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used for messages
        return url


class Store:
    """Access to the database behind Loopstack.

    ``read()`` and ``write()`` yield a Core connection inside a transaction. On SQLite a write
    transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = build_engine(url)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._project_ids: dict[str, str] = {}
        self._lock = threading.Lock()
        if migrate:
            from loopstack.store.migrate import upgrade

            self._guard(lambda: upgrade(self))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except OperationalError as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (serialised against other writers on SQLite)."""
        try:
            with self._write_engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: OperationalError) -> StoreUnavailable:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return StoreUnavailable(f"cannot use the database at {redact_url(self.url)}: {first}")

    def project_id(self, name: str) -> str:
        """The id of project ``name``, created on first use."""
        cached = self._project_ids.get(name)
        if cached is not None:
            return cached
        with self._lock:
            pid = self._get_or_create_project(name)
            self._project_ids[name] = pid
            return pid

    def _get_or_create_project(self, name: str) -> str:
        with self.read() as conn:
            found = conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
        if found is not None:
            return str(found)
        try:
            with self.write() as conn:
                pid = new_id()
                conn.execute(insert(projects).values(id=pid, name=name, created_at=utcnow()))
                return pid
        except IntegrityError:  # another process created it first
            with self.read() as conn:
                return str(conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar_one())

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def get_store(url: str | None = None) -> Store:
    """The process-wide Store for ``url`` (default: the configured database), migrated on first use."""
    if url is None:
        from loopstack.config import get_settings

        url = get_settings().resolved_database_url
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = Store(url)
            _stores[url] = store
        return store


def reset_stores() -> None:
    """Forget and close every cached Store (tests and settings changes)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
