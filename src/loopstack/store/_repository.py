"""The base of every repository: one store, one project (its name and id resolved once)."""

from __future__ import annotations

from loopstack.store._store import Store


class ProjectRepository:
    """Reads and writes of one aggregate within one project; every query is scoped by ``project_id``."""

    def __init__(self, store: Store, project: str = "default") -> None:
        self.store = store
        self.project = project
        self.project_id = store.project_id(project)
