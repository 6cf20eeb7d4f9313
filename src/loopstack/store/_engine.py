"""Engine creation: SQLite in WAL mode with explicit write transactions, or PostgreSQL via psycopg 3."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from loopstack.errors import ConfigError

#: Execution option that marks a connection whose transaction will write (see ``Store.write``).
WRITE_OPTION = "loopstack_write"


def normalise_url(url: str) -> str:
    """Map the bare ``postgresql://`` scheme to psycopg 3, the driver we ship with."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def build_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings this project relies on."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the driver for {parsed.drivername} is not installed ({exc.name}); "
            "run: pip install 'loopstack[postgres]'"
        ) from None
    _fork_safe(engine)
    return engine


def _fork_safe(engine: Engine) -> None:
    """Never hand a pooled connection to a forked child (SQLAlchemy's documented recipe).

    A child process that inherits the pool gets fresh connections instead of sharing its parent's
    sockets or SQLite handles.
    """

    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _check_pid(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError("connection belongs to another process")


def _sqlite_engine(url: str, database: str | None) -> Engine:
    memory = database in (None, "", ":memory:")
    if not memory and database is not None:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # Pooled (SQLAlchemy's default QueuePool for files): opening a connection and running the
    # PRAGMAs below costs more than a typical query, so connections are kept and reused.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is honoured.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a write can fail
        # with SQLITE_BUSY immediately instead of waiting, so concurrent writers would error.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    _fork_safe(engine)
    return engine
