"""Where the SDK fetches prompts from: a ``PromptSource``, chosen from Settings by ``make_source``.

Today the source is the local store. When ``LOOPSTACK_ENDPOINT`` is set, ``make_source`` uses the remote
source in ``loopstack.prompts._remote`` (a class ``RemotePromptSource(settings)`` implementing this
protocol over the server's REST API); until that module exists it raises a clear ConfigError, so
``get_prompt`` code written today keeps working unchanged against a server later.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from loopstack.errors import ConfigError

if TYPE_CHECKING:
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
    """Reads prompts straight from a store (SQLite file or PostgreSQL) with one query per fetch."""

    def __init__(self, url: str | None = None, project: str = "default", *, store: Store | None = None):
        self._url = url
        self._project = project
        self._store = store
        self._registry: PromptRegistry | None = None

    def fetch(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion:
        registry = self._registry or self._open()
        return registry.get(name, label=label, version=version)

    def close(self) -> None:
        """Nothing to release: connections belong to the store's pool."""

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
