"""Curation queries: production model-call spans narrowed by filters, with their feedback.

``flywheel.curate()`` turns what these return into dataset items; the SQL lives here. Filters apply in a
fixed order and ``step_counts`` reports how many spans remain after each one (``--dry-run``).

Feedback is a score from a feedback source (``user-feedback`` or ``human``, as the trace list counts
it) on the span itself or on its whole trace (a score without a span id): a boolean score is a
thumbs-up/accept (value 1) or thumbs-down/reject (value 0), a text score is a correction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from loopstack.errors import InvalidInput
from loopstack.store._repository import ProjectRepository
from loopstack.store.environments import environment_clause
from loopstack.store.scores import FEEDBACK_SOURCES
from loopstack.store.tables import scores, spans

FeedbackFilter = Literal["positive", "negative", "correction", "any", "none"]
FEEDBACK_FILTERS: tuple[str, ...] = ("positive", "negative", "correction", "any", "none")


@dataclass(frozen=True)
class SpanCriteria:
    """Which spans to curate; ``None`` means no filter. Only model calls (spans with a model) count."""

    start: datetime | None = None
    end: datetime | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    model: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    text: str | None = None
    """Substring of the span's input or output."""
    feedback: FeedbackFilter | None = None
    """``positive``: accepted/thumbs-up and never rejected; ``negative``: rejected/thumbs-down;
    ``correction``: has a correction; ``any``: any feedback; ``none``: no feedback at all."""
    score_name: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    environment: str | None = None
    """None: every environment but ``eval`` (production traffic); ``all``; or one environment."""
    status: str | None = None
    """``error``: failed calls only; ``ok``: calls that did not fail."""


@dataclass(frozen=True)
class SpanFeedback:
    """The feedback on one span (its own, else its trace's)."""

    verdict: bool | None = None
    """True: accepted and never rejected; False: rejected; None: no boolean feedback."""
    correction: str | None = None
    """The newest correction text."""


def _feedback_on_span(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(1)
        .where(
            scores.c.project_id == spans.c.project_id,
            scores.c.trace_id == spans.c.trace_id,
            or_(scores.c.span_id == spans.c.span_id, scores.c.span_id.is_(None)),
            *conds,
        )
        .correlate(spans)
    )


def _feedback(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return _feedback_on_span(scores.c.source.in_(FEEDBACK_SOURCES), *conds)


_BOOLEAN = scores.c.data_type == "boolean"


def _steps(project_id: str, c: SpanCriteria) -> list[tuple[str, list[ColumnElement[bool]]]]:
    """``(description, conditions)`` per filter that is set, in the order they apply."""
    base: list[ColumnElement[bool]] = [spans.c.project_id == project_id, spans.c.model.is_not(None)]
    env = environment_clause(spans.c.environment, c.environment)
    if env is not None:
        base.append(env)
    where = "production" if c.environment is None else f"environment {c.environment}"
    window = ""
    if c.start is not None:
        base.append(spans.c.start_time >= c.start)
        window += f" from {c.start.isoformat()}"
    if c.end is not None:
        base.append(spans.c.start_time < c.end)
        window += f" until {c.end.isoformat()}"
    steps: list[tuple[str, list[ColumnElement[bool]]]] = [(f"model calls ({where}){window}", base)]
    if c.prompt_name:
        conds = [spans.c.prompt_name == c.prompt_name]
        label = f"prompt {c.prompt_name}"
        if c.prompt_version is not None:
            conds.append(spans.c.prompt_version == c.prompt_version)
            label += f"@{c.prompt_version}"
        steps.append((label, conds))
    if c.model:
        steps.append((f"model {c.model}", [spans.c.model == c.model]))
    if c.session_id:
        steps.append((f"session {c.session_id}", [spans.c.session_id == c.session_id]))
    if c.user_id:
        steps.append((f"user {c.user_id}", [spans.c.user_id == c.user_id]))
    if c.status == "error":
        steps.append(("status error", [spans.c.status_code == "ERROR"]))
    elif c.status == "ok":
        steps.append(("status ok", [spans.c.status_code != "ERROR"]))
    if c.text:
        steps.append(
            (
                f"text {c.text!r}",
                [
                    or_(
                        spans.c.input.icontains(c.text, autoescape=True),
                        spans.c.output.icontains(c.text, autoescape=True),
                    )
                ],
            )
        )
    if c.feedback is not None:
        steps.append((f"feedback {c.feedback}", [_feedback_clause(c.feedback)]))
    if c.score_name or c.score_min is not None or c.score_max is not None:
        if not c.score_name:
            raise InvalidInput("a score range needs the score's name (--score NAME)")
        sc: list[ColumnElement[bool]] = [scores.c.name == c.score_name, scores.c.value.is_not(None)]
        if c.score_min is not None:
            sc.append(scores.c.value >= c.score_min)
        if c.score_max is not None:
            sc.append(scores.c.value <= c.score_max)
        lo = "" if c.score_min is None else f"{c.score_min:g} ≤ "
        hi = "" if c.score_max is None else f" ≤ {c.score_max:g}"
        steps.append((f"score {lo}{c.score_name}{hi}", [_feedback_on_span(*sc)]))
    return steps


def _feedback_clause(kind: str) -> ColumnElement[bool]:
    negative = _feedback(_BOOLEAN, scores.c.value <= 0)
    if kind == "positive":
        return and_(_feedback(_BOOLEAN, scores.c.value > 0), ~negative)
    if kind == "negative":
        return negative
    if kind == "correction":
        return _feedback(scores.c.data_type == "text", scores.c.string_value.is_not(None))
    if kind == "any":
        return _feedback()
    if kind == "none":
        return ~_feedback()
    raise InvalidInput(f"feedback filter {kind!r}: use one of {', '.join(FEEDBACK_FILTERS)}")


_SPAN_COLUMNS = (
    spans.c.id,
    spans.c.trace_id,
    spans.c.span_id,
    spans.c.name,
    spans.c.start_time,
    spans.c.model,
    spans.c.prompt_name,
    spans.c.prompt_version,
    spans.c.session_id,
    spans.c.user_id,
    spans.c.input,
    spans.c.output,
    spans.c.attributes,
)


class CurationRepository(ProjectRepository):
    """Read the spans a curation filter selects, and their feedback, in one project."""

    def step_counts(self, criteria: SpanCriteria) -> list[tuple[str, int]]:
        """How many spans remain after each filter, in order (the first row: all model calls in range)."""
        out: list[tuple[str, int]] = []
        conds: list[ColumnElement[bool]] = []
        with self.store.read() as conn:
            for label, step in _steps(self.project_id, criteria):
                conds = [*conds, *step]
                n = conn.execute(select(func.count()).select_from(spans).where(*conds)).scalar_one()
                out.append((label, int(n)))
        return out

    def count(self, criteria: SpanCriteria, *, cap: int = 10_000) -> int:
        """How many spans pass every filter, counting at most ``cap + 1`` (a page must stay cheap)."""
        conds = [cond for _, step in _steps(self.project_id, criteria) for cond in step]
        capped = select(spans.c.id).where(*conds).limit(cap + 1).subquery()
        with self.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(capped)).scalar_one())

    def spans(self, criteria: SpanCriteria, *, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """The spans passing every filter, oldest first, each with its ``feedback`` (a SpanFeedback)."""
        conds = [cond for _, step in _steps(self.project_id, criteria) for cond in step]
        after: tuple[datetime, str] | None = None
        while True:
            query = select(*_SPAN_COLUMNS).where(*conds)
            if after is not None:
                query = query.where(
                    or_(
                        spans.c.start_time > after[0],
                        and_(spans.c.start_time == after[0], spans.c.id > after[1]),
                    )
                )
            with self.store.read() as conn:
                rows = [
                    dict(r._mapping)
                    for r in conn.execute(query.order_by(spans.c.start_time, spans.c.id).limit(batch))
                ]
                found = self._feedback(conn, rows)
            for row in rows:
                row["feedback"] = found.get((row["trace_id"], row["span_id"]), SpanFeedback())
                yield row
            if len(rows) < batch:
                return
            after = (rows[-1]["start_time"], rows[-1]["id"])

    def _feedback(self, conn: Any, rows: list[dict[str, Any]]) -> dict[tuple[str, str], SpanFeedback]:
        if not rows:
            return {}
        traces = sorted({r["trace_id"] for r in rows})
        by_trace: dict[str, list[Any]] = {}
        for start in range(0, len(traces), 500):
            found = conn.execute(
                select(
                    scores.c.trace_id,
                    scores.c.span_id,
                    scores.c.data_type,
                    scores.c.value,
                    scores.c.string_value,
                )
                .where(
                    scores.c.project_id == self.project_id,
                    scores.c.trace_id.in_(traces[start : start + 500]),
                    scores.c.source.in_(FEEDBACK_SOURCES),
                    scores.c.data_type.in_(("boolean", "text")),
                )
                .order_by(scores.c.created_at.desc(), scores.c.id.desc())
            ).all()
            for r in found:
                by_trace.setdefault(r.trace_id, []).append(r)
        out: dict[tuple[str, str], SpanFeedback] = {}
        for row in rows:
            mine = [s for s in by_trace.get(row["trace_id"], []) if s.span_id in (row["span_id"], None)]
            if not mine:
                continue
            booleans = [s.value for s in mine if s.data_type == "boolean" and s.value is not None]
            verdict = None if not booleans else all(v > 0 for v in booleans)
            texts = [s for s in mine if s.data_type == "text" and s.string_value]
            # newest first; the span's own correction wins over one on the whole trace
            own = [s for s in texts if s.span_id == row["span_id"]]
            chosen = (own or texts)[0].string_value if texts else None
            out[(row["trace_id"], row["span_id"])] = SpanFeedback(verdict=verdict, correction=chosen)
        return out
