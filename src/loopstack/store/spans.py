"""Spans repository: the ONE mapping from an OpenTelemetry span to a ``spans`` row, writes and queries.

Both the server's OTLP ingest and the SDK's local exporter turn what they receive into ``SpanRecord``s
and persist them with ``span_row`` + ``insert_span_rows``, so a span lands the same way whichever path it
took. Attribute names from the GenAI semantic conventions (old and new), OpenInference and ``loopstack.*``
are mapped into columns; every attribute that does not fill ``input``/``output`` stays in ``attributes``.
"""

from __future__ import annotations

import itertools
import operator
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Integer, and_, func, select

from loopstack import semconv as sc
from loopstack.store._types import utcnow
from loopstack.store.tables import spans

#: Longest text kept in the ``input``/``output`` columns; longer values are cut with a marker.
MAX_TEXT = 1_000_000

_MODEL_KEYS = (sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL, "llm.model_name")
_PROVIDER_KEYS = (sc.GEN_AI_PROVIDER, sc.GEN_AI_SYSTEM, "llm.provider", "llm.system")
_INPUT_TOKEN_KEYS = (sc.GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
_OUTPUT_TOKEN_KEYS = (
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_CACHE_KEYS = (sc.GEN_AI_USAGE_CACHE_READ_TOKENS, "llm.token_count.prompt_details.cache_read")
_REASONING_KEYS = (sc.GEN_AI_USAGE_REASONING_TOKENS, "llm.token_count.completion_details.reasoning")
_COST_KEYS = (sc.COST, "llm.cost.total", "gen_ai.usage.cost")
_INPUT_KEYS = (sc.INPUT, "input.value", "gen_ai.input.messages", "gen_ai.prompt")
_OUTPUT_KEYS = (sc.OUTPUT, "output.value", "gen_ai.output.messages", "gen_ai.completion")
_PROMPT_NAME_KEYS = (sc.PROMPT_NAME, "llm.prompt_template.name")
_PROMPT_VERSION_KEYS = (sc.PROMPT_VERSION, "llm.prompt_template.version")
_SESSION_KEYS = (sc.SESSION_ID, "session.id", sc.GEN_AI_CONVERSATION_ID)
_USER_KEYS = (sc.USER_ID, "user.id", "enduser.id")
_TAG_KEYS = (sc.TAGS, "tag.tags")


@dataclass(slots=True)
class SpanRecord:
    """A span as received, before mapping: hex ids, nanosecond times, plain attribute values."""

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int | None = None
    parent_span_id: str | None = None
    kind: str = "INTERNAL"
    status_code: str = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None


def _first(attrs: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in attrs:
            value = attrs[key]
            if value is not None and value != "":
                return value
    return None


def _first_key(attrs: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        if key in attrs:
            value = attrs[key]
            if value is not None and value != "":
                return key
    return None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:limit]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        import orjson

        value = orjson.dumps(value, default=str).decode()
    assert isinstance(value, str)
    if len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…[truncated]"
    return value


def _tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("["):
            import orjson

            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                return [value]
            return [str(v) for v in parsed] if isinstance(parsed, list) else [value]
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _time(ns: int | None) -> datetime | None:
    if ns is None or ns <= 0:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC)


_MISSING = object()
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
#: (model string, day) -> price row of the models layer (or None); refreshed every minute.
_prices: dict[tuple[str, date], Any] = {}
_prices_at = 0.0
_pricing: Callable[..., Any] | None = None
_pricing_loaded = False


def _pricing_api() -> Callable[..., Any] | None:
    """``price_for`` of the models layer, imported on first use (None if absent)."""
    global _pricing, _pricing_loaded
    if not _pricing_loaded:
        _pricing_loaded = True
        try:
            from loopstack.models import price_for
        except ImportError:
            _pricing = None
        else:
            _pricing = price_for
    return _pricing


def estimate_cost(
    model: str | None,
    provider: str | None,
    usage: dict[str, int | None],
    at: datetime | None = None,
) -> float | None:
    """Cost in USD from the models layer's price table, or None when the model or usage is unknown.

    Price rows are cached per model and day for a minute: ingest maps thousands of spans a second.
    """
    global _prices_at
    if not model or (usage.get("input_tokens") is None and usage.get("output_tokens") is None):
        return None
    price_for = _pricing_api()
    if price_for is None:
        return None
    name = model if "/" in model or not provider else f"{provider.lower()}/{model}"
    now = time.monotonic()
    if now - _prices_at > 60:
        _prices.clear()
        _prices_at = now
    key = (name, (at or utcnow()).date())
    price = _prices.get(key, _MISSING)
    try:
        if price is _MISSING:
            price = price_for(name, at)
            if len(_prices) < 10_000:
                _prices[key] = price
        if price is None:
            return None
        # Price.cost reads four attributes; a namespace of ints avoids building a validated model per span.
        counts = SimpleNamespace(**{name: usage.get(name) or 0 for name in _USAGE_FIELDS})
        return float(price.cost(counts))
    except Exception:  # noqa: BLE001 - an unknown model or a bad price file is not an ingest error
        return None


_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def _reseed_ids() -> None:
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX = os.urandom(8).hex()
    _ID_COUNTER = itertools.count()


if hasattr(os, "register_at_fork"):  # forked workers must not share a prefix and a counter
    os.register_at_fork(after_in_child=_reseed_ids)


def _row_id() -> str:
    """A unique row id shaped like ``new_id()`` (32 hex): a random per-process prefix and a counter.

    Rows are deduplicated on (project, trace id, span id); this id only has to be unique, and at
    ingest rates ``uuid4`` (a syscall per id) is a measurable share of the work.
    """
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def span_row(record: SpanRecord, project_id: str, ingested_at: datetime | None = None) -> dict[str, Any]:
    """The ``spans`` row for ``record`` in ``project_id``: the one attribute mapping Loopstack uses."""
    attrs = record.attributes
    start = _time(record.start_ns) or utcnow()
    end = _time(record.end_ns)
    duration = (record.end_ns - record.start_ns) / 1e6 if record.end_ns and record.start_ns else None
    model = _str(_first(attrs, _MODEL_KEYS), 300)
    provider = _str(_first(attrs, _PROVIDER_KEYS), 100)
    input_tokens = _int(_first(attrs, _INPUT_TOKEN_KEYS))
    output_tokens = _int(_first(attrs, _OUTPUT_TOKEN_KEYS))
    cache_read_tokens = _int(_first(attrs, _CACHE_KEYS))
    reasoning_tokens = _int(_first(attrs, _REASONING_KEYS))
    cost = _float(_first(attrs, _COST_KEYS))
    if cost is None:
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": cache_read_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        cost = estimate_cost(model, provider, usage, start)
    input_key = _first_key(attrs, _INPUT_KEYS)
    output_key = _first_key(attrs, _OUTPUT_KEYS)
    kept = attrs
    if input_key or output_key:
        kept = {k: v for k, v in attrs.items() if k != input_key and k != output_key}
    return {
        "id": _row_id(),
        "project_id": project_id,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "parent_span_id": record.parent_span_id or None,
        "name": (record.name or "span")[:500],
        "kind": record.kind,
        "start_time": start,
        "end_time": end,
        "duration_ms": duration,
        "status_code": record.status_code,
        "status_message": record.status_message or None,
        "service_name": _str(record.resource.get("service.name")),
        "model": model,
        "provider": provider,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "reasoning_tokens": reasoning_tokens,
        "cost": cost,
        "input": _text(attrs[input_key]) if input_key else None,
        "output": _text(attrs[output_key]) if output_key else None,
        "prompt_name": _str(_first(attrs, _PROMPT_NAME_KEYS)),
        "prompt_version": _int(_first(attrs, _PROMPT_VERSION_KEYS)),
        "session_id": _str(_first(attrs, _SESSION_KEYS)),
        "user_id": _str(_first(attrs, _USER_KEYS)),
        "tags": _tags(_first(attrs, _TAG_KEYS)),
        "attributes": kept or None,
        "resource": record.resource or None,
        "events": record.events or None,
        "ingested_at": ingested_at or utcnow(),
    }


_COLUMNS = tuple(c.name for c in spans.columns)
_JSON_COLUMNS = frozenset({"tags", "attributes", "resource", "events"})
_TIME_COLUMNS = frozenset({"start_time", "end_time", "ingested_at"})
_JSON_INDEXES = tuple(i for i, name in enumerate(_COLUMNS) if name in _JSON_COLUMNS)
_TIME_INDEXES = tuple(i for i, name in enumerate(_COLUMNS) if name in _TIME_COLUMNS)
_ROW_GETTER = operator.itemgetter(*_COLUMNS)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    import orjson

    return orjson.dumps(value, default=str).decode()


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


def write_spans(store: Any, project_id: str, records: Iterable[SpanRecord]) -> int:
    """Map and store ``records`` in one transaction; the number of records given."""
    now = utcnow()
    rows = [span_row(r, project_id, now) for r in records]
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

    def clauses(self, project_id: str) -> list[Any]:
        """SQL conditions for these filters within ``project_id``."""
        c = spans.c
        where: list[Any] = [c.project_id == project_id]
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
    """Spans matching ``filters``, newest first."""
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
    a trace, so that pair orders every span exactly once); ``span_id`` keeps that one span only."""
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


def count_spans(conn: Connection, project_id: str) -> int:
    """How many spans ``project_id`` holds."""
    return int(conn.execute(select(func.count()).where(spans.c.project_id == project_id)).scalar_one())
