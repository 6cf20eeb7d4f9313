"""API keys repository: create (shown once), look up by hash, list, revoke.

Keys are 256 random bits, so a plain SHA-256 of the key is a safe thing to store: a slow password hash
(bcrypt, argon2) protects low-entropy secrets from guessing, which a random 256-bit key does not need,
and it would add milliseconds to every request. A leaked database therefore yields no usable key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from loopstack.errors import InvalidInput, NotFound
from loopstack.store._store import Store
from loopstack.store._types import new_id, utcnow
from loopstack.store.tables import api_keys, projects

KEY_PREFIX = "lsk_"
_SHOWN = 12  # characters of the key kept in clear to recognise it in listings


def hash_key(key: str) -> str:
    """The stored form of ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A key as listed (never the secret itself)."""

    id: str
    name: str
    prefix: str
    project: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "project": self.project,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class KeyOwner:
    """Who a presented key belongs to."""

    key_id: str
    project_id: str
    project: str


def create_key(store: Store, name: str, project: str) -> tuple[str, ApiKey]:
    """A new key for ``project``: the secret (show it once, it is not stored) and its listing."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("key name must be 1 to 200 characters")
    project_id = store.project_id(project)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    key_id = new_id()
    row: dict[str, Any] = {
        "id": key_id,
        "project_id": project_id,
        "name": name,
        "prefix": secret[:_SHOWN],
        "key_hash": hash_key(secret),
        "created_at": now,
    }
    with store.write() as conn:
        conn.execute(api_keys.insert().values(**row))
    return secret, ApiKey(key_id, name, secret[:_SHOWN], project, now, None, None)


def list_keys(store: Store, project: str | None = None) -> list[ApiKey]:
    """Every key (of ``project`` when given), newest first."""
    stmt = (
        select(api_keys, projects.c.name.label("project"))
        .join(projects, projects.c.id == api_keys.c.project_id)
        .order_by(api_keys.c.created_at.desc())
    )
    if project is not None:
        stmt = stmt.where(projects.c.name == project)
    with store.read() as conn:
        return [
            ApiKey(r.id, r.name, r.prefix, r.project, r.created_at, r.last_used_at, r.revoked_at)
            for r in conn.execute(stmt)
        ]


def revoke_key(store: Store, ref: str) -> ApiKey:
    """Revoke the key whose id, prefix or name is ``ref`` (it must match exactly one live key)."""
    live = [k for k in list_keys(store) if k.revoked_at is None and ref in (k.id, k.prefix, k.name)]
    if not live:
        raise NotFound(f"no active API key with id, prefix or name {ref!r}")
    if len(live) > 1:
        raise InvalidInput(f"{len(live)} active keys match {ref!r}; give the key id or prefix")
    key = live[0]
    now = utcnow()
    with store.write() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=now))
    return ApiKey(key.id, key.name, key.prefix, key.project, key.created_at, key.last_used_at, now)


def find_owner(conn: Connection, secret: str) -> KeyOwner | None:
    """The live key matching ``secret`` and its project, or None."""
    stmt = (
        select(api_keys.c.id, api_keys.c.project_id, projects.c.name)
        .join(projects, projects.c.id == api_keys.c.project_id)
        .where(api_keys.c.key_hash == hash_key(secret), api_keys.c.revoked_at.is_(None))
    )
    row = conn.execute(stmt).first()
    return None if row is None else KeyOwner(row.id, row.project_id, row.name)


def touch_key(conn: Connection, key_id: str) -> None:
    """Record that a key was just used."""
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=utcnow()))


def key_counts(conn: Connection) -> tuple[int, int]:
    """How many keys exist and how many of them are revoked: one cheap query whose answer changes
    whenever a key is created or revoked (the server polls it to drop cached answers)."""
    stmt = select(func.count(), func.count(api_keys.c.revoked_at)).select_from(api_keys)
    total, revoked = conn.execute(stmt).one()
    return int(total), int(revoked)


def any_active_key(conn: Connection) -> bool:
    """True when at least one key is live (then the server requires one on every request)."""
    stmt = select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None)).limit(1)
    return conn.execute(stmt).first() is not None


__all__ = [
    "ApiKey",
    "KeyOwner",
    "any_active_key",
    "create_key",
    "find_owner",
    "hash_key",
    "key_counts",
    "list_keys",
    "revoke_key",
    "touch_key",
]
