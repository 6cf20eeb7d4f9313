"""Span and score reads for online evaluators and alert rules: filtered selections and window figures.

One filter shape (``SpanMatch``) serves both: prompt name/version, model, span kind and name, status,
environment, attribute equality and tags. Every condition is SQL on both dialects (attributes through
``json_extract`` on SQLite and JSONB containment on PostgreSQL), so a window's figures are one grouped
query and the evaluator's selection never loads spans it will not score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB

from loopstack.store.environments import environment_clause
from loopstack.store.scores import FEEDBACK_SOURCES
from loopstack.store.tables import scores, spans

AttrValue = str | int | float | bool


@dataclass(frozen=True)
class SpanMatch:
    """Which spans a rule looks at; None / empty means no condition."""

    prompt_name: str | None = None
    prompt_version: int | None = None
    model: str | None = None
    kind: str | None = None
    name: str | None = None
    status: str | None = None
    environment: str | None = None
    """None: every environment but ``eval`` (production views); ``all``: everything; else that one."""
    attributes: Mapping[str, AttrValue] = field(default_factory=dict)
    tags: Sequence[str] = ()

    def clauses(self, project_id: str, dialect: str) -> list[Any]:
        """SQL conditions for this filter within ``project_id``."""
        c = spans.c
        where: list[Any] = [c.project_id == project_id]
        env = environment_clause(c.environment, self.environment)
        if env is not None:
            where.append(env)
        for column, wanted in (
            (c.prompt_name, self.prompt_name),
            (c.prompt_version, self.prompt_version),
            (c.model, self.model),
            (c.kind, self.kind),
            (c.name, self.name),
            (c.status_code, self.status.upper() if self.status else None),
        ):
            if wanted is not None:
                where.append(column == wanted)
        for i, (key, value) in enumerate(sorted(self.attributes.items())):
            where.append(_attribute_equals(dialect, key, value, i))
        for i, tag in enumerate(self.tags):
            where.append(_has_tag(dialect, tag, i))
        return where


def _attribute_equals(dialect: str, key: str, value: AttrValue, i: int) -> Any:
    if dialect == "postgresql":
        return spans.c.attributes.op("@>")(bindparam(f"attr_{i}", {key: value}, type_=JSONB))
    extracted = func.json_extract(spans.c.attributes, bindparam(f"attr_path_{i}", '$."' + key + '"'))
    stored = int(value) if isinstance(value, bool) else value
    return extracted == bindparam(f"attr_{i}", stored)


def _has_tag(dialect: str, tag: str, i: int) -> Any:
    if dialect == "postgresql":
        return spans.c.tags.op("@>")(bindparam(f"tag_{i}", [tag], type_=JSONB))
    return text(f"EXISTS (SELECT 1 FROM json_each(spans.tags) WHERE json_each.value = :tag_{i})").bindparams(
        **{f"tag_{i}": tag}
    )


# ------------------------------------------------------------------------------------------ selections

#: Columns an evaluator reads to build its sample (never the resource or events).
SAMPLE_COLUMNS = (
    spans.c.id,
    spans.c.trace_id,
    spans.c.span_id,
    spans.c.parent_span_id,
    spans.c.name,
    spans.c.kind,
    spans.c.start_time,
    spans.c.duration_ms,
    spans.c.status_code,
    spans.c.status_message,
    spans.c.model,
    spans.c.input_tokens,
    spans.c.output_tokens,
    spans.c.cost,
    spans.c.input,
    spans.c.output,
    spans.c.prompt_name,
    spans.c.prompt_version,
    spans.c.user_id,
    spans.c.session_id,
    spans.c.attributes,
    spans.c.ingested_at,
)


def ingested_keys(
    conn: Connection,
    project_id: str,
    match: SpanMatch,
    after: tuple[datetime, str] | None,
    upto: datetime,
    limit: int,
    *,
    roots_only: bool = False,
) -> list[tuple[datetime, str, str]]:
    """``(ingested_at, row id, trace id)`` of matching spans ingested after the ``after`` key and at or
    before ``upto``, in ingest order: the cheap first pass before sampling."""
    c = spans.c
    where = match.clauses(project_id, conn.dialect.name)
    where.append(c.ingested_at <= upto)
    if after is not None:
        at, last_id = after
        where.append(or_(c.ingested_at > at, and_(c.ingested_at == at, c.id > last_id)))
    if roots_only:
        where.append(c.parent_span_id.is_(None))
    stmt = select(c.ingested_at, c.id, c.trace_id).where(*where).order_by(c.ingested_at, c.id).limit(limit)
    return [(r.ingested_at, r.id, r.trace_id) for r in conn.execute(stmt)]


def count_ingested(
    conn: Connection, project_id: str, match: SpanMatch, after: tuple[datetime, str] | None, upto: datetime
) -> int:
    """How many matching spans were ingested after ``after`` and at or before ``upto``."""
    c = spans.c
    where = match.clauses(project_id, conn.dialect.name)
    where.append(c.ingested_at <= upto)
    if after is not None:
        where.append(or_(c.ingested_at > after[0], and_(c.ingested_at == after[0], c.id > after[1])))
    return int(conn.execute(select(func.count()).select_from(spans).where(*where)).scalar_one())


def started_keys(
    conn: Connection,
    project_id: str,
    match: SpanMatch,
    start: datetime,
    end: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
    *,
    roots_only: bool = False,
) -> list[tuple[datetime, str, str, int, str]]:
    """``(start_time, row id, trace id, characters of input + output, span id)`` of matching spans that
    started in ``[start, end)``, keyset-paged after ``after`` (a backfill's cursor; the length prices a
    preview)."""
    c = spans.c
    where = match.clauses(project_id, conn.dialect.name)
    where += [c.start_time >= start, c.start_time < end]
    if after is not None:
        where.append(or_(c.start_time > after[0], and_(c.start_time == after[0], c.id > after[1])))
    if roots_only:
        where.append(c.parent_span_id.is_(None))
    chars = func.coalesce(func.length(c.input), 0) + func.coalesce(func.length(c.output), 0)
    stmt = (
        select(c.start_time, c.id, c.trace_id, chars, c.span_id)
        .where(*where)
        .order_by(c.start_time, c.id)
        .limit(limit)
    )
    return [(r[0], r[1], r[2], int(r[3]), r[4]) for r in conn.execute(stmt)]


def rows_matching(conn: Connection, project_id: str, match: SpanMatch, row_ids: Sequence[str]) -> set[str]:
    """Which of the span rows ``row_ids`` match ``match``."""
    if not row_ids:
        return set()
    where = [*match.clauses(project_id, conn.dialect.name), spans.c.id.in_(list(row_ids))]
    return {r[0] for r in conn.execute(select(spans.c.id).where(*where))}


def traces_matching(
    conn: Connection, project_id: str, match: SpanMatch, trace_ids: Sequence[str]
) -> set[str]:
    """Which of ``trace_ids`` hold at least one span matching ``match`` (trace-level evaluators)."""
    found: set[str] = set()
    ids = list(set(trace_ids))
    for i in range(0, len(ids), 500):
        where = [*match.clauses(project_id, conn.dialect.name), spans.c.trace_id.in_(ids[i : i + 500])]
        found.update(r[0] for r in conn.execute(select(spans.c.trace_id).where(*where).distinct()))
    return found


def spans_by_row_id(conn: Connection, row_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The sample columns of the given span rows."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(row_ids), 500):
        chunk = list(row_ids[i : i + 500])
        out += [dict(r._mapping) for r in conn.execute(select(*SAMPLE_COLUMNS).where(spans.c.id.in_(chunk)))]
    return out


def trace_sample_spans(
    conn: Connection, project_id: str, trace_id: str, limit: int = 200
) -> list[dict[str, Any]]:
    """The sample columns of a trace's spans in start order (a trace-level judge sees them all)."""
    stmt = (
        select(*SAMPLE_COLUMNS)
        .where(spans.c.project_id == project_id, spans.c.trace_id == trace_id)
        .order_by(spans.c.start_time, spans.c.span_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def negative_feedback(
    conn: Connection, project_id: str, after: datetime | None, upto: datetime, limit: int
) -> list[dict[str, Any]]:
    """Thumbs-down (a boolean feedback of 0) and corrections (text feedback) created in ``(after, upto]``."""
    s = scores.c
    where = [
        s.project_id == project_id,
        s.source.in_(FEEDBACK_SOURCES),
        s.created_at <= upto,
        or_(and_(s.data_type == "boolean", s.value == 0), s.data_type == "text"),
    ]
    if after is not None:
        where.append(s.created_at > after)
    stmt = (
        select(s.trace_id, s.span_id, s.name, s.data_type, s.string_value, s.created_at)
        .where(*where)
        .order_by(s.created_at)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def corrections(
    conn: Connection, project_id: str, trace_ids: Sequence[str]
) -> dict[tuple[str, str | None], str]:
    """The latest human correction (text feedback) per (trace, span) among ``trace_ids``: a reference
    answer for reference scorers."""
    if not trace_ids:
        return {}
    s = scores.c
    stmt = (
        select(s.trace_id, s.span_id, s.string_value)
        .where(
            s.project_id == project_id,
            s.trace_id.in_(list(trace_ids)),
            s.source.in_(FEEDBACK_SOURCES),
            s.data_type == "text",
        )
        .order_by(s.created_at)
    )
    return {(r.trace_id, r.span_id): r.string_value for r in conn.execute(stmt)}


# ------------------------------------------------------------------------------------- window figures


@dataclass(frozen=True)
class SpanWindow:
    """What the spans of one window add up to."""

    requests: int
    errors: int
    cost: float
    p95_latency_ms: float | None
    top_user: str | None
    top_user_cost: float


def span_window(
    conn: Connection,
    project_id: str,
    match: SpanMatch,
    start: datetime,
    end: datetime,
    *,
    latency: bool = False,
    per_user: bool = False,
) -> SpanWindow:
    """Counts, errors and cost of the matching spans that started in ``[start, end)``; the p95 latency and
    the costliest user only when asked (each is one more query)."""
    c = spans.c
    where = [*match.clauses(project_id, conn.dialect.name), c.start_time >= start, c.start_time < end]
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum((c.status_code == "ERROR").cast(Integer)), 0),
            func.coalesce(func.sum(c.cost), 0.0),
        ).where(*where)
    ).one()
    requests, errors, cost = int(row[0]), int(row[1]), float(row[2])
    p95: float | None = None
    if latency and requests:
        timed = [*where, c.duration_ms.is_not(None)]
        n = int(conn.execute(select(func.count()).where(*timed)).scalar_one())
        if n:
            rank = max(0, -(-95 * n // 100) - 1)  # nearest-rank p95
            p95 = conn.execute(
                select(c.duration_ms).where(*timed).order_by(c.duration_ms).offset(rank).limit(1)
            ).scalar()
    top_user, top_cost = None, 0.0
    if per_user and requests:
        total = func.sum(c.cost).label("user_cost")
        found = conn.execute(
            select(c.user_id, total)
            .where(*where, c.user_id.is_not(None), c.cost.is_not(None))
            .group_by(c.user_id)
            .order_by(literal_column("user_cost").desc())
            .limit(1)
        ).first()
        if found is not None:
            top_user, top_cost = found[0], float(found[1] or 0.0)
    return SpanWindow(requests, errors, cost, p95, top_user, top_cost)


@dataclass(frozen=True)
class ScoreWindow:
    """The values of one score name in a window: count, sum and sum of squares (a mean and its variance)."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


def score_window(
    conn: Connection,
    project_id: str,
    start: datetime,
    end: datetime,
    *,
    name: str | None = None,
    feedback: bool = False,
    boolean: bool = False,
    source: str | None = None,
) -> ScoreWindow:
    """Numeric scores created in ``[start, end)``: of ``name`` (any name when None), user feedback only
    with ``feedback``, true/false scores only with ``boolean``; errored scores are left out."""
    s = scores.c
    where = [
        s.project_id == project_id,
        s.created_at >= start,
        s.created_at < end,
        s.value.is_not(None),
        s.error.is_(None),
        s.target_type != "run_item",
    ]
    if name is not None:
        where.append(s.name == name)
    if feedback:
        where.append(s.source.in_(FEEDBACK_SOURCES))
    if source is not None:
        where.append(s.source == source)
    if boolean:
        where.append(s.data_type == "boolean")
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(s.value), 0.0),
            func.coalesce(func.sum(s.value * s.value), 0.0),
        ).where(*where)
    ).one()
    return ScoreWindow(int(row[0]), float(row[1]), float(row[2]))
