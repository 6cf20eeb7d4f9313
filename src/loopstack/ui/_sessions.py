"""Session and user pages: a session's conversation in order with its feedback; a user's traces,
feedback and cost. Linked from the trace page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from loopstack.store.sessions import SessionRepository
from loopstack.ui._context import UIContext
from loopstack.ui._render import render


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def repo(request: Request) -> SessionRepository:
        return SessionRepository(ctx.store(), ctx.project(request).name)

    @router.get("/sessions/{session_id}", response_class=HTMLResponse, name="ui_session")
    def session(request: Request, session_id: str) -> HTMLResponse:
        c = repo(request).session(session_id[:200])
        return render(request, "session.html", c=c, kind="session", status_code=200 if c.turns else 404)

    @router.get("/users/{user_id}", response_class=HTMLResponse, name="ui_user")
    def user(request: Request, user_id: str) -> HTMLResponse:
        c = repo(request).user(user_id[:200])
        return render(request, "session.html", c=c, kind="user", status_code=200 if c.turns else 404)
