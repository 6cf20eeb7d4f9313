"""Where the SDK fetches prompts from: a ``PromptSource``, chosen from Settings by ``make_source``.

Today the source is the local store. When ``LOOPSTACK_ENDPOINT`` is set, ``make_source`` uses the remote
source in ``loopstack.prompts._remote`` (a class ``RemotePromptSource(settings)`` implementing this
protocol over the server's REST API); until that module exists it raises a clear ConfigError, so
``get_prompt`` code written today keeps working unchanged against a server later.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from loopstack.errors import ConfigError, StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from loopstack.config import Settings
    from loopstack.prompts._types import PromptVersion
    from loopstack.prompts.registry import PromptRegistry
    from loopstack.store import Store

REMOTE_MODULE = "loopstack.prompts._remote"


@runtime_checkable
class PromptSource(Protocol):
    """Fetches one prompt version by label or number (both None: the ``production`` label).

    Raises ``NotFound`` for an unknown prompt/label/version and ``StoreUnavailable`` (or another
    LoopstackError) when the backing store or server cannot be reached.
    """

    def fetch(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion: ...


class LocalPromptSource:
    """Reads prompts straight from a store (SQLite file or PostgreSQL) with one query per fetch.

    On SQLite the store opens a fresh connection per transaction (with its PRAGMAs), which costs more
    than the query itself; the source therefore keeps one read connection open for its fetches.
    """

    def __init__(self, url: str | None = None, project: str = "default", *, store: Store | None = None):
        self._url = url
        self._project = project
        self._store = store
        self._registry: PromptRegistry | None = None
        self._conn: Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def fetch(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion:
        registry = self._registry or self._open()
        if registry.store.dialect != "sqlite":
            return registry.get(name, label=label, version=version)
        from sqlalchemy.exc import DBAPIError

        from loopstack.store._store import redact_url

        with self._lock:
            try:
                if self._conn is not None and self._pid != os.getpid():
                    self._conn = None  # inherited across fork: never share a SQLite connection
                if self._conn is None:
                    self._conn = registry.store.engine.connect()
                    self._pid = os.getpid()
                with self._conn.begin():
                    return registry.get_on(self._conn, name, label=label, version=version)
            except DBAPIError as exc:
                self._drop_connection()
                first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                url = redact_url(registry.store.url)
                raise StoreUnavailable(f"cannot read prompts from {url}: {first}") from None

    def close(self) -> None:
        """Release the held connection."""
        with self._lock:
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _open(self) -> PromptRegistry:
        from loopstack.prompts.registry import PromptRegistry
        from loopstack.store import get_store

        # Opened on first fetch (not at construction) so an unreachable database is a fetch failure
        # the caller's fallback can cover, and a later fetch can still succeed.
        store = self._store or get_store(self._url)
        self._registry = PromptRegistry(store, self._project)
        return self._registry


def make_source(settings: Settings) -> PromptSource:
    """The source ``settings`` call for: the remote server when ``endpoint`` is set, else the store."""
    if settings.endpoint:
        try:
            module = importlib.import_module(REMOTE_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != REMOTE_MODULE:
                raise
            raise ConfigError(
                f"LOOPSTACK_ENDPOINT is set ({settings.endpoint}) but this version of loopstack cannot "
                "fetch prompts from a server yet; unset LOOPSTACK_ENDPOINT to read the local store"
            ) from None
        return cast(PromptSource, module.RemotePromptSource(settings))
    return LocalPromptSource(settings.resolved_database_url, settings.project)
