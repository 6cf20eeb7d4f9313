"""Scores repository for traces and spans: user feedback and API judgements, written and listed.

One call stores any kind of judgement: a thumbs up/down or accept/reject (boolean), a number, a
category, or a free-text correction. Eval run scores are written by the runs repository.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from loopstack.errors import InvalidInput
from loopstack.store._repository import ProjectRepository
from loopstack.store._types import new_id, utcnow
from loopstack.store.tables import scores

DATA_TYPES = ("numeric", "boolean", "categorical", "text")
SOURCES = ("human", "llm", "code", "api", "user-feedback")
#: The sources whose scores count as feedback on production traffic (dashboard, trace list).
FEEDBACK_SOURCES = ("user-feedback", "human")
_TRUE = {"up", "thumbs_up", "accept", "accepted", "true", "yes", "pass", "good", "1"}
_FALSE = {"down", "thumbs_down", "reject", "rejected", "false", "no", "fail", "bad", "0"}
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")


def _value(
    name: str, value: bool | float | int | str, data_type: str | None
) -> tuple[str, float | None, str | None]:
    """(data_type, numeric value, string value) for what a client sent."""
    if data_type is not None and data_type not in DATA_TYPES:
        raise InvalidInput(
            f"score {name!r}: data_type must be one of {', '.join(DATA_TYPES)}, not {data_type!r}"
        )
    if isinstance(value, bool):
        if data_type not in (None, "boolean"):
            raise InvalidInput(f"score {name!r}: a true/false value needs data_type boolean")
        return "boolean", 1.0 if value else 0.0, None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInput(f"score {name!r}: value must be a finite number")
        if data_type == "boolean":
            if value not in (0, 1):
                raise InvalidInput(f"score {name!r}: a boolean score is 0 or 1, not {value}")
            return "boolean", float(value), None
        if data_type in ("categorical", "text"):
            return data_type, None, str(value)
        return "numeric", float(value), None
    if not isinstance(value, str):
        raise InvalidInput(f"score {name!r}: value must be a number, true/false or a string")
    if data_type == "boolean" or (data_type is None and value.strip().lower() in _TRUE | _FALSE):
        word = value.strip().lower()
        if word in _TRUE:
            return "boolean", 1.0, value
        if word in _FALSE:
            return "boolean", 0.0, value
        raise InvalidInput(
            f"score {name!r}: {value!r} is not a boolean (use up/down, accept/reject, true/false)"
        )
    if data_type == "numeric":
        try:
            return "numeric", float(value), None
        except ValueError:
            raise InvalidInput(f"score {name!r}: {value!r} is not a number") from None
    if len(value) > 100_000:
        raise InvalidInput(f"score {name!r}: a text value is limited to 100000 characters")
    return data_type or "categorical", None, value


@dataclass(frozen=True)
class ScoreInput:
    """A judgement on a trace (and optionally one of its spans)."""

    trace_id: str
    name: str
    value: bool | float | int | str
    span_id: str | None = None
    data_type: str | None = None
    source: str = "api"
    author: str | None = None
    comment: str | None = None
    metadata: dict[str, Any] | None = None


_COLUMNS = (
    scores.c.id,
    scores.c.target_type,
    scores.c.trace_id,
    scores.c.span_id,
    scores.c.run_id,
    scores.c.run_item_id,
    scores.c.name,
    scores.c.data_type,
    scores.c.value,
    scores.c.string_value,
    scores.c.source,
    scores.c.author,
    scores.c.comment,
    scores.c.metadata,
    scores.c.created_at,
)


class ScoreRepository(ProjectRepository):
    """Write and list the scores on traces and spans of one project."""

    def add_score(self, score: ScoreInput) -> dict[str, Any]:
        """Store ``score`` in this project and return the stored row.

        The trace need not be stored yet: feedback often arrives before the app's spans are exported.
        """
        trace_id = score.trace_id.strip().lower()
        span_id = score.span_id.strip().lower() if score.span_id else None
        if not _TRACE_ID.match(trace_id):
            raise InvalidInput(f"trace_id must be 32 hex characters, not {score.trace_id!r}")
        if span_id is not None and not _SPAN_ID.match(span_id):
            raise InvalidInput(f"span_id must be 16 hex characters, not {score.span_id!r}")
        name = score.name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("score name must be 1 to 200 characters")
        if score.source not in SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(SOURCES)}, not {score.source!r}")
        data_type, value, string_value = _value(name, score.value, score.data_type)
        row = {
            "id": new_id(),
            "project_id": self.project_id,
            "target_type": "span" if span_id else "trace",
            "trace_id": trace_id,
            "span_id": span_id,
            "name": name,
            "data_type": data_type,
            "value": value,
            "string_value": string_value,
            "source": score.source,
            "author": score.author,
            "comment": score.comment,
            "metadata": score.metadata,
            "created_at": utcnow(),
        }
        with self.store.write() as conn:
            conn.execute(scores.insert().values(**row))
        return row

    def list_scores(
        self,
        *,
        trace_id: str | None = None,
        span_id: str | None = None,
        name: str | None = None,
        source: str | None = None,
        data_type: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Scores of this project matching the filters, newest first."""
        where: list[Any] = [scores.c.project_id == self.project_id]
        for column, wanted in (
            (scores.c.trace_id, trace_id),
            (scores.c.span_id, span_id),
            (scores.c.name, name),
            (scores.c.source, source),
            (scores.c.data_type, data_type),
        ):
            if wanted is not None:
                where.append(column == wanted)
        if start is not None:
            where.append(scores.c.created_at >= start)
        if end is not None:
            where.append(scores.c.created_at < end)
        stmt = (
            select(*_COLUMNS)
            .where(and_(*where))
            .order_by(scores.c.created_at.desc(), scores.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def run_scores(self, run_id: str, name: str, *, source: str | None = None) -> list[dict[str, Any]]:
        """Every score called ``name`` on the items of run ``run_id`` (optionally of one ``source``),
        with its ``run_item_id`` and ``author``: what judge calibration pairs with the judge's scores."""
        where: list[Any] = [
            scores.c.project_id == self.project_id,
            scores.c.run_id == run_id,
            scores.c.target_type == "run_item",
            scores.c.name == name,
        ]
        if source is not None:
            where.append(scores.c.source == source)
        stmt = select(*_COLUMNS).where(and_(*where)).order_by(scores.c.created_at)
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
