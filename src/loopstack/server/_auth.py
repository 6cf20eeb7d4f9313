"""Bearer-key auth: every request is resolved to ONE project, and every query is scoped to it.

With no key in the database the server is open (local use): requests act on the configured project,
and only requests addressed to a loopback host name (or one in ``LOOPSTACK_ALLOWED_HOSTS``) are
answered, so a web page that rebinds its own name to 127.0.0.1 cannot use the server. As soon as a key
exists every request must carry one (``Authorization: Bearer <key>``), and that is sticky: a server
that started with keys, saw one created, or listens beyond loopback never serves an unauthenticated
request again, even after the last key is revoked.

Resolved keys are cached so ingestion does not pay a query per request. The key table's counts are
re-read at most once per ``STATE_SECONDS``; any change (a key created or revoked, from any process)
drops the cache, so a revocation takes effect within about a second.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from loopstack.store import Store
from loopstack.store.keys import find_owner, hash_key, key_counts, touch_key

CACHE_SECONDS = 10.0  # the longest a resolved key is trusted even if the counts never changed
STATE_SECONDS = 1.0
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


@dataclass(frozen=True)
class Project:
    """The project a request acts on (``key_id`` is None in open mode)."""

    id: str
    name: str
    key_id: str | None = None


def is_loopback(host: str) -> bool:
    """True when ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name part of a Host header, lower-case, without port or trailing dot (``[::1]:80`` → ``[::1]``)."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end > 0 else header
    name, sep, port = header.rpartition(":")
    if sep and port.isdigit():
        header = name
    return header.rstrip(".")


def trusted_host(header: str | None, allowed: Iterable[str] = ()) -> bool:
    """Whether an open server may answer a request with this Host header: loopback names, or a name in
    ``allowed`` (``*`` allows any). No header at all is not a browser, so not a rebinding attack."""
    if header is None:
        return True
    name = host_name(header)
    if is_loopback(name):
        return True
    names = {host_name(a) for a in allowed if a.strip()}
    return "*" in names or name in names


class Authenticator:
    """Resolves the Authorization (and, in open mode, Host) header of a request to a Project."""

    def __init__(
        self,
        store: Store,
        default_project: str,
        *,
        allowed_hosts: Iterable[str] = (),
        require_keys: bool = False,
    ) -> None:
        self.store = store
        self.default_project = default_project
        self.allowed_hosts = tuple(allowed_hosts)
        self._keys: dict[str, tuple[Project | None, float]] = {}
        self._default: Project | None = None
        self._counts: tuple[int, int] | None = None
        self._counts_expire = 0.0
        #: Sticky: once keys are required they stay required for the life of this server.
        self.keyed = require_keys
        self._refresh()
        self._counts_expire = 0.0  # the first request reads the table again, whenever it comes

    def _refresh(self) -> None:
        """Re-read the key table's counts when they are stale; a change drops every cached answer."""
        now = time.monotonic()
        if self._counts_expire > now:
            return
        with self.store.read() as conn:
            counts = key_counts(conn)
        if counts != self._counts:
            self._keys.clear()
            self._counts = counts
        if counts[0] > counts[1]:
            self.keyed = True
        self._counts_expire = now + STATE_SECONDS

    def _open_project(self, host: str | None) -> Project:
        if not trusted_host(host, self.allowed_hosts):
            raise HTTPException(
                403,
                f"Host {host!r} is not trusted: without API keys this server answers only requests "
                "addressed to localhost, 127.0.0.1 or [::1]; add the name to LOOPSTACK_ALLOWED_HOSTS, "
                "or create a key with 'loopstack keys create NAME'",
            )
        if self._default is None:
            self._default = Project(self.store.project_id(self.default_project), self.default_project)
        return self._default

    def _lookup(self, secret: str) -> Project | None:
        with self.store.read() as conn:
            owner = find_owner(conn, secret)
        if owner is None:
            return None
        with self.store.write() as conn:
            touch_key(conn, owner.key_id)
        return Project(owner.project_id, owner.project, owner.key_id)

    def resolve_sync(self, authorization: str | None, host: str | None = None) -> Project:
        """The project for these headers; HTTP 401 when a key is needed and not valid, 403 when an open
        server is addressed by an untrusted host name."""
        self._refresh()
        token = _bearer(authorization)
        if token is None:
            if not self.keyed:
                return self._open_project(host)
            raise _unauthorized(self._key_required())
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
            if not self.keyed:  # no keys at all: a stray key from the client's environment is harmless
                return self._open_project(host)
            raise _unauthorized("unknown or revoked API key")
        return project

    def _key_required(self) -> str:
        counts = self._counts or (0, 0)
        if counts[0] > counts[1]:
            return "an API key is required: send 'Authorization: Bearer <key>'"
        return (
            "an API key is required, and no key is active: this server started with keys or listens "
            "beyond loopback, so it stays closed; create one with 'loopstack keys create NAME'"
        )

    async def resolve(self, authorization: str | None, host: str | None = None) -> Project:
        """``resolve_sync`` without blocking the event loop on a cache miss."""
        now = time.monotonic()
        if self._counts_expire > now:
            token = _bearer(authorization)
            if token is not None:
                cached = self._keys.get(hash_key(token))
                if cached is not None and cached[0] is not None and cached[1] > now:
                    return cached[0]
            elif self._default is not None and not self.keyed and trusted_host(host, self.allowed_hosts):
                return self._default
        return await run_in_threadpool(self.resolve_sync, authorization, host)


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
    return await auth.resolve(request.headers.get("authorization"), request.headers.get("host"))
