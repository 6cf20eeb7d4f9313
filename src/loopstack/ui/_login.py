"""Signing a browser in: the API key goes into an HttpOnly, SameSite=Strict cookie that the server's
auth reads when a request carries no Authorization header (pages are plain links, so no header)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack.ui._context import KEY_COOKIE, UIContext, check_same_origin
from loopstack.ui._render import PREFIX, render


def _safe_next(target: str | None) -> str:
    """Only our own pages: never an open redirect to another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/"


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/login", response_class=HTMLResponse, name="ui_login")
    def login(request: Request) -> HTMLResponse:
        return render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    @router.post("/login", name="ui_login_post", dependencies=[Depends(check_same_origin)])
    async def do_login(request: Request) -> RedirectResponse:
        form = await request.form()
        key = str(form.get("key") or "").strip()
        resp = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
        resp.set_cookie(
            KEY_COOKIE,
            key,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=30 * 86400,
        )
        return resp

    @router.post("/logout", name="ui_logout", dependencies=[Depends(check_same_origin)])
    def logout() -> RedirectResponse:
        resp = RedirectResponse(f"{PREFIX}/login", status_code=303)
        resp.delete_cookie(KEY_COOKIE)
        return resp
