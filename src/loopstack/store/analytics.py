"""Reads for product analytics: requests and boolean user feedback per prompt version or model, by time.

A trace counts once per key (a trace whose ``@observe`` span and model span both name the prompt is
one request), and its feedback is the boolean user feedback scored on it. Eval traffic is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, cast, func, select

from loopstack.store.environments import environment_clause
from loopstack.store.scores import FEEDBACK_SOURCES
from loopstack.store.tables import scores, spans


def _epoch(conn: Connection, column: Any) -> Any:
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), Integer)


def feedback_by(
    conn: Connection, project_id: str, start: datetime, end: datetime, bucket_seconds: int, by: str
) -> tuple[Sequence[Any], Sequence[Any]]:
    """(requests rows: key, version, bucket, traces) and (feedback rows: key, version, bucket, traces
    with feedback, boolean votes, positive votes) for ``by`` = ``prompt`` or ``model``."""
    key = spans.c.prompt_name if by == "prompt" else spans.c.model
    version = spans.c.prompt_version if by == "prompt" else spans.c.provider
    where = [
        spans.c.project_id == project_id,
        spans.c.start_time >= start,
        spans.c.start_time < end,
        key.is_not(None),
    ]
    env = environment_clause(spans.c.environment, None)
    if env is not None:
        where.append(env)
    bucket = (_epoch(conn, spans.c.start_time) // bucket_seconds).label("bucket")
    per_trace = (
        select(spans.c.trace_id, key.label("k"), version.label("v"), func.min(bucket).label("b"))
        .where(*where)
        .group_by(spans.c.trace_id, key, version)
        .subquery()
    )
    requests = conn.execute(
        select(per_trace.c.k, per_trace.c.v, per_trace.c.b, func.count()).group_by(
            per_trace.c.k, per_trace.c.v, per_trace.c.b
        )
    ).all()
    vote = (scores.c.data_type == "boolean") & scores.c.value.is_not(None)
    feedback = conn.execute(
        select(
            per_trace.c.k,
            per_trace.c.v,
            per_trace.c.b,
            func.count(func.distinct(scores.c.trace_id)),
            func.count(scores.c.value).filter(vote),
            func.coalesce(func.sum(scores.c.value).filter(vote), 0),
        )
        .join(scores, scores.c.trace_id == per_trace.c.trace_id)
        .where(scores.c.project_id == project_id, scores.c.source.in_(FEEDBACK_SOURCES))
        .group_by(per_trace.c.k, per_trace.c.v, per_trace.c.b)
    ).all()
    return requests, feedback
