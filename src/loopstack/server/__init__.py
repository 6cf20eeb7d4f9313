"""The Loopstack server: ``create_app`` (OTLP/HTTP ingest, REST API, UI) run by ``loopstack serve``.

``current_project`` is the FastAPI dependency resolving a request's project from its Bearer key; pages
and routers added by other parts reuse it so every query is scoped the same way.
"""

from loopstack.server._app import create_app
from loopstack.server._auth import Project, current_project

__all__ = ["Project", "create_app", "current_project"]
