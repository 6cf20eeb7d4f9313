"""Spans repository: the ONE mapping from an OpenTelemetry span to a ``spans`` row, writes and queries.

Both the server's OTLP ingest and the SDK's local exporter turn what they receive into ``SpanRecord``s
and persist them with ``span_row`` + ``insert_span_rows``, so a span lands the same way whichever path it
took. The mapping itself (conventions → columns) lives in ``_spanmap``; prices come in as a callable.

Reads go through ``SpanRepository(store, project)``. The write path stays module functions on a
connection: ingest is the hot path (batches of thousands of rows built once and inserted in the
caller's transaction), and it has no per-project state for a repository object to hold.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Integer, and_, func, select

from loopstack.store._repository import ProjectRepository
from loopstack.store._spanmap import (
    MAX_TEXT,
    CostFn,
    PriceLookup,
    SpanCost,
    SpanRecord,
    span_row,
)
from loopstack.store._types import utcnow
from loopstack.store.environments import environment_clause
from loopstack.store.tables import spans
from loopstack.store.tracelist import PAGE_SIZE, TraceFilters, TraceRow, filter_options, trace_page

__all__ = [
    "MAX_TEXT",
    "CostFn",
    "PriceLookup",
    "SpanCost",
    "SpanFilter",
    "SpanRecord",
    "SpanRepository",
    "TraceFilters",
    "TraceRow",
    "get_trace_spans",
    "insert_span_rows",
    "insert_span_values",
    "list_spans",
    "list_traces",
    "span_row",
    "span_values",
    "write_spans",
]

#: Deepest nesting kept in a JSON column (orjson refuses deeper); deeper parts are kept as text.
MAX_JSON_DEPTH = 64
_INT64 = 2**63


_COLUMNS = tuple(c.name for c in spans.columns)
_JSON_COLUMNS = frozenset({"tags", "attributes", "resource", "events"})
_TIME_COLUMNS = frozenset({"start_time", "end_time", "ingested_at"})
_JSON_INDEXES = tuple(i for i, name in enumerate(_COLUMNS) if name in _JSON_COLUMNS)
_TIME_INDEXES = tuple(i for i, name in enumerate(_COLUMNS) if name in _TIME_COLUMNS)
_ROW_GETTER = operator.itemgetter(*_COLUMNS)


def _storable(value: Any, depth: int = 0) -> Any:
    """``value`` with what no JSON column on either dialect takes made storable: NULs stripped
    (PostgreSQL's JSONB refuses ``\\u0000``), integers beyond 64 bits and too-deep parts as text."""
    if isinstance(value, str):
        value = value.replace("\x00", "") if "\x00" in value else value
        return value.encode("utf-8", "replace").decode("utf-8")
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if depth >= MAX_JSON_DEPTH:
        return _storable(str(value)[:MAX_TEXT])
    if isinstance(value, Mapping):
        return {_storable(str(k)): _storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v, depth + 1) for v in value]
    return _storable(str(value))


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = orjson.dumps(value, default=str).decode()
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        return orjson.dumps(_storable(value)).decode()
    if "\\u0000" in text:  # cheap test first: a NUL anywhere in the value (or a literal "\u0000")
        return orjson.dumps(_storable(value)).decode()
    return text


def _sqlite_time(value: datetime | None) -> str | None:
    # The text form SQLAlchemy's SQLite DateTime reads back: naive UTC, always six fractional digits.
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def span_values(rows: Sequence[dict[str, Any]], dialect: str) -> list[tuple[Any, ...]]:
    """``rows`` as the parameter tuples ``insert_span_values`` takes, for ``dialect``.

    Values are prepared here, not by SQLAlchemy's generic per-row bind processing (about 5x the cost
    of the insert itself at ingest rates): JSON via orjson, and on SQLite the UTC text SQLAlchemy's
    DateTime reads back, so Core queries see exactly what a Core insert would have stored.
    """
    convert: list[tuple[int, Callable[[Any], Any]]] = [(i, _json) for i in _JSON_INDEXES]
    if dialect == "sqlite":
        convert += [(i, _sqlite_time) for i in _TIME_INDEXES]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(_ROW_GETTER(row))
        for i, fn in convert:
            values[i] = fn(values[i])
        out.append(tuple(values))
    return out


def insert_span_values(conn: Connection, values: Sequence[tuple[Any, ...]]) -> None:
    """Insert prepared rows (``span_values``) in one executemany, ignoring spans already stored."""
    if not values:
        return
    placeholder = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (
        f"INSERT INTO spans ({', '.join(_COLUMNS)}) VALUES ({', '.join([placeholder] * len(_COLUMNS))}) "
        "ON CONFLICT DO NOTHING"
    )
    conn.exec_driver_sql(sql, list(values))


def insert_span_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``span_row`` rows, ignoring any span already stored: a retried batch never duplicates."""
    insert_span_values(conn, span_values(rows, conn.dialect.name))


def write_spans(
    store: Any, project_id: str, records: Iterable[SpanRecord], *, cost: CostFn | None = None
) -> int:
    """Map (pricing usage with ``cost``) and store ``records`` in one transaction; how many were given."""
    now = utcnow()
    rows = [span_row(r, project_id, now, cost=cost) for r in records]
    with store.write() as conn:
        insert_span_rows(conn, rows)
    return len(rows)


# ---------------------------------------------------------------------------------------------- queries


@dataclass(slots=True)
class SpanFilter:
    """Filters shared by the span and trace listings; None means no filter."""

    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    session_id: str | None = None
    user_id: str | None = None
    status: str | None = None
    min_latency_ms: float | None = None
    q: str | None = None
    trace_id: str | None = None
    name: str | None = None
    environment: str | None = None
    """None: every environment but ``eval``; ``all``: everything; else that one."""

    def clauses(self, project_id: str) -> list[Any]:
        """SQL conditions for these filters within ``project_id``."""
        c = spans.c
        where: list[Any] = [c.project_id == project_id]
        env = environment_clause(c.environment, self.environment)
        if env is not None:
            where.append(env)
        if self.start is not None:
            where.append(c.start_time >= self.start)
        if self.end is not None:
            where.append(c.start_time < self.end)
        if self.model:
            where.append(c.model == self.model)
        if self.prompt_name:
            where.append(c.prompt_name == self.prompt_name)
        if self.prompt_version is not None:
            where.append(c.prompt_version == self.prompt_version)
        if self.session_id:
            where.append(c.session_id == self.session_id)
        if self.user_id:
            where.append(c.user_id == self.user_id)
        if self.status:
            where.append(c.status_code == self.status.upper())
        if self.min_latency_ms is not None:
            where.append(c.duration_ms >= self.min_latency_ms)
        if self.trace_id:
            where.append(c.trace_id == self.trace_id)
        if self.name:
            where.append(c.name == self.name)
        if self.q:
            where.append(
                c.name.icontains(self.q, autoescape=True)
                | c.input.icontains(self.q, autoescape=True)
                | c.output.icontains(self.q, autoescape=True)
            )
        return where


def list_spans(
    conn: Connection, project_id: str, filters: SpanFilter, *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Spans matching ``filters``, newest first (inside the caller's transaction; see SpanRepository)."""
    stmt = (
        select(spans)
        .where(and_(*filters.clauses(project_id)))
        .order_by(spans.c.start_time.desc(), spans.c.span_id)
        .limit(limit)
        .offset(offset)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def list_traces(
    conn: Connection, project_id: str, filters: SpanFilter, *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Traces with at least one span matching ``filters``, newest first, with totals and the root span.

    The page of trace ids is chosen from the matching spans alone (one grouped scan, bounded by the
    time filter through the (project, start_time) index); totals are then computed for that page only.
    """
    c = spans.c
    first_match = func.min(c.start_time).label("first_match")
    page_stmt = (
        select(c.trace_id, first_match)
        .where(and_(*filters.clauses(project_id)))
        .group_by(c.trace_id)
        .order_by(first_match.desc(), c.trace_id)
        .limit(limit)
        .offset(offset)
    )
    page = [row.trace_id for row in conn.execute(page_stmt)]
    if not page:
        return []
    totals_stmt = (
        select(
            c.trace_id,
            func.min(c.start_time).label("start_time"),
            func.max(c.end_time).label("end_time"),
            func.count().label("span_count"),
            func.sum(c.input_tokens).label("input_tokens"),
            func.sum(c.output_tokens).label("output_tokens"),
            func.sum(c.cost).label("cost"),
            func.max(c.duration_ms).label("duration_ms"),
            func.sum((c.status_code == "ERROR").cast(Integer)).label("error_count"),
        )
        .where(c.project_id == project_id, c.trace_id.in_(page))
        .group_by(c.trace_id)
    )
    totals = {row.trace_id: dict(row._mapping) for row in conn.execute(totals_stmt)}
    roots: dict[str, dict[str, Any]] = {}
    root_cols = (c.trace_id, c.span_id, c.name, c.input, c.output, c.session_id, c.user_id, c.model, c.tags)
    root_stmt = (
        select(*root_cols)
        .where(c.project_id == project_id, c.trace_id.in_(page), c.parent_span_id.is_(None))
        .order_by(c.start_time)
    )
    for row in conn.execute(root_stmt):
        roots.setdefault(row.trace_id, dict(row._mapping))
    traces = []
    for trace_id in page:
        t = totals[trace_id]
        root = roots.get(trace_id, {})
        t["status"] = "ERROR" if t.pop("error_count") else "OK"
        for key in ("name", "input", "output", "session_id", "user_id", "tags"):
            t[key] = root.get(key)
        t["root_span_id"] = root.get("span_id")
        traces.append(t)
    return traces


def get_trace_spans(
    conn: Connection,
    project_id: str,
    trace_id: str,
    *,
    limit: int | None = None,
    after: tuple[datetime, str] | None = None,
    span_id: str | None = None,
) -> list[dict[str, Any]]:
    """Spans of ``trace_id`` in ``project_id`` in start order: all of them, or ``limit`` of them that come
    after the ``(start_time, span_id)`` of the last span of a previous page (span ids are unique within
    a trace, so that pair orders every span exactly once); ``span_id`` keeps that one span only.

    Takes a connection so another repository can read spans inside its own transaction; callers
    outside ``store/`` use ``SpanRepository.trace_spans``."""
    c = spans.c
    stmt = select(spans).where(c.project_id == project_id, c.trace_id == trace_id)
    if span_id is not None:
        stmt = stmt.where(c.span_id == span_id)
    if after is not None:
        start, last_id = after
        stmt = stmt.where((c.start_time > start) | ((c.start_time == start) & (c.span_id > last_id)))
    stmt = stmt.order_by(c.start_time, c.span_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


class SpanRepository(ProjectRepository):
    """Read the spans and traces of one project: the listings and one trace's spans."""

    def list_spans(self, filters: SpanFilter, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Spans matching ``filters``, newest first."""
        with self.store.read() as conn:
            return list_spans(conn, self.project_id, filters, limit=limit, offset=offset)

    def list_traces(self, filters: SpanFilter, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Traces with a span matching ``filters``, newest first, with totals and the root span."""
        with self.store.read() as conn:
            return list_traces(conn, self.project_id, filters, limit=limit, offset=offset)

    def trace_spans(
        self,
        trace_id: str,
        *,
        limit: int | None = None,
        after: tuple[datetime, str] | None = None,
        span_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Spans of ``trace_id`` in start order, paged as ``get_trace_spans`` describes."""
        with self.store.read() as conn:
            return get_trace_spans(conn, self.project_id, trace_id, limit=limit, after=after, span_id=span_id)

    def trace_page(
        self, filters: TraceFilters, cursor: str | None = None, limit: int = PAGE_SIZE
    ) -> tuple[list[TraceRow], str | None]:
        """One page of the trace list (root spans with totals), newest first, and the next cursor."""
        with self.store.read() as conn:
            return trace_page(conn, self.project_id, filters, cursor, limit)

    def filter_options(self) -> dict[str, list[str]]:
        """Models, prompt versions and environments of the most recent spans, to offer as filters."""
        with self.store.read() as conn:
            return filter_options(conn, self.project_id)
