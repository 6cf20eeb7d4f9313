"""Judgements made in the UI: each one is a ``scores`` row with source ``human``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from loopstack.store import Store, new_id, utcnow
from loopstack.store.tables import scores


def add_human_score(
    store: Store,
    project_id: str,
    *,
    name: str,
    author: str,
    trace_id: str | None = None,
    span_id: str | None = None,
    value: float | None = None,
    string_value: str | None = None,
    data_type: str = "numeric",
    comment: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Store one human judgement on a trace (or one of its spans); its id."""
    sid = new_id()
    with store.write() as conn:
        conn.execute(
            insert(scores).values(
                id=sid,
                project_id=project_id,
                target_type="span" if span_id else "trace",
                trace_id=trace_id,
                span_id=span_id,
                name=name,
                data_type=data_type,
                value=value,
                string_value=string_value,
                source="human",
                author=author,
                comment=comment,
                metadata=metadata,
                created_at=utcnow(),
            )
        )
    return sid
