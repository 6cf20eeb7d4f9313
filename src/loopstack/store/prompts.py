"""SQL repository for prompts: prompt rows, immutable versions, labels and the label-move log.

Functions take an open Core connection so the registry decides transaction boundaries; every statement
is portable between SQLite and PostgreSQL. ``resolve_query`` is the lean one-round-trip fetch the SDK
uses on a cache miss.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, func, insert, select, update

from loopstack.store._types import new_id
from loopstack.store.tables import (
    projects,
    prompt_label_events,
    prompt_labels,
    prompt_versions,
    prompts,
)

_VERSION_COLUMNS = (
    prompts.c.name,
    prompt_versions.c.description,
    prompt_versions.c.version,
    prompt_versions.c.messages,
    prompt_versions.c.config,
    prompt_versions.c.content_hash,
    prompt_versions.c.message,
    prompt_versions.c.author,
    prompt_versions.c.created_at,
)


def prompt_id(conn: Connection, project_id: str, name: str, *, for_update: bool = False) -> str | None:
    """The id of prompt ``name`` in the project, optionally locking its row until the transaction ends."""
    stmt = select(prompts.c.id).where(prompts.c.project_id == project_id, prompts.c.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    found = conn.execute(stmt).scalar()
    return None if found is None else str(found)


def lock_or_create_prompt(conn: Connection, project_id: str, name: str, now: datetime) -> str:
    """Insert the prompt row if missing, then lock it (``FOR UPDATE`` on PostgreSQL).

    The lock serialises concurrent pushers of one prompt so each gets the next version number; on SQLite
    the write transaction (``BEGIN IMMEDIATE``) already serialises them.
    """
    values = {"id": new_id(), "project_id": project_id, "name": name}
    ins: Any
    if conn.dialect.name == "postgresql":  # each dialect's module is loaded by its own connections only
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        ins = pg_insert(prompts).values(**values, created_at=now).on_conflict_do_nothing()
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ins = sqlite_insert(prompts).values(**values, created_at=now).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two dialects are supported
        ins = insert(prompts).values(**values, created_at=now)
    conn.execute(ins)
    pid = prompt_id(conn, project_id, name, for_update=True)
    assert pid is not None
    return pid


def version_with_hash(conn: Connection, pid: str, content_hash: str) -> int | None:
    """The lowest version of the prompt whose content hash is ``content_hash``."""
    found = conn.execute(
        select(func.min(prompt_versions.c.version)).where(
            prompt_versions.c.prompt_id == pid, prompt_versions.c.content_hash == content_hash
        )
    ).scalar()
    return None if found is None else int(found)


def max_version(conn: Connection, pid: str) -> int:
    """The highest version number of the prompt (0 when it has none)."""
    found = conn.execute(
        select(func.max(prompt_versions.c.version)).where(prompt_versions.c.prompt_id == pid)
    ).scalar()
    return int(found or 0)


def insert_version(
    conn: Connection,
    pid: str,
    version: int,
    *,
    messages: list[dict[str, str]],
    config: dict[str, Any],
    content_hash: str,
    message: str | None,
    description: str | None,
    author: str | None,
    now: datetime,
) -> None:
    """Add one immutable version row (its description included: it belongs to the version)."""
    conn.execute(
        insert(prompt_versions).values(
            id=new_id(),
            prompt_id=pid,
            version=version,
            messages=messages,
            config=config,
            content_hash=content_hash,
            message=message,
            description=description,
            author=author,
            created_at=now,
        )
    )


def version_description(conn: Connection, pid: str, version: int) -> str | None:
    """The description stored with one version."""
    found = conn.execute(
        select(prompt_versions.c.description).where(
            prompt_versions.c.prompt_id == pid, prompt_versions.c.version == version
        )
    ).scalar()
    return None if found is None else str(found)


def version_exists(conn: Connection, pid: str, version: int) -> bool:
    """Whether the prompt has this version."""
    stmt = select(prompt_versions.c.id).where(
        prompt_versions.c.prompt_id == pid, prompt_versions.c.version == version
    )
    return conn.execute(stmt).first() is not None


def labels(conn: Connection, pid: str) -> dict[str, int]:
    """Every label of the prompt and the version it points at."""
    rows = conn.execute(
        select(prompt_labels.c.label, prompt_labels.c.version)
        .where(prompt_labels.c.prompt_id == pid)
        .order_by(prompt_labels.c.label)
    )
    return {str(r.label): int(r.version) for r in rows}


def move_label(
    conn: Connection,
    pid: str,
    label: str,
    version: int,
    *,
    author: str | None,
    message: str | None,
    now: datetime,
) -> int | None:
    """Point ``label`` at ``version`` and log the move; returns the version it pointed at before.

    Moving a label to where it already points writes nothing.
    """
    current = conn.execute(
        select(prompt_labels.c.version).where(
            prompt_labels.c.prompt_id == pid, prompt_labels.c.label == label
        )
    ).scalar()
    if current is not None and int(current) == version:
        return version
    if current is None:
        conn.execute(
            insert(prompt_labels).values(
                id=new_id(), prompt_id=pid, label=label, version=version, updated_at=now, updated_by=author
            )
        )
    else:
        conn.execute(
            update(prompt_labels)
            .where(prompt_labels.c.prompt_id == pid, prompt_labels.c.label == label)
            .values(version=version, updated_at=now, updated_by=author)
        )
    conn.execute(
        insert(prompt_label_events).values(
            id=new_id(),
            prompt_id=pid,
            label=label,
            from_version=None if current is None else int(current),
            to_version=version,
            author=author,
            message=message,
            created_at=now,
        )
    )
    return None if current is None else int(current)


def last_label_event(conn: Connection, pid: str, label: str) -> Row[Any] | None:
    """The most recent move of ``label``."""
    return conn.execute(
        select(prompt_label_events)
        .where(prompt_label_events.c.prompt_id == pid, prompt_label_events.c.label == label)
        .order_by(prompt_label_events.c.created_at.desc(), prompt_label_events.c.id.desc())
        .limit(1)
    ).first()


def label_events(conn: Connection, pid: str) -> Sequence[Row[Any]]:
    """Every label move of the prompt, oldest first."""
    return conn.execute(
        select(prompt_label_events)
        .where(prompt_label_events.c.prompt_id == pid)
        .order_by(prompt_label_events.c.created_at, prompt_label_events.c.id)
    ).all()


def version_rows(conn: Connection, pid: str) -> Sequence[Row[Any]]:
    """Every version of the prompt, oldest first (same columns as ``resolve_query``)."""
    return conn.execute(  # type: ignore[return-value]
        select(*_VERSION_COLUMNS)
        .join(prompt_versions, prompt_versions.c.prompt_id == prompts.c.id)
        .where(prompts.c.id == pid)
        .order_by(prompt_versions.c.version)
    ).all()


def version_range(conn: Connection, pid: str) -> tuple[int, int] | None:
    """(lowest, highest) version number, or None when the prompt has no versions."""
    row = conn.execute(
        select(func.min(prompt_versions.c.version), func.max(prompt_versions.c.version)).where(
            prompt_versions.c.prompt_id == pid
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


@functools.lru_cache(maxsize=512)
def resolve_query(project: str, name: str, *, label: str | None, version: int | None) -> Select[Any]:
    """One statement that fetches a version by number, by label, or the latest (both ``None``).

    It joins through the project by name so a fetch is a single round trip with no writes. Statements
    are immutable, so they are built once per key (building one costs more than running it on SQLite).
    """
    base = (
        select(*_VERSION_COLUMNS)
        .select_from(projects)
        .join(prompts, and_(prompts.c.project_id == projects.c.id, prompts.c.name == name))
    )
    if version is not None:
        stmt = base.join(
            prompt_versions,
            and_(prompt_versions.c.prompt_id == prompts.c.id, prompt_versions.c.version == version),
        )
    elif label is not None:
        stmt = base.join(
            prompt_labels, and_(prompt_labels.c.prompt_id == prompts.c.id, prompt_labels.c.label == label)
        ).join(
            prompt_versions,
            and_(
                prompt_versions.c.prompt_id == prompts.c.id,
                prompt_versions.c.version == prompt_labels.c.version,
            ),
        )
    else:
        stmt = (
            base.join(prompt_versions, prompt_versions.c.prompt_id == prompts.c.id)
            .order_by(prompt_versions.c.version.desc())
            .limit(1)
        )
    return stmt.where(projects.c.name == project)


def list_rows(conn: Connection, project_id: str) -> Sequence[Row[Any]]:
    """One row per prompt: name, latest version, its description and when it was pushed."""
    latest = (
        select(
            prompt_versions.c.prompt_id,
            func.max(prompt_versions.c.version).label("latest"),
            func.max(prompt_versions.c.created_at).label("updated_at"),
        )
        .group_by(prompt_versions.c.prompt_id)
        .subquery()
    )
    top = prompt_versions.alias("top")
    return conn.execute(  # type: ignore[return-value]
        select(
            prompts.c.id,
            prompts.c.name,
            top.c.description,
            latest.c.latest,
            latest.c.updated_at,
        )
        .outerjoin(latest, latest.c.prompt_id == prompts.c.id)
        .outerjoin(top, and_(top.c.prompt_id == prompts.c.id, top.c.version == latest.c.latest))
        .where(prompts.c.project_id == project_id)
        .order_by(prompts.c.name)
    ).all()


def all_labels(conn: Connection, project_id: str) -> dict[str, dict[str, int]]:
    """prompt id -> {label: version} for every prompt of the project."""
    rows = conn.execute(
        select(prompt_labels.c.prompt_id, prompt_labels.c.label, prompt_labels.c.version)
        .join(prompts, prompts.c.id == prompt_labels.c.prompt_id)
        .where(prompts.c.project_id == project_id)
        .order_by(prompt_labels.c.label)
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(str(r.prompt_id), {})[str(r.label)] = int(r.version)
    return out


def prompt_names(conn: Connection, project_id: str) -> list[str]:
    """Names of the project's prompts, sorted."""
    rows = conn.execute(
        select(prompts.c.name).where(prompts.c.project_id == project_id).order_by(prompts.c.name)
    )
    return [str(r[0]) for r in rows]
