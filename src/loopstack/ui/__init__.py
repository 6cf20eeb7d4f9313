"""The web UI: server-rendered pages (Jinja2, SVG charts, a little of our own JS) under ``/ui``.

``mount_ui(app)`` adds the pages and their static files to a FastAPI app; ``create_router`` gives the
pages alone. Every model output is escaped and a strict Content-Security-Policy forbids inline script.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from loopstack.store import Store
from loopstack.ui._context import UIContext, default_context
from loopstack.ui._render import CSP, PREFIX

__all__ = ["CSP", "PREFIX", "UIContext", "create_router", "default_context", "mount_ui"]


def create_router(store: Store | None = None, *, context: UIContext | None = None) -> APIRouter:
    """The UI pages as a router (prefix ``/ui``) over ``store`` or an explicit ``context``."""
    from loopstack.ui import (
        _annotate,
        _curate,
        _dashboard,
        _datasets,
        _evalform,
        _experiments,
        _login,
        _models,
        _monitor,
        _playground,
        _prompts,
        _rollouts,
        _runs,
        _sessions,
        _traces,
    )
    from loopstack.ui._context import signed_in

    ctx = signed_in(context or default_context(store))
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in (
        _dashboard,
        _curate,
        _traces,
        _prompts,
        _datasets,
        _runs,
        _experiments,
        _evalform,
        _playground,
        _sessions,
        _annotate,
        _monitor,
        _models,
        _rollouts,
        _login,
    ):
        module.add_routes(router, ctx)
    return router


def mount_ui(app: FastAPI, store: Store | None = None, *, context: UIContext | None = None) -> None:
    """Add the pages and ``/ui/static`` to ``app``."""
    app.include_router(create_router(store, context=context))
    static_dir = str(files("loopstack.ui").joinpath("static"))
    app.mount(f"{PREFIX}/static", StaticFiles(directory=static_dir), name="ui_static")
