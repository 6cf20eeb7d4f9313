"""Sessions and users: a session's conversation in order with its feedback, and a user's traces,
feedback and cost.

Both start from the indexed ``(project_id, session_id)`` / ``(project_id, user_id)`` lookups to a
bounded set of trace ids; the turns are those traces' root spans, the totals sum every span of them,
and the feedback is the scores judged on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from loopstack.store._repository import ProjectRepository
from loopstack.store.tables import scores, spans

MAX_TRACES = 500
_IN_CHUNK = 500


@dataclass
class Turn:
    """One trace of a session or user: its root span, totals over all its spans, and its feedback."""

    trace_id: str
    name: str
    start_time: datetime
    duration_ms: float | None
    status_code: str
    input: str | None
    output: str | None
    session_id: str | None
    user_id: str | None
    spans: int = 0
    tokens: int = 0
    cost: float = 0.0
    feedback: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Conversation:
    """A session's or user's traces (oldest first for a session, newest first for a user)."""

    key: str
    turns: list[Turn]
    total_traces: int
    truncated: bool

    @property
    def cost(self) -> float:
        return sum(t.cost for t in self.turns)

    @property
    def tokens(self) -> int:
        return sum(t.tokens for t in self.turns)

    @property
    def feedback(self) -> list[dict[str, Any]]:
        return [f for t in self.turns for f in t.feedback]

    @property
    def sessions(self) -> list[str]:
        return sorted({t.session_id for t in self.turns if t.session_id})

    @property
    def errors(self) -> int:
        return sum(1 for t in self.turns if t.status_code == "ERROR")


class SessionRepository(ProjectRepository):
    """Read sessions and users of one project."""

    def session(self, session_id: str, *, limit: int = MAX_TRACES) -> Conversation:
        """The session's traces in the order they happened (the conversation)."""
        return self._conversation(
            spans.c.session_id == session_id, session_id, newest_first=False, limit=limit
        )

    def user(self, user_id: str, *, limit: int = MAX_TRACES) -> Conversation:
        """The user's traces, newest first."""
        return self._conversation(spans.c.user_id == user_id, user_id, newest_first=True, limit=limit)

    def _conversation(
        self, match: ColumnElement[bool], key: str, *, newest_first: bool, limit: int
    ) -> Conversation:
        pid = self.project_id
        with self.store.read() as conn:
            first = (
                select(spans.c.trace_id, func.min(spans.c.start_time).label("t"))
                .where(spans.c.project_id == pid, match)
                .group_by(spans.c.trace_id)
                .subquery()
            )
            total = int(conn.execute(select(func.count()).select_from(first)).scalar_one())
            order = first.c.t.desc() if newest_first else first.c.t.asc()
            ids = [r[0] for r in conn.execute(select(first.c.trace_id).order_by(order).limit(limit))]
            turns = self._turns(conn, ids)
        by_id = {t.trace_id: t for t in turns}
        ordered = [by_id[i] for i in ids if i in by_id]
        return Conversation(key, ordered, total, total > len(ids))

    def _turns(self, conn: Any, ids: Sequence[str]) -> list[Turn]:
        pid = self.project_id
        turns: dict[str, Turn] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            part = list(ids[i : i + _IN_CHUNK])
            rows = conn.execute(
                select(
                    spans.c.trace_id,
                    spans.c.parent_span_id,
                    spans.c.name,
                    spans.c.start_time,
                    spans.c.duration_ms,
                    spans.c.status_code,
                    spans.c.input,
                    spans.c.output,
                    spans.c.session_id,
                    spans.c.user_id,
                    spans.c.input_tokens,
                    spans.c.output_tokens,
                    spans.c.cost,
                ).where(spans.c.project_id == pid, spans.c.trace_id.in_(part))
            ).all()
            totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
            for r in rows:
                acc = totals[r.trace_id]
                acc[0] += 1
                acc[1] += (r.input_tokens or 0) + (r.output_tokens or 0)
                acc[2] += r.cost or 0.0
                if r.parent_span_id is None or r.trace_id not in turns:  # the root wins
                    turns[r.trace_id] = Turn(
                        r.trace_id,
                        r.name,
                        r.start_time,
                        r.duration_ms,
                        r.status_code,
                        r.input,
                        r.output,
                        r.session_id,
                        r.user_id,
                    )
            for trace_id, (n, tokens, cost) in totals.items():
                t = turns[trace_id]
                t.spans, t.tokens, t.cost = int(n), int(tokens), float(cost)
            for s in conn.execute(
                select(
                    scores.c.trace_id,
                    scores.c.name,
                    scores.c.value,
                    scores.c.string_value,
                    scores.c.source,
                    scores.c.author,
                    scores.c.comment,
                    scores.c.created_at,
                )
                .where(scores.c.project_id == pid, scores.c.trace_id.in_(part))
                .order_by(scores.c.created_at)
            ):
                if s.trace_id in turns:
                    turns[s.trace_id].feedback.append(dict(s._mapping))
        return list(turns.values())
