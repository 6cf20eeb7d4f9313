"""What every page handler needs: the store, the project in force, who is acting, and a CSRF check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from loopstack.store import Store, get_store

#: Cookie holding the reviewer name the UI writes as the ``author`` of scores and locks.
AUTHOR_COOKIE = "loopstack_author"
#: Cookie holding the API key a browser signed in with (the server reads it when no header is sent).
KEY_COOKIE = "loopstack_key"


class ProjectRef(Protocol):
    """The project a request acts on (the server's ``Project`` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class LocalProject:
    """A project named in configuration, for the UI without the server's auth."""

    id: str
    name: str


def default_author(request: Request) -> str:
    """The reviewer name from the cookie set on the annotation page, or ``ui``."""
    name = (request.cookies.get(AUTHOR_COOKIE) or "").strip()
    return name[:200] or "ui"


@dataclass
class UIContext:
    """Dependencies of the pages, injectable so the server can supply its own auth and project."""

    store_factory: Callable[[], Store]
    project: Callable[[Request], ProjectRef]
    author: Callable[[Request], str] = default_author

    def store(self) -> Store:
        return self.store_factory()


def default_context(store: Store | None = None, project_name: str | None = None) -> UIContext:
    """Pages over ``store`` (default: the configured one) and one project (default: the configured one)."""

    def _store() -> Store:
        return store if store is not None else get_store()

    def _project(_request: Request) -> ProjectRef:
        from loopstack.config import get_settings

        name = project_name or get_settings().project
        return LocalProject(_store().project_id(name), name)

    return UIContext(store_factory=_store, project=_project)


def signed_in(ctx: UIContext) -> UIContext:
    """``ctx`` whose project lookup sends a browser to the sign-in page instead of a bare 401."""
    resolve = ctx.project

    def project(request: Request) -> ProjectRef:
        try:
            return resolve(request)
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            raise HTTPException(
                303, "sign in with an API key", headers={"Location": f"/ui/login?next={quote(target)}"}
            ) from None

    return UIContext(store_factory=ctx.store_factory, project=project, author=ctx.author)


def check_same_origin(request: Request) -> None:
    """Refuse a form POST that another site made the browser send (CSRF).

    ``Origin: null`` is refused too: browsers send it from sandboxed iframes, ``data:`` URLs and
    cross-origin redirects, which is exactly where a forged form would come from. A request with no
    Origin at all (curl, an old browser on same-origin navigation) is let through.
    """
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "cross-site form submission refused")
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin.strip().lower() == "null":
        raise HTTPException(403, "form posted from an opaque origin (Origin: null) refused")
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc.lower() != host.lower():
        raise HTTPException(403, f"form posted from another origin ({origin}) refused")
