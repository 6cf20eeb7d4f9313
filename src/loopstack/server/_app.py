"""``create_app``: the FastAPI application (OTLP ingest, REST API, the UI pages when available)."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import compile_path

from loopstack import __version__
from loopstack.config import Settings, get_settings
from loopstack.errors import InvalidInput, LoopstackError, NotFound, StoreUnavailable
from loopstack.server._auth import Authenticator, Project
from loopstack.server._writer import IngestWriter
from loopstack.store import Store, get_store

log = logging.getLogger("loopstack.server")

#: Cookie the UI may hold an API key in (browsers cannot send a Bearer header on page loads).
UI_KEY_COOKIE = "loopstack_key"


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    *,
    ui: bool = True,
    require_keys: bool = False,
    monitor: bool | None = None,
) -> FastAPI:
    """The Loopstack server app over ``store`` (default: the store ``settings`` point at).

    ``require_keys`` keeps it from ever running open (a server listening beyond loopback). ``monitor``
    (default: the ``monitor`` setting) starts the monitoring worker with the app; without it the worker
    is still built (``app.state.worker``) and a test drives it with ``run_once(now)``.
    """
    settings = settings or get_settings()
    store = store or get_store(settings.resolved_database_url)
    writer = IngestWriter(store)
    from loopstack.monitor.worker import monitoring_worker

    worker = monitoring_worker(store, ingest_watermark=writer.watermark)
    run_worker = settings.monitor if monitor is None else monitor

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            worker.start()
        yield
        worker.stop()
        writer.close()

    options: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI).parameters:
        # FastAPI's own OTel spans would trace every ingest request into the store it serves.
        options["telemetry"] = {"tracing": False}
    app = FastAPI(
        title="Loopstack",
        version=__version__,
        description="OTLP trace ingest and the REST API of Loopstack. Authenticate with `Bearer <key>`.",
        lifespan=lifespan,
        **options,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.writer = writer
    app.state.worker = worker
    app.state.auth = Authenticator(
        store, settings.project, allowed_hosts=settings.allowed_hosts, require_keys=require_keys
    )

    from loopstack.server import (
        _api,
        _data_api,
        _ingest,
        _monitor_api,
        _pii_api,
        _prompts_api,
        _queue_api,
        _rollouts_api,
    )

    app.include_router(_ingest.router)
    app.include_router(_api.router)
    app.include_router(_prompts_api.router)
    app.include_router(_data_api.router)
    app.include_router(_queue_api.router)
    app.include_router(_pii_api.router)
    from loopstack.server import _judge_api

    app.include_router(_judge_api.router)
    app.include_router(_monitor_api.router)
    app.include_router(_rollouts_api.router)
    _add_error_handlers(app)

    @app.get(
        "/health",
        tags=["meta"],
        summary="Health: the server answers, and its ingest writer can write",
        responses={503: {"description": "span writes are failing (the writer's last error is given)"}},
    )
    async def health() -> JSONResponse:
        state = writer.state()
        body = {"status": "ok", "version": __version__, "pending_spans": writer.pending, "writer": state}
        if state["state"] != "ok":
            return JSONResponse({**body, "status": "error"}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse(body)

    mounted = ui and _mount_ui(app, store)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        if mounted:
            return RedirectResponse("/ui/")
        return JSONResponse({"name": "loopstack", "version": __version__, "docs": "/docs"})

    return app


def _add_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[LoopstackError], int]] = [
        (NotFound, 404),
        (InvalidInput, 400),
        (StoreUnavailable, 503),
        (LoopstackError, 400),
    ]
    for exc_type, status in statuses:

        async def handler(_request: Request, exc: Exception, status: int = status) -> JSONResponse:
            headers = {"Retry-After": "5"} if status == 503 else None
            return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

        app.add_exception_handler(exc_type, handler)

    allow: list[tuple[re.Pattern[str], set[str]]] = []

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        # Starlette's Allow names only the last route that matched the path, and GET and POST on one
        # path are two routes here: list the methods the OpenAPI document gives the path (RFC 9110).
        if not allow:
            for template, operations in app.openapi().get("paths", {}).items():
                methods = {m.upper() for m in operations}
                allow.append((compile_path(template)[0], methods | ({"HEAD"} if "GET" in methods else set())))
        allowed = set().union(*(m for pattern, m in allow if pattern.match(request.url.path)))
        headers = {"Allow": ", ".join(sorted(allowed))} if allowed else getattr(exc, "headers", None)
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers=headers)

    app.add_exception_handler(405, method_not_allowed)


def _mount_ui(app: FastAPI, store: Store) -> bool:
    """Mount the UI pages with this server's auth; False when the UI is not part of this build."""
    try:
        from loopstack.ui import UIContext, mount_ui
    except ImportError as exc:
        log.info("UI not mounted: %s", exc)
        return False
    auth: Authenticator = app.state.auth

    def project(request: Request) -> Project:
        header = request.headers.get("authorization")
        if not header and request.cookies.get(UI_KEY_COOKIE):
            header = f"Bearer {request.cookies[UI_KEY_COOKIE]}"
        return auth.resolve_sync(header, request.headers.get("host"))

    mount_ui(app, store, context=UIContext(store_factory=lambda: store, project=project))
    return True
