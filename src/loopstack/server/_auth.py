"""Bearer-key auth: every request is resolved to ONE project, and every query is scoped to it.

With no live key in the database the server is open (local use): requests act on the configured
project. As soon as a key exists, every request must carry one (``Authorization: Bearer <key>``).
Resolved keys are cached briefly so ingestion does not pay a query per request; a revoked key stops
working within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from loopstack.store import Store
from loopstack.store.keys import any_active_key, find_owner, hash_key, touch_key

CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Project:
    """The project a request acts on (``key_id`` is None in open mode)."""

    id: str
    name: str
    key_id: str | None = None


class Authenticator:
    """Resolves the Authorization header of a request to a Project."""

    def __init__(self, store: Store, default_project: str) -> None:
        self.store = store
        self.default_project = default_project
        self._keys: dict[str, tuple[Project | None, float]] = {}
        self._open: tuple[bool, float] = (False, 0.0)
        self._default: Project | None = None

    def _is_open(self) -> bool:
        value, expires = self._open
        now = time.monotonic()
        if expires > now:
            return value
        with self.store.read() as conn:
            value = not any_active_key(conn)
        self._open = (value, now + 1.0)
        return value

    def _open_project(self) -> Project:
        if self._default is None:
            self._default = Project(self.store.project_id(self.default_project), self.default_project)
        return self._default

    def forget(self) -> None:
        """Drop cached answers (after creating or revoking a key in-process)."""
        self._keys.clear()
        self._open = (False, 0.0)

    def _lookup(self, secret: str) -> Project | None:
        with self.store.read() as conn:
            owner = find_owner(conn, secret)
        if owner is None:
            return None
        with self.store.write() as conn:
            touch_key(conn, owner.key_id)
        return Project(owner.project_id, owner.project, owner.key_id)

    def resolve_sync(self, authorization: str | None) -> Project:
        """The project for this Authorization header; HTTP 401 when a key is needed and not valid."""
        token = _bearer(authorization)
        if token is None:
            if self._is_open():
                return self._open_project()
            raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        digest = hash_key(token)
        cached = self._keys.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            project = cached[0]
        else:
            project = self._lookup(token)
            if len(self._keys) >= 10_000:  # bounded: random bad keys must not grow memory
                self._keys.clear()
            self._keys[digest] = (project, now + CACHE_SECONDS)
        if project is None:
            if self._is_open():  # no keys at all: a stray key from the client's environment is harmless
                return self._open_project()
            raise _unauthorized("unknown or revoked API key")
        return project

    async def resolve(self, authorization: str | None) -> Project:
        """``resolve_sync`` without blocking the event loop on a cache miss."""
        token = _bearer(authorization)
        now = time.monotonic()
        if token is not None:
            cached = self._keys.get(hash_key(token))
            if cached is not None and cached[0] is not None and cached[1] > now:
                return cached[0]
        elif self._default is not None and self._open[0] and self._open[1] > now:
            return self._default
        return await run_in_threadpool(self.resolve_sync, authorization)


def _bearer(authorization: str | None) -> str | None:
    """The key of a ``Bearer <key>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def current_project(request: Request) -> Project:
    """FastAPI dependency: the project of the request's key (or the default project when open)."""
    auth: Authenticator = request.app.state.auth
    return await auth.resolve(request.headers.get("authorization"))
