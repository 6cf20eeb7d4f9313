"""Judgements made in the UI: each one is a ``scores`` row with source ``human``."""

from __future__ import annotations

from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository


def add_human_score(
    store: Store,
    project: str,
    *,
    trace_id: str,
    name: str,
    value: bool | float | str,
    author: str,
    span_id: str | None = None,
    data_type: str | None = None,
    comment: str | None = None,
) -> str:
    """Store one human judgement on a trace (or one of its spans) through the scores repository."""
    row = ScoreRepository(store, project).add_score(
        ScoreInput(
            trace_id=trace_id,
            span_id=span_id,
            name=name,
            value=value,
            data_type=data_type,
            source="human",
            author=author,
            comment=comment,
        ),
    )
    return str(row["id"])
