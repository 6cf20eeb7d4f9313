"""Per-project settings (``project_settings``): small JSON values by key, e.g. the PII policy.

The server reads them on the ingest path, so reads are cached for a few seconds per store; a write
through this repository clears that cache in the writing process at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import delete, select

from loopstack.errors import InvalidInput
from loopstack.store._repository import ProjectRepository
from loopstack.store._types import utcnow
from loopstack.store.tables import project_settings

#: Seconds a project's settings are served from memory before they are read again.
CACHE_SECONDS = 5.0
_cache: dict[tuple[int, str], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


class ProjectSettingsRepository(ProjectRepository):
    """Read and write the settings of one project."""

    def all(self, *, fresh: bool = False) -> dict[str, Any]:
        """Every setting of the project, by key (cached for ``CACHE_SECONDS`` unless ``fresh``)."""
        key = (id(self.store), self.project_id)
        now = time.monotonic()
        if not fresh:
            with _cache_lock:
                hit = _cache.get(key)
            if hit is not None and now - hit[0] < CACHE_SECONDS:
                return dict(hit[1])
        with self.store.read() as conn:
            rows = conn.execute(
                select(project_settings.c.key, project_settings.c.value).where(
                    project_settings.c.project_id == self.project_id
                )
            ).all()
        values = {str(k): v for k, v in rows}
        with _cache_lock:
            _cache[key] = (now, values)
        return dict(values)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it is not set."""
        return self.all().get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` (any JSON value; None removes the setting)."""
        if not key or len(key) > 100:
            raise InvalidInput("a project setting's key must be 1 to 100 characters")
        table = project_settings
        with self.store.write() as conn:
            conn.execute(delete(table).where(table.c.project_id == self.project_id, table.c.key == key))
            if value is not None:
                conn.execute(
                    table.insert().values(
                        project_id=self.project_id, key=key, value=value, updated_at=utcnow()
                    )
                )
        with _cache_lock:
            _cache.pop((id(self.store), self.project_id), None)
