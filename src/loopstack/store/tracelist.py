"""The trace list of the UI (and ``loopstack queue add --filter``): filtered and keyset-paginated.

Callers use ``SpanRepository.trace_page`` and ``SpanRepository.filter_options``; the functions here
take the connection that repository opens.

A trace is listed by its root span, and only production traffic unless ``environment`` says otherwise
(eval runs are kept out by default, see ``store.environments``). Filters on model, prompt version,
status and text match any span of the trace; feedback and score filters match any score on it.
Pagination is keyset on ``(start_time, id)`` so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, case, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from loopstack._inputs import parse_int, parse_time
from loopstack.errors import InvalidInput
from loopstack.store.environments import EVAL, environment_clause
from loopstack.store.scores import FEEDBACK_SOURCES
from loopstack.store.tables import scores, spans

PAGE_SIZE = 50
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class TraceFilters:
    """What the trace list is narrowed to; each field is one query-string parameter."""

    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    prompt: str | None = None  # "name" or "name@version"
    session: str | None = None
    user: str | None = None
    status: str | None = None  # "error" | "ok"
    negative: bool = False
    score_name: str | None = None
    score_below: float | None = None
    text: str | None = None
    environment: str | None = None  # None: all but eval; "eval"; "all"; or one deployment environment


@dataclass
class TraceRow:
    """One line of the trace list: the root span plus whole-trace totals."""

    id: str
    trace_id: str
    name: str
    start_time: datetime
    duration_ms: float | None
    status_code: str
    session_id: str | None
    user_id: str | None
    spans: int = 1
    models: str = ""
    tokens: int = 0
    cost: float = 0.0
    errors: int = 0
    feedback: int = 0
    negative: int = 0


def encode_cursor(start_time: datetime, row_id: str) -> str:
    raw = f"{start_time.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, row_id = raw.split("|", 1)
        return parse_time(stamp, "cursor", assume_utc=False), row_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"invalid page cursor {cursor!r}: open the list from its first page") from None


def _score_match(project_id: str, *conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(1)
        .where(scores.c.project_id == project_id, scores.c.trace_id == spans.c.trace_id, *conds)
        .correlate(spans)
    )


def _filters(project_id: str, f: TraceFilters) -> list[ColumnElement[bool]]:
    s2 = spans.alias("s2")
    conds: list[ColumnElement[bool]] = [spans.c.project_id == project_id, spans.c.parent_span_id.is_(None)]
    if f.session or f.user:  # selective: their own index finds the few rows, then a small sort
        if f.start is not None:
            conds.append(spans.c.start_time >= f.start)
        if f.end is not None:
            conds.append(spans.c.start_time < f.end)
    else:
        # Bound start_time on both sides so that, even without planner statistics, the database walks
        # the (project_id, start_time) index newest-first and stops after one page instead of sorting.
        conds.append(spans.c.start_time >= (f.start or _EARLIEST))
        conds.append(spans.c.start_time < (f.end or _LATEST))
    env = environment_clause(spans.c.environment, f.environment)
    if env is not None:
        conds.append(env)
    if f.session:
        conds.append(spans.c.session_id == f.session)
    if f.user:
        conds.append(spans.c.user_id == f.user)

    # Inside the correlated EXISTS, the trace is found by (project_id, trace_id). The `|| ''` and `+ 0`
    # keep a planner without statistics from walking the model or prompt index instead, for every row.
    def any_span(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists(
            select(1)
            .select_from(s2)
            .where(s2.c.project_id == project_id, s2.c.trace_id == spans.c.trace_id, *where)
            .correlate(spans)
        )

    # Model, prompt version and error match ONE span together ("errors of this model"), in one lookup.
    one_span: list[ColumnElement[bool]] = []
    if f.model:
        one_span.append(s2.c.model.concat("") == f.model)
    if f.prompt:
        name, _, version = f.prompt.partition("@")
        one_span.append(s2.c.prompt_name.concat("") == name)
        if version:
            try:
                one_span.append(s2.c.prompt_version + 0 == parse_int(version, "prompt version"))
            except ValueError as exc:
                raise InvalidInput(f"prompt filter {f.prompt!r}: {exc}") from None
    if f.status == "error":
        one_span.append(s2.c.status_code == "ERROR")
    if one_span:
        conds.append(any_span(*one_span))
    if f.status == "ok":
        conds.append(spans.c.status_code != "ERROR")
        conds.append(~any_span(s2.c.status_code == "ERROR"))
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(
            any_span(
                or_(
                    s2.c.input.like(pattern, escape="\\"),
                    s2.c.output.like(pattern, escape="\\"),
                    s2.c.name.like(pattern, escape="\\"),
                )
            )
        )
    if f.negative:
        conds.append(_score_match(project_id, scores.c.source.in_(FEEDBACK_SOURCES), scores.c.value <= 0))
    if f.score_below is not None:
        sc = [scores.c.value < f.score_below]
        if f.score_name:
            sc.append(scores.c.name == f.score_name)
        conds.append(_score_match(project_id, *sc))
    return conds


def trace_page(
    conn: Connection, project_id: str, f: TraceFilters, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[TraceRow], str | None]:
    """One page of traces, newest first, and the cursor of the next page (``None`` at the end)."""
    conds = _filters(project_id, f)
    if cursor:
        c_time, c_id = decode_cursor(cursor)
        conds.append(or_(spans.c.start_time < c_time, and_(spans.c.start_time == c_time, spans.c.id < c_id)))
    query = (
        select(
            spans.c.id,
            spans.c.trace_id,
            spans.c.name,
            spans.c.start_time,
            spans.c.duration_ms,
            spans.c.status_code,
            spans.c.session_id,
            spans.c.user_id,
        )
        .where(*conds)
        .order_by(spans.c.start_time.desc(), spans.c.id.desc())
        .limit(limit + 1)
    )
    found = conn.execute(query).all()
    page = [TraceRow(*r) for r in found[:limit]]
    _add_totals(conn, project_id, page)
    next_cursor = encode_cursor(page[-1].start_time, page[-1].id) if len(found) > limit else None
    return page, next_cursor


def _add_totals(conn: Connection, project_id: str, page: list[TraceRow]) -> None:
    if not page:
        return
    by_trace = {r.trace_id: r for r in page}
    ids = list(by_trace)
    rows = conn.execute(
        select(
            spans.c.trace_id,
            func.count(),
            func.coalesce(func.sum(spans.c.input_tokens), 0)
            + func.coalesce(func.sum(spans.c.output_tokens), 0),
            func.coalesce(func.sum(spans.c.cost), 0.0),
            func.sum(case((spans.c.status_code == "ERROR", 1), else_=0)),
        )
        .where(spans.c.project_id == project_id, spans.c.trace_id.in_(ids))
        .group_by(spans.c.trace_id)
    )
    for tid, n, tokens, cost, errs in rows:
        r = by_trace[tid]
        r.spans, r.tokens, r.cost, r.errors = int(n), int(tokens or 0), float(cost or 0), int(errs or 0)
    models: dict[str, set[str]] = {}
    for tid, model in conn.execute(
        select(spans.c.trace_id, spans.c.model)
        .where(spans.c.project_id == project_id, spans.c.trace_id.in_(ids), spans.c.model.is_not(None))
        .distinct()
    ):
        models.setdefault(tid, set()).add(str(model))
    for tid, names in models.items():
        by_trace[tid].models = ", ".join(sorted(names))
    for tid, n, neg in conn.execute(
        select(scores.c.trace_id, func.count(), func.sum(case((scores.c.value <= 0, 1), else_=0)))
        .where(
            scores.c.project_id == project_id,
            scores.c.trace_id.in_(ids),
            scores.c.source.in_(FEEDBACK_SOURCES),
        )
        .group_by(scores.c.trace_id)
    ):
        by_trace[tid].feedback, by_trace[tid].negative = int(n), int(neg or 0)


def filter_options(conn: Connection, project_id: str) -> dict[str, list[str]]:
    """Models, prompt versions and environments seen in the most recent spans, to suggest in the filters."""
    recent = (
        select(spans.c.model, spans.c.prompt_name, spans.c.prompt_version, spans.c.environment)
        .where(
            spans.c.project_id == project_id,
            spans.c.start_time >= _EARLIEST,
            spans.c.start_time < _LATEST,
        )
        .order_by(spans.c.start_time.desc())
        .limit(5000)
        .subquery()
    )
    rows = conn.execute(select(recent).distinct()).all()
    models = {str(m) for m, _, _, _ in rows if m}
    prompts = {f"{n}@{v}" if v is not None else str(n) for _, n, v, _ in rows if n}
    environments = {str(e) for _, _, _, e in rows if e and e != EVAL}
    return {"models": sorted(models), "prompts": sorted(prompts), "environments": sorted(environments)}
